"""Pages of the unroutable queue: why each lead has no partner, manual assignment, retry."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import Conflict, NotFound, ValidationFailed
from portal.leads.intake import get_lead
from portal.routing import lead_routing
from portal.routing.engine import Outcome
from portal.routing.forms import AssignForm, DirectSalesForm, RetryForm
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("unroutable", __name__, url_prefix="/leads/unroutable")


@bp.route("/")
@requires(Permission.VIEW_LEADS)
def index() -> Any:
    pagination, rows = lead_routing.unroutable_page(
        request.args.get("page", 1, type=int) or 1, current_app.config["PAGE_SIZE"]
    )
    return render_template(
        "routing/unroutable.html", page=pagination, rows=rows, retry_form=RetryForm()
    )


def _assign_page(
    lead_id: int, form: AssignForm | None = None, direct: DirectSalesForm | None = None
) -> Any:
    try:
        view = lead_routing.assign_view(lead_id)
    except NotFound:
        return not_found()
    form = form or AssignForm(formdata=None)
    form.set_partners(view.closest, view.others)
    direct = direct or DirectSalesForm(formdata=None)
    page = render_template(
        "routing/assign.html", view=view, form=form, direct=direct, retry_form=RetryForm()
    )
    return page, 400 if form.errors or direct.errors else 200


@bp.route("/<int:lead_id>")
@requires(Permission.VIEW_LEADS)
def lead(lead_id: int) -> Any:
    return _assign_page(lead_id)


def _act_on_lead(lead_id: int, form: Any, form_name: str, act: Any, done: Any) -> Any:
    """Submit one of the lead's forms: its errors shown beside its fields on the page, a
    refusal flashed, the queue shown again when it is done."""
    if not form.validate_on_submit():
        return _assign_page(lead_id, **{form_name: form})
    try:
        result = act()
    except NotFound:
        return not_found()
    except ValidationFailed as exc:
        form.attach_errors(exc)
        return _assign_page(lead_id, **{form_name: form})
    except Conflict as exc:
        flash(str(exc), "danger")
        return redirect(url_for("unroutable.index"))
    flash(done(result), "success")
    return redirect(url_for("unroutable.index"))


@bp.route("/<int:lead_id>/assign", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def assign(lead_id: int) -> Any:
    form = AssignForm()
    return _act_on_lead(
        lead_id, form, "form",
        lambda: lead_routing.assign(lead_id, form.partner_id.data, form.note.data,
                                    actor=current_user),
        lambda offer: f"Lead {lead_id} offered to {offer.partner.name}, assigned by hand.",
    )  # fmt: skip


@bp.route("/<int:lead_id>/direct-sales", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def direct_sales(lead_id: int) -> Any:
    form = DirectSalesForm()
    return _act_on_lead(
        lead_id, form, "direct",
        lambda: lead_routing.to_direct_sales(lead_id, form.note.data, actor=current_user),
        lambda lead: f"Lead {lead.id} ({lead.company_name}) handed to direct sales.",
    )  # fmt: skip


def _retried_message(results: list[Any]) -> str:
    placed = sum(1 for r in results if r.outcome != Outcome.UNROUTABLE)
    waiting = len(results) - placed
    if not results:
        return "No lead was waiting in the unroutable queue."
    return (
        f"Routed {len(results)} lead{'s' if len(results) != 1 else ''} again: {placed} found "
        f"a partner or the fallback, {waiting} still {'has' if waiting == 1 else 'have'} none."
    )


@bp.route("/<int:lead_id>/retry", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def retry(lead_id: int) -> Any:
    if not RetryForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
        return redirect(url_for("unroutable.index"))
    try:
        get_lead(lead_id)
    except NotFound:
        return not_found()
    results = lead_routing.retry([lead_id], actor=current_user)
    if results and results[0].outcome != Outcome.UNROUTABLE:
        flash(f"Lead {lead_id}: {results[0].summary}", "success")
    elif results:
        flash(f"Lead {lead_id} still has no eligible partner.", "warning")
    else:
        flash(f"Lead {lead_id} is no longer unroutable; nothing was changed.", "info")
    return redirect(url_for("unroutable.index"))


@bp.route("/retry", methods=["POST"])
@requires(Permission.MANAGE_LEADS)
def retry_all() -> Any:
    if not RetryForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
        return redirect(url_for("unroutable.index"))
    results = lead_routing.retry(None, actor=current_user)
    flash(_retried_message(results), "success")
    return redirect(url_for("unroutable.index"))
