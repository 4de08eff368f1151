"""Pages of product lines and products."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("products", __name__, url_prefix="/network/products")
