"""Pages of the rejection reason catalogue."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("rejection_reasons", __name__, url_prefix="/network/rejection-reasons")
