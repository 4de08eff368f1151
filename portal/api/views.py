"""JSON API endpoints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from portal.tenancy.policy import api_key

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.route("/tenant")
@api_key
def tenant() -> Any:
    """The tenant this key belongs to: a cheap way for an integration to check its key."""
    key = g.api_key
    return {
        "tenant": {"slug": key.tenant.slug, "name": key.tenant.name},
        "key": {"name": key.name, "prefix": key.prefix},
    }
