"""Pages of SLA policies."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sla", __name__, url_prefix="/network/sla-policies")
