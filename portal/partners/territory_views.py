"""Pages of territories."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("territories", __name__, url_prefix="/network/territories")
