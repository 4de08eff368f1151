"""Pages of segment rules, routing settings and what-if simulations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import NotFound, ValidationFailed
from portal.routing import services, simulation
from portal.routing.forms import (
    FairnessForm,
    FallbackForm,
    SegmentRuleForm,
    SimulationForm,
    StaleForm,
    WeightsForm,
)
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("routing", __name__, url_prefix="/network")


# Segment rules ----------------------------------------------------------------------------


@bp.route("/segments/")
@requires(Permission.VIEW_NETWORK)
def segments() -> Any:
    return render_template("routing/segments.html", rows=services.segment_rules())


def _segment_form(data: dict[str, Any] | None = None) -> SegmentRuleForm:
    form = SegmentRuleForm(data=data)
    form.set_tiers(services.tier_choices())
    return form


def _segment_page(form: SegmentRuleForm, rule: Any = None) -> Any:
    page = render_template("routing/segment_form.html", form=form, rule=rule)
    return page, 400 if form.errors else 200


@bp.route("/segments/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def new_segment() -> Any:
    form = _segment_form()
    if form.validate_on_submit():
        try:
            rule = services.create_segment_rule(form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Segment rule {rule.name!r} added.", "success")
            return redirect(url_for("routing.segments"))
    return _segment_page(form)


@bp.route("/segments/<int:rule_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def edit_segment(rule_id: int) -> Any:
    try:
        rule = services.get_segment_rule(rule_id)
    except NotFound:
        return not_found()
    form = _segment_form(services.segment_form_data(rule))
    if form.validate_on_submit():
        try:
            services.update_segment_rule(rule_id, form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Segment rule {rule.name!r} saved.", "success")
            return redirect(url_for("routing.segments"))
    return _segment_page(form, rule)


@bp.route("/segments/<int:rule_id>/delete", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def delete_segment(rule_id: int) -> Any:
    try:
        rule = services.delete_segment_rule(rule_id, actor=current_user)
    except NotFound:
        return not_found()
    flash(f"Segment rule {rule.name!r} deleted.", "success")
    return redirect(url_for("routing.segments"))


# Routing settings -------------------------------------------------------------------------


def _settings_page(
    form: WeightsForm | None = None,
    fallback: FallbackForm | None = None,
    fairness: FairnessForm | None = None,
    stale: StaleForm | None = None,
    status: int = 200,
) -> Any:
    settings = services.routing_settings()
    fallback = fallback or FallbackForm(formdata=None, data=services.fallback_form_data())
    fallback.set_partners(services.partner_choices())
    page = render_template(
        "routing/settings.html",
        form=form or WeightsForm(formdata=None, obj=settings),
        fallback=fallback,
        fairness=fairness or FairnessForm(formdata=None, data=services.fairness_form_data()),
        stale=stale
        or StaleForm(formdata=None, data={"stale_after_days": str(settings.stale_after_days)}),
        rows=services.weight_rows(),
        fallback_words=services.fallback_words(settings),
        fairness_words=services.fairness_words(settings),
    )
    return page, status


@bp.route("/routing/")
@requires(Permission.VIEW_NETWORK)
def settings() -> Any:
    return _settings_page()


def _save(form: Any, save: Any, done: str, slot: str) -> Any:
    """Save one settings form; its errors show at its fields on the settings page."""
    if form.validate_on_submit():
        try:
            save(form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(done, "success")
            return redirect(url_for("routing.settings"))
    return _settings_page(**{slot: form}, status=400)


@bp.route("/routing/weights", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def save_weights() -> Any:
    return _save(
        WeightsForm(),
        services.save_weights,
        "Routing weights saved. New leads are routed with them.",
        "form",
    )


@bp.route("/routing/fallback", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def save_fallback() -> Any:
    form = FallbackForm()
    form.set_partners(services.partner_choices())
    return _save(
        form,
        services.save_fallback,
        "Fallback saved. Leads no partner can take go there from now on.",
        "fallback",
    )


@bp.route("/routing/stale", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def save_stale() -> Any:
    return _save(
        StaleForm(),
        services.save_stale_days,
        "Saved: accepted leads are flagged stale after that many days.",
        "stale",
    )


@bp.route("/routing/fairness", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def save_fairness() -> Any:
    return _save(
        FairnessForm(),
        services.save_fairness,
        "Fairness cap saved. New leads are routed with it.",
        "fairness",
    )


@bp.route("/routing/reset", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def reset_weights() -> Any:
    services.reset_weights(actor=current_user)
    flash("Routing weights are back to the defaults (40/20/20/10/10).", "success")
    return redirect(url_for("routing.settings"))


# What-if simulations ----------------------------------------------------------------------


@bp.route("/routing/simulations/")
@requires(Permission.VIEW_NETWORK)
def simulations() -> Any:
    page = simulation.simulations(request.args.get("page", 1, type=int))
    return render_template("routing/simulations.html", page=page)


def _simulation_form(data: dict[str, Any] | None = None) -> SimulationForm:
    form = SimulationForm(data=data)
    form.set_choices(simulation.form_choices())
    return form


@bp.route("/routing/simulations/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def new_simulation() -> Any:
    form = _simulation_form(None if request.method == "POST" else simulation.form_defaults())
    failed = False
    if form.validate_on_submit():
        try:
            record = simulation.run_simulation(form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
            failed = True
        else:
            flash(
                "Simulation run. Nothing was changed: this is what would have happened.", "success"
            )
            return redirect(url_for("routing.simulation_result", simulation_id=record.id))
    page = render_template("routing/simulation_form.html", form=form)
    return page, 400 if failed or form.errors else 200


@bp.route("/routing/simulations/<int:simulation_id>")
@requires(Permission.VIEW_NETWORK)
def simulation_result(simulation_id: int) -> Any:
    try:
        record = simulation.get_simulation(simulation_id)
    except NotFound:
        return not_found()
    return render_template("routing/simulation.html", sim=record)
