"""Pages of SLA policies."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.errors import Conflict, NotFound, ValidationFailed
from portal.partners import config_services as services
from portal.partners.config_forms import NewSlaPolicyForm, SlaPolicyForm
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("sla", __name__, url_prefix="/network/sla-policies")


def _form_page(form: SlaPolicyForm, policy: Any = None) -> Any:
    page = render_template("sla/form.html", form=form, policy=policy)
    return page, 400 if form.errors else 200


@bp.route("/")
@requires(Permission.VIEW_NETWORK)
def index() -> Any:
    return render_template("sla/index.html", rows=services.policy_rows())


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def new() -> Any:
    form = NewSlaPolicyForm()
    if form.validate_on_submit():
        try:
            policy = services.create_sla_policy(form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"SLA policy {policy.name!r} added.", "success")
            return redirect(url_for("sla.index"))
    return _form_page(form)


@bp.route("/<int:policy_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def edit(policy_id: int) -> Any:
    try:
        policy = services.get_sla_policy(policy_id)
    except NotFound:
        return not_found()
    form = SlaPolicyForm(data=services.policy_form_data(policy))
    if form.validate_on_submit():
        try:
            services.update_sla_policy(policy_id, form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"SLA policy {policy.name!r} saved. New offers follow it.", "success")
            return redirect(url_for("sla.index"))
    return _form_page(form, policy)


@bp.route("/<int:policy_id>/default", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def make_default(policy_id: int) -> Any:
    try:
        policy = services.make_default_sla_policy(policy_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(f"{policy.name} is now the default SLA policy.", "success")
    return redirect(url_for("sla.index"))


@bp.route("/<int:policy_id>/delete", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def delete(policy_id: int) -> Any:
    try:
        policy = services.delete_sla_policy(policy_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(f"SLA policy {policy.name!r} deleted.", "success")
    return redirect(url_for("sla.index"))
