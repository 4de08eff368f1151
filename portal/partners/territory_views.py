"""Pages of territories: regions, countries, subdivisions and postal prefixes partners cover."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.errors import Conflict, NotFound, ValidationFailed
from portal.partners import geo_services as services
from portal.partners.geo_forms import COUNTRY_LIST_ID, TerritoryForm
from portal.partners.validation import country_choices
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("territories", __name__, url_prefix="/network/territories")


def _form_page(form: TerritoryForm, territory: Any = None) -> Any:
    page = render_template(
        "territories/form.html",
        form=form,
        territory=territory,
        countries=country_choices(),
        country_list_id=COUNTRY_LIST_ID,
    )
    return page, 400 if form.errors else 200


@bp.route("/")
@requires(Permission.VIEW_NETWORK)
def index() -> Any:
    listing = services.territory_listing(
        request.args.get("page", 1, type=int) or 1, request.args.get("country")
    )
    return render_template("territories/index.html", listing=listing)


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def create() -> Any:
    form = TerritoryForm()
    if form.validate_on_submit():
        try:
            territory = services.create_territory(form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            description = services.describe_territory(territory)
            flash(f"Territory {territory.code} added: {description}.", "success")
            return redirect(url_for("territories.index"))
    return _form_page(form)


@bp.route("/<int:territory_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def edit(territory_id: int) -> Any:
    try:
        territory = services.get_territory(territory_id)
    except NotFound:
        return not_found()
    form = TerritoryForm(data=services.territory_form_data(territory))
    if form.validate_on_submit():
        try:
            services.update_territory(territory_id, form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Territory {territory.code} saved.", "success")
            return redirect(url_for("territories.index"))
    return _form_page(form, territory)


@bp.route("/<int:territory_id>/delete", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def delete(territory_id: int) -> Any:
    try:
        territory = services.delete_territory(territory_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(f"Territory {territory.code} deleted.", "success")
    return redirect(url_for("territories.index"))
