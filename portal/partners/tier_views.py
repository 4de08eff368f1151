"""Pages of the tenant's partner tiers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.errors import Conflict, NotFound, ValidationFailed
from portal.partners import config_services as services
from portal.partners.config_forms import TierForm
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("tiers", __name__, url_prefix="/network/tiers")


def _index_page(form: TierForm, status: int = 200) -> Any:
    return render_template("tiers/index.html", rows=services.tier_rows(), form=form), status


@bp.route("/")
@requires(Permission.VIEW_NETWORK)
def index() -> Any:
    return _index_page(TierForm())


@bp.route("/new", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def create() -> Any:
    form = TierForm()
    if form.validate_on_submit():
        try:
            tier = services.create_tier(form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Tier {tier.name!r} added at rank {tier.rank}.", "success")
            return redirect(url_for("tiers.index"))
    return _index_page(form, 400)


@bp.route("/<int:tier_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def edit(tier_id: int) -> Any:
    try:
        tier = services.get_tier(tier_id)
    except NotFound:
        return not_found()
    form = TierForm(obj=tier)
    if form.validate_on_submit():
        try:
            services.update_tier(tier_id, form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Tier {tier.name!r} saved.", "success")
            return redirect(url_for("tiers.index"))
    page = render_template("tiers/form.html", form=form, tier=tier)
    return page, 400 if form.errors else 200


@bp.route("/<int:tier_id>/move/<any(up, down):direction>", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def move(tier_id: int, direction: str) -> Any:
    try:
        tier = services.move_tier(tier_id, direction, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(f"{tier.name} is now tier {tier.rank}.", "success")
    return redirect(url_for("tiers.index"))


@bp.route("/<int:tier_id>/delete", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def delete(tier_id: int) -> Any:
    try:
        tier = services.delete_tier(tier_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(f"Tier {tier.name!r} deleted.", "success")
    return redirect(url_for("tiers.index"))
