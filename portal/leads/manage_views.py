"""A channel manager's actions on a lead's open offer (recall, extend, reassign) and the
list of stale accepted leads."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import Conflict, NotFound, ValidationFailed
from portal.leads import inbox, offers
from portal.leads.inbox_forms import ExtendForm, ReassignForm, RecallForm
from portal.leads.intake import get_lead
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("offer_actions", __name__)


def _back(lead_id: int) -> Any:
    return redirect(url_for("leads.detail", lead_id=lead_id) + "#current-offer")


def _act(lead_id: int, form: Any, action: Any, done: str) -> Any:
    """Run a manager's action on the lead's open offer; errors go back to the lead page."""
    try:
        get_lead(lead_id)
    except NotFound:  # another tenant's lead, or none
        return not_found()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return _back(lead_id)
    try:
        action(offers.open_offer_of(lead_id))
    except NotFound:
        return not_found()
    except ValidationFailed as exc:
        for message in exc.errors.values():
            flash(message, "danger")
        return _back(lead_id)
    except Conflict as exc:
        flash(str(exc), "warning")
        return _back(lead_id)
    flash(done, "success")
    return _back(lead_id)


@bp.route("/leads/<int:lead_id>/offer/recall", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def recall(lead_id: int) -> Any:
    form = RecallForm()
    return _act(
        lead_id,
        form,
        lambda offer: offers.recall(offer.id, form.reason.data, actor=current_user),
        "Offer recalled; routing offers the lead to the next partner.",
    )


@bp.route("/leads/<int:lead_id>/offer/extend", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def extend(lead_id: int) -> Any:
    form = ExtendForm()
    return _act(
        lead_id,
        form,
        lambda offer: offers.extend(
            offer.id, form.hours.data, form.reason.data, actor=current_user
        ),
        "Deadline moved.",
    )


@bp.route("/leads/<int:lead_id>/offer/reassign", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def reassign(lead_id: int) -> Any:
    form = ReassignForm()
    form.set_partners([])
    return _act(
        lead_id,
        form,
        lambda offer: offers.reassign(
            lead_id, form.partner_id.data, form.reason.data, actor=current_user
        ),
        "Lead reassigned.",
    )


@bp.route("/leads/stale/")
@requires(Permission.VIEW_LEADS)
def stale() -> Any:
    page = inbox.stale_leads(
        request.args.get("page", 1, type=int) or 1, current_app.config["PAGE_SIZE"]
    )
    return render_template(
        "leads/stale.html", page=page, holder=inbox.holder, after=inbox.stale_after()
    )
