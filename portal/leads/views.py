"""Pages of leads: the vendor's lead list and the partner's inbox."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.db import utcnow
from portal.errors import NotFound, ValidationFailed
from portal.leads import duplicates, inbox, intake, services
from portal.leads.forms import LeadForm
from portal.leads.inbox_forms import ExtendForm, ReassignForm, RecallForm
from portal.leads.lifecycle import LeadState
from portal.money import format_money
from portal.partners import product_services
from portal.routing import lead_routing
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found
from portal.web.timefmt import time_left

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
    counts = services.lead_counts_by_state()
    return render_template(
        "leads/index.html",
        page=page,
        state=state,
        states=list(LeadState),
        counts=counts,
        open_duplicates=duplicates.open_flag_count(),
        unroutable=counts[LeadState.UNROUTABLE.value],
    )


@bp.route("/leads/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_LEADS)
def new() -> Any:
    form = LeadForm()
    form.product.choices = [SelectChoice("", "—")] + [
        SelectChoice(p.code, f"{p.name} ({p.code})") for p in product_services.product_choices()
    ]
    if form.validate_on_submit():
        try:
            taken = intake.take_in(form.lead_data(), actor=current_user, channel="the form")
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            lead = taken.lead
            flash(f"{lead.company_name} taken in: {lead.state}, {lead.score} points.", "success")
            return redirect(url_for("leads.detail", lead_id=lead.id))
    return render_template("leads/new.html", form=form), 400 if form.errors else 200


@bp.route("/leads/<int:lead_id>")
@requires(Permission.VIEW_LEADS)
def detail(lead_id: int) -> Any:
    try:
        lead = intake.get_lead(lead_id)
    except NotFound:
        return not_found()
    open_offer = next((o for o in lead.offers if o.state == "open"), None)
    reassign = ReassignForm(formdata=None)
    if open_offer is not None and current_user.can(Permission.MANAGE_LEADS):
        reassign.set_partners(lead_routing.partners_for(lead))
    now = utcnow()
    return render_template(
        "leads/detail.html",
        lead=lead,
        flag=duplicates.flag_for(lead),
        money=format_money,
        routings=lead_routing.routing_history(lead),
        open_offer=open_offer,
        left=time_left(open_offer.due_at, now) if open_offer else None,
        holder=inbox.holder(lead),
        stale=inbox.is_stale(lead, now, inbox.stale_after()),
        recall_form=RecallForm(formdata=None),
        extend_form=ExtendForm(formdata=None),
        reassign_form=reassign,
    )
