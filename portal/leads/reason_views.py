"""Pages of the rejection reason catalogue."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.errors import Conflict, NotFound, ValidationFailed
from portal.leads import config_services as services
from portal.leads.config_forms import (
    MoveForm,
    NewRejectionReasonForm,
    ReasonActiveForm,
    RejectionReasonForm,
)
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("rejection_reasons", __name__, url_prefix="/network/rejection-reasons")


def _index_page(form: NewRejectionReasonForm, status: int = 200) -> Any:
    page = render_template(
        "rejection_reasons/index.html", reasons=services.rejection_reasons(), form=form
    )
    return page, status


@bp.route("/")
@requires(Permission.VIEW_NETWORK)
def index() -> Any:
    return _index_page(NewRejectionReasonForm(formdata=None))


@bp.route("/new", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def create() -> Any:
    form = NewRejectionReasonForm()
    if form.validate_on_submit():
        try:
            reason = services.create_rejection_reason(form.input_values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Reason {reason.label!r} added at the end of the list.", "success")
            return redirect(url_for("rejection_reasons.index"))
    return _index_page(form, 400)


@bp.route("/<int:reason_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def edit(reason_id: int) -> Any:
    try:
        reason = services.get_rejection_reason(reason_id)
    except NotFound:
        return not_found()
    form = RejectionReasonForm(obj=reason)
    if form.validate_on_submit():
        try:
            services.update_rejection_reason(reason_id, form.input_values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Reason {reason.label!r} saved.", "success")
            return redirect(url_for("rejection_reasons.index"))
    page = render_template("rejection_reasons/form.html", form=form, reason=reason)
    return page, 400 if form.errors else 200


@bp.route("/<int:reason_id>/active", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def set_active(reason_id: int) -> Any:
    form = ReasonActiveForm()
    if not form.validate_on_submit():
        abort(400)
    active = form.active.data == "1"
    try:
        reason = services.set_rejection_reason_active(reason_id, active, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        state = "offered to partners again" if active else "no longer offered to partners"
        flash(f"Reason {reason.label!r} is {state}.", "success")
    return redirect(url_for("rejection_reasons.index"))


@bp.route("/<int:reason_id>/move", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def move(reason_id: int) -> Any:
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        reason = services.move_rejection_reason(reason_id, form.direction.data, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(f"Reason {reason.label!r} moved {form.direction.data}.", "success")
    return redirect(url_for("rejection_reasons.index"))
