"""Pages of leads: the vendor's lead list and the partner's inbox."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from portal.leads import services
from portal.leads.lifecycle import LeadState
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission

bp = Blueprint("leads", __name__)


@bp.route("/leads/")
@requires(Permission.VIEW_LEADS)
def index() -> Any:
    state = request.args.get("state") or None
    if state not in {s.value for s in LeadState}:
        state = None
    page = services.leads_page(
        request.args.get("page", 1, type=int) or 1, current_app.config["PAGE_SIZE"], state
    )
    return render_template(
        "leads/index.html",
        page=page,
        state=state,
        states=list(LeadState),
        counts=services.lead_counts_by_state(),
    )


@bp.route("/inbox/")
@requires(Permission.WORK_INBOX)
def inbox() -> Any:
    offers = services.open_offers_for_partner(current_user.partner_id)
    return render_template("leads/inbox.html", offers=offers)
