"""Pages of qualification criteria: scoring rules, engagement rules, threshold, required fields."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.errors import NotFound, ValidationFailed
from portal.leads import config_services as services
from portal.leads.config_forms import (
    EngagementRuleForm,
    ProfileRuleForm,
    QualificationSettingsForm,
)
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("qualification", __name__, url_prefix="/network/qualification")


def _settings_form(overview: services.Qualification) -> QualificationSettingsForm:
    return QualificationSettingsForm(
        formdata=None,
        data={
            "mql_threshold": str(overview.threshold),
            "required_fields": overview.required_fields,
        },
    )


def _index_page(status: int = 200, **bound: Any) -> Any:
    """The page with its three forms; a form that failed comes in bound, with its errors."""
    overview = services.qualification()
    forms = {
        "settings_form": bound.get("settings_form") or _settings_form(overview),
        "rule_form": bound.get("rule_form") or ProfileRuleForm(formdata=None),
        "engagement_form": bound.get("engagement_form") or EngagementRuleForm(formdata=None),
    }
    return render_template("qualification/index.html", overview=overview, **forms), status


@bp.route("/")
@requires(Permission.VIEW_NETWORK)
def index() -> Any:
    return _index_page()


@bp.route("/settings", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def settings() -> Any:
    form = QualificationSettingsForm()
    if form.validate_on_submit():
        try:
            services.update_settings(form.input_values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash("Threshold and required fields saved.", "success")
            return redirect(url_for("qualification.index"))
    return _index_page(400, settings_form=form)


@bp.route("/rules/new", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def new_rule() -> Any:
    form = ProfileRuleForm()
    if form.validate_on_submit():
        try:
            rule = services.add_profile_rule(form.input_values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Rule added: {services.describe_profile_rule(rule)}.", "success")
            return redirect(url_for("qualification.index"))
    return _index_page(400, rule_form=form)


@bp.route("/rules/<int:rule_id>/delete", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def delete_rule(rule_id: int) -> Any:
    try:
        rule = services.delete_profile_rule(rule_id, actor=current_user)
    except NotFound:
        return not_found()
    flash(f"Rule deleted: {services.describe_profile_rule(rule)}.", "success")
    return redirect(url_for("qualification.index"))


@bp.route("/engagement/new", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def new_engagement_rule() -> Any:
    form = EngagementRuleForm()
    if form.validate_on_submit():
        try:
            rule = services.add_engagement_rule(form.input_values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Rule added: {services.describe_engagement_rule(rule)}.", "success")
            return redirect(url_for("qualification.index"))
    return _index_page(400, engagement_form=form)


@bp.route("/engagement/<int:rule_id>/delete", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def delete_engagement_rule(rule_id: int) -> Any:
    try:
        rule = services.delete_engagement_rule(rule_id, actor=current_user)
    except NotFound:
        return not_found()
    flash(f"Rule deleted: {services.describe_engagement_rule(rule)}.", "success")
    return redirect(url_for("qualification.index"))
