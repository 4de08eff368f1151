"""The incentive plan page: the current plan, its example, its versions, and the edit form."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.db import utcnow
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.forms import PortalForm
from portal.incentives import services
from portal.incentives import statements as statements_service
from portal.incentives.forms import plan_form
from portal.money import format_money
from portal.scorecards.periods import MONTH, BadPeriod, Period, month_of, parse
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.downloads import csv_download
from portal.web.errors import not_found

bp = Blueprint("incentives", __name__, url_prefix="/incentives")


@bp.route("/plan", methods=["GET", "POST"])
@requires(Permission.REVIEW_PERFORMANCE)
def plan() -> Any:
    tiers = services.tiers()
    current = services.current_plan()
    status = 200
    if request.method == "POST":
        form = plan_form(tiers)
        if form.validate_on_submit():
            try:
                services.save_plan(form.values(), actor=current_user)
            except ValidationFailed as exc:
                form.attach_errors(exc)
            except Conflict as exc:
                flash(str(exc), "warning")
                return redirect(url_for("incentives.plan"))
            else:
                flash("Plan saved as a new version. Statements from now on use it.", "success")
                return redirect(url_for("incentives.plan"))
        status = 400
    else:
        form = plan_form(tiers, data=services.form_values(current, tiers))
    return render_template(
        "incentives/plan.html",
        form=form,
        tiers=tiers,
        current=current,
        example=services.example(current) if current else None,
        versions=services.history(),
        money=format_money,
    ), status


def _month() -> tuple[Period, str | None]:
    """The month the page asks for, or this month and why the asked one was refused."""
    today = utcnow().date()
    try:
        period = parse(request.args.get("period"), today)
    except BadPeriod as exc:
        return month_of(today), str(exc)
    if period.kind != MONTH:
        return month_of(today), "Statements are for a month, for example 2026-11."
    return period, None


@bp.get("/statements")
@requires(Permission.REVIEW_PERFORMANCE)
def statements() -> Any:
    period, period_error = _month()
    rows = statements_service.for_period(period.key)
    return render_template(
        "incentives/statements.html",
        period=period,
        period_error=period_error,
        rows=rows,
        plan=services.current_plan(),
        money=format_money,
    )


@bp.post("/statements/work-out")
@requires(Permission.REVIEW_PERFORMANCE)
def work_out() -> Any:
    period, _ = _month()
    if not PortalForm().validate_on_submit():
        flash("The form expired; try again.", "warning")
    else:
        try:
            done = statements_service.work_out(period)
        except Conflict as exc:
            flash(str(exc), "warning")
        else:
            flash(
                f"{done.drafted} draft statements worked out for {period.label}; "
                f"{done.locked} approved or paid left as they were.",
                "success",
            )
    return redirect(url_for("incentives.statements", period=period.key))


@bp.get("/statements/<int:statement_id>")
@requires(Permission.REVIEW_PERFORMANCE)
def statement(statement_id: int) -> Any:
    try:
        row = statements_service.get(statement_id)
    except NotFound:
        return not_found()
    return render_template("incentives/statement.html", row=row, money=format_money)


def _act(statement_id: int, action: Any, done: str) -> Any:
    if not PortalForm().validate_on_submit():
        flash("The form expired; try again.", "warning")
        return redirect(url_for("incentives.statement", statement_id=statement_id))
    try:
        action(statement_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "warning")
    else:
        flash(done, "success")
    return redirect(url_for("incentives.statement", statement_id=statement_id))


@bp.post("/statements/<int:statement_id>/approve")
@requires(Permission.REVIEW_PERFORMANCE)
def approve(statement_id: int) -> Any:
    return _act(statement_id, statements_service.approve, "Approved: the statement is locked.")


@bp.post("/statements/<int:statement_id>/paid")
@requires(Permission.REVIEW_PERFORMANCE)
def paid(statement_id: int) -> Any:
    return _act(statement_id, statements_service.mark_paid, "Marked as paid.")


@bp.get("/statements/export.csv")
@requires(Permission.REVIEW_PERFORMANCE)
def export() -> Any:
    period, _ = _month()
    filename = f"statements-{current_user.tenant.slug}-{period.key}.csv"
    return csv_download(statements_service.export_csv(period.key), filename)


@bp.get("/mine")
@requires(Permission.WORK_INBOX)
def mine() -> Any:
    return render_template(
        "incentives/mine.html",
        rows=statements_service.of_partner(current_user.partner_id),
        money=format_money,
    )
