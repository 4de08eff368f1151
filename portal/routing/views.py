"""Pages of segment rules and routing settings."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("routing", __name__, url_prefix="/network")
