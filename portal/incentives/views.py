"""The incentive plan page: the current plan, its example, its versions, and the edit form."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import Conflict, ValidationFailed
from portal.incentives import services
from portal.incentives.forms import plan_form
from portal.money import format_money
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission

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
