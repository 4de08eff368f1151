"""Pages of the partner network."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request

from portal.partners import services
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission

bp = Blueprint("partners", __name__, url_prefix="/partners")


@bp.route("/")
@requires(Permission.VIEW_NETWORK)
def index() -> Any:
    page = services.partners_page(
        request.args.get("page", 1, type=int) or 1, current_app.config["PAGE_SIZE"]
    )
    return render_template("partners/index.html", page=page)
