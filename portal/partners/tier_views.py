"""Pages of the tenant's partner tiers."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("tiers", __name__, url_prefix="/network/tiers")
