"""The partner's pages: the inbox of offers to answer, and the leads it accepted."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.db import utcnow
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.leads import inbox as inbox_service
from portal.leads import offers
from portal.leads.inbox_forms import AcceptForm, LoseForm, QualifyForm, RejectForm, WinForm
from portal.money import format_money
from portal.page_versions import partner_key
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found
from portal.web.kept_pages import fresh_until, kept
from portal.web.kept_values import per_tenant
from portal.web.timefmt import time_left

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


def _reject_form(formdata: Any = None) -> RejectForm:
    form = RejectForm(formdata=formdata)
    form.set_reasons(per_tenant("rejection_reasons", offers.rejection_reasons))
    return form


def _partner_offers() -> list[str]:
    return [partner_key(current_user.partner_id)]


@bp.route("/")
@requires(Permission.WORK_INBOX)
@kept(params=("page",), scopes=_partner_offers)
def index() -> Any:
    now = utcnow()
    page = inbox_service.inbox(
        current_user.partner_id,
        request.args.get("page", 1, type=int) or 1,
        current_app.config["PAGE_SIZE"],
        now,
    )
    # The time left on each offer is written for now; the nearest deadline changes the page.
    fresh_until(min((row.due_at for row in page.items if row.due_at > now), default=None))
    return render_template(
        "leads/inbox.html",
        page=page,
        rows=page.items,
        now=now,
        time_left=time_left,
        reject_form=_reject_form(),
        money=format_money,
    )


def _offer_page(offer_id: int, reject_form: RejectForm | None = None) -> Any:
    try:
        offer = offers.partner_offer(offer_id, current_user.partner_id)
    except NotFound:
        return not_found()
    reject_form = reject_form or _reject_form()
    page = render_template(
        "leads/offer.html",
        offer=offer,
        lead=offer.lead,
        left=time_left(offer.due_at, utcnow()),
        accept_form=AcceptForm(),
        reject_form=reject_form,
        money=format_money,
    )
    if offer.state == "open":
        # Once the page is made: the commit ends the transaction the page reads from.
        offers.mark_opened(offer, current_user)
    return page, 400 if reject_form.errors else 200


@bp.route("/offers/<int:offer_id>")
@requires(Permission.WORK_INBOX)
def offer(offer_id: int) -> Any:
    return _offer_page(offer_id)


@bp.route("/offers/<int:offer_id>/accept", methods=["POST"])
@requires(Permission.WORK_INBOX)
def accept(offer_id: int) -> Any:
    if not AcceptForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
        return redirect(url_for("inbox.offer", offer_id=offer_id))
    try:
        answered = offers.accept(offer_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "warning")
        return redirect(url_for("inbox.index"))
    flash(f"You accepted {answered.lead.company_name}: the contact details are yours.", "success")
    return redirect(url_for("inbox.held", lead_id=answered.lead_id))


@bp.route("/offers/<int:offer_id>/reject", methods=["POST"])
@requires(Permission.WORK_INBOX)
def reject(offer_id: int) -> Any:
    form = _reject_form(request.form)
    if not form.validate_on_submit():
        return _offer_page(offer_id, form)
    try:
        answered = offers.reject(
            offer_id, form.reason_code.data, form.comment.data, actor=current_user,
            reasons=form.reasons,
        )  # fmt: skip
    except NotFound:
        return not_found()
    except ValidationFailed as exc:
        form.attach_errors(exc)
        return _offer_page(offer_id, form)
    except Conflict as exc:
        flash(str(exc), "warning")
        return redirect(url_for("inbox.index"))
    flash(f"You rejected {answered.lead.company_name}. Thank you for the reason.", "success")
    return redirect(url_for("inbox.index"))


@bp.route("/answer", methods=["POST"])
@requires(Permission.WORK_INBOX)
def answer_many() -> Any:
    form = _reject_form(request.form)
    if not form.validate_on_submit():
        flash("The form expired; try again.", "danger")
        return redirect(url_for("inbox.index"))
    ids = [int(v) for v in request.form.getlist("offer_ids") if v.isdigit()]
    accepting = request.form.get("decision") == "accept"
    try:
        results = offers.answer_many(
            ids, accepting, form.reason_code.data, form.comment.data, actor=current_user,
            reasons=form.reasons,
        )  # fmt: skip
    except ValidationFailed as exc:
        for message in exc.errors.values():
            flash(message, "danger")
        return redirect(url_for("inbox.index"))
    done = [r for r in results if r.ok]
    verb = "accepted" if accepting else "rejected"
    if done:
        flash(f"{len(done)} lead{'s' if len(done) != 1 else ''} {verb}.", "success")
    for result in results:
        if not result.ok:
            flash(f"Offer {result.offer_id}: {result.message}", "warning")
    return redirect(url_for("inbox.leads" if accepting and done else "inbox.index"))


# Leads the partner accepted -----------------------------------------------------------


@bp.route("/leads/")
@requires(Permission.WORK_INBOX)
def leads() -> Any:
    state = request.args.get("state") or None
    if state not in (None, "accepted", "sql", "won", "lost"):
        state = None
    pagination, rows = inbox_service.my_leads(
        current_user.partner_id,
        request.args.get("page", 1, type=int) or 1,
        current_app.config["PAGE_SIZE"],
        state,
    )
    return render_template(
        "leads/my_leads.html", page=pagination, rows=rows, state=state, money=format_money
    )


def _held_page(
    lead_id: int,
    qualify: QualifyForm | None = None,
    win: WinForm | None = None,
    lose: LoseForm | None = None,
) -> Any:
    try:
        lead, offer_ = offers.held_lead(lead_id, current_user.partner_id)
    except NotFound:
        return not_found()
    forms = {
        "qualify": qualify or QualifyForm(formdata=None),
        "win": win or WinForm(formdata=None),
        "lose": lose or LoseForm(formdata=None),
    }
    now = utcnow()
    page = render_template(
        "leads/held.html",
        lead=lead,
        offer=offer_,
        stale=inbox_service.is_stale(lead, now, inbox_service.stale_after()),
        history=inbox_service.partner_history(lead, current_user.partner_id),
        today=now.date().isoformat(),
        money=format_money,
        **forms,
    )
    return page, 400 if any(f.errors for f in forms.values()) else 200


@bp.route("/leads/<int:lead_id>")
@requires(Permission.WORK_INBOX)
def held(lead_id: int) -> Any:
    return _held_page(lead_id)


def _progress(lead_id: int, form: Any, step: Any, name: str, done: str) -> Any:
    if not form.validate_on_submit():
        return _held_page(lead_id, **{name: form})
    values = {key: form[key].data for key in form._fields if key != "csrf_token"}
    try:
        lead = step(lead_id, values, actor=current_user)
    except NotFound:
        return not_found()
    except ValidationFailed as exc:
        form.attach_errors(exc)
        return _held_page(lead_id, **{name: form})
    except Conflict as exc:
        flash(str(exc), "warning")
        return redirect(url_for("inbox.held", lead_id=lead_id))
    flash(f"{lead.company_name}: {done}.", "success")
    return redirect(url_for("inbox.held", lead_id=lead_id))


@bp.route("/leads/<int:lead_id>/qualify", methods=["POST"])
@requires(Permission.WORK_INBOX)
def qualify(lead_id: int) -> Any:
    return _progress(lead_id, QualifyForm(), offers.qualify, "qualify", "now an opportunity (SQL)")


@bp.route("/leads/<int:lead_id>/win", methods=["POST"])
@requires(Permission.WORK_INBOX)
def win(lead_id: int) -> Any:
    return _progress(lead_id, WinForm(), offers.win, "win", "won. Congratulations")


@bp.route("/leads/<int:lead_id>/lose", methods=["POST"])
@requires(Permission.WORK_INBOX)
def lose(lead_id: int) -> Any:
    return _progress(lead_id, LoseForm(), offers.lose, "lose", "marked as lost")
