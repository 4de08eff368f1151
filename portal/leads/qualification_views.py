"""Pages of qualification criteria: scoring rules, engagement rules, threshold, required fields."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("qualification", __name__, url_prefix="/network/qualification")
