"""Pages of partners: the list, the profile, status, coverage and partner users."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.errors import Conflict, NotFound, ValidationFailed
from portal.partners import config_services, services
from portal.partners import validation as rules
from portal.partners.forms import (
    PartnerForm,
    PartnerUserForm,
    ProductCoverageForm,
    StatusForm,
    TerritoryCoverageForm,
)
from portal.partners.models import PARTNER_STATUSES
from portal.tenancy.forms import ConfirmForm
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("partners", __name__, url_prefix="/partners")


def _filter_from_args() -> services.PartnerFilter:
    status = request.args.get("status") or None
    country = (request.args.get("country") or "").upper() or None
    return services.PartnerFilter(
        search=(request.args.get("q") or "").strip()[:100],
        tier_id=request.args.get("tier", type=int),
        status=status if status in PARTNER_STATUSES else None,
        country=country if country and len(country) == 2 else None,
    )


@bp.route("/")
@requires(Permission.VIEW_NETWORK)
def index() -> Any:
    where = _filter_from_args()
    page = services.partners_page(
        request.args.get("page", 1, type=int) or 1, current_app.config["PAGE_SIZE"], where
    )
    return render_template(
        "partners/index.html",
        page=page,
        where=where,
        tiers=config_services.tier_choices(),
        statuses=PARTNER_STATUSES,
        countries=services.partner_countries(),
    )


@bp.route("/mine")
@requires(Permission.WORK_INBOX)
def mine() -> Any:
    return redirect(url_for("partners.detail", partner_id=current_user.partner_id))


def _fill_choices(form: PartnerForm) -> PartnerForm:
    form.tier_id.choices = [SelectChoice(t.id, t.name) for t in config_services.tier_choices()]
    form.country.choices = [SelectChoice(code, name) for code, name in rules.country_choices()]
    form.timezone.choices = [SelectChoice(z, z) for z in rules.zone_choices()]
    policies = config_services.sla_policy_choices()
    default = next((p for p in policies if p.is_default), None)
    label = f"Tenant default ({default.name})" if default else "Tenant default"
    form.sla_policy_id.choices = [SelectChoice("", label)] + [
        SelectChoice(p.id, p.name) for p in policies
    ]
    return form


def _profile_data(form: PartnerForm) -> dict[str, Any]:
    return {
        name: form[name].data
        for name in (
            "name",
            "tier_id",
            "capacity",
            "country",
            "timezone",
            "sla_policy_id",
            "contact_name",
            "contact_email",
            "contact_phone",
        )
    }


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def create() -> Any:
    form = _fill_choices(PartnerForm())
    if not form.tier_id.choices:
        flash("Create a tier first: every partner belongs to one.", "warning")
    if form.validate_on_submit():
        try:
            partner = services.create_partner(_profile_data(form), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"{partner.name} joined the network.", "success")
            return redirect(url_for("partners.detail", partner_id=partner.id))
    return render_template(
        "partners/form.html", form=form, partner=None
    ), 400 if form.errors else 200


@bp.route("/<int:partner_id>")
@requires(Permission.VIEW_NETWORK, or_own_partner="partner_id")
def detail(partner_id: int) -> Any:
    try:
        return _render_detail(services.get_partner(partner_id))
    except NotFound:
        return not_found()


def _render_detail(partner: Any, status: int = 200, **forms: Any) -> Any:
    territory_form = forms.get("territory_form") or TerritoryCoverageForm(formdata=None)
    territory_form.territory_id.choices = [
        SelectChoice(t.id, f"{t.code} · {t.name}") for t in services.territory_options(partner)
    ]
    product_form = forms.get("product_form") or ProductCoverageForm(formdata=None)
    product_form.product_id.choices = [
        SelectChoice(p.id, f"{p.name} ({p.code})") for p in services.product_options(partner)
    ]
    return render_template(
        "partners/detail.html",
        partner=partner,
        load=services.partner_load(partner.id),
        users=services.partner_users(partner.id),
        sla_in_words=_sla_in_words(partner),
        territory_form=territory_form,
        product_form=product_form,
        status_form=forms.get("status_form") or StatusForm(formdata=None),
        certifications=rules.CERTIFICATION_LEVELS,
        moves=services.STATUS_MOVES[partner.status],
        confirm=ConfirmForm(),
        country_name=rules.country_name,
    ), status


def _sla_in_words(partner: Any) -> str:
    """The partner's own SLA policy, or the tenant's default, in plain words."""
    policy = partner.sla_policy or next(
        (p for p in config_services.sla_policy_choices() if p.is_default), None
    )
    return config_services.describe_policy(policy) if policy else ""


@bp.route("/<int:partner_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def edit(partner_id: int) -> Any:
    try:
        partner = services.get_partner(partner_id)
    except NotFound:
        return not_found()
    form = _fill_choices(PartnerForm(obj=partner))
    if form.validate_on_submit():
        try:
            services.update_partner(partner_id, _profile_data(form), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"{partner.name} saved.", "success")
            return redirect(url_for("partners.detail", partner_id=partner_id))
    return render_template(
        "partners/form.html", form=form, partner=partner
    ), 400 if form.errors else 200


def _act(partner_id: int, action: Any, form: Any, form_name: str, success: str) -> Any:
    """Run a change from the detail page; on a field error show the page again with it."""
    try:
        services.get_partner(partner_id)
        if not form.validate_on_submit():
            raise ValidationFailed({})
        result = action()
    except NotFound:
        return not_found()
    except ValidationFailed as exc:
        form.attach_errors(exc)
        return _render_detail(services.get_partner(partner_id), 400, **{form_name: form})
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(success.format(result=result), "success")
    return redirect(url_for("partners.detail", partner_id=partner_id))


@bp.route("/<int:partner_id>/status", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def change_status(partner_id: int) -> Any:
    form = StatusForm()
    return _act(
        partner_id,
        lambda: services.set_status(
            partner_id, form.status.data, form.reason.data, actor=current_user
        ),
        form,
        "status_form",
        "{result.name} is now {result.status}.",
    )


@bp.route("/<int:partner_id>/territories", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def add_territory(partner_id: int) -> Any:
    form = TerritoryCoverageForm()
    return _act(
        partner_id,
        lambda: services.add_territory(partner_id, form.territory_id.data, actor=current_user),
        form,
        "territory_form",
        "Territory {result.territory.code} added.",
    )


@bp.route("/<int:partner_id>/territories/<int:coverage_id>/delete", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def remove_territory(partner_id: int, coverage_id: int) -> Any:
    return _act(
        partner_id,
        lambda: services.remove_territory(partner_id, coverage_id, actor=current_user),
        ConfirmForm(),
        "confirm",
        "Territory {result.code} removed.",
    )


@bp.route("/<int:partner_id>/products", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def set_product(partner_id: int) -> Any:
    form = ProductCoverageForm()
    return _act(
        partner_id,
        lambda: services.set_product(
            partner_id, form.product_id.data, form.certification.data, actor=current_user
        ),
        form,
        "product_form",
        "Product {result.product.name} set.",
    )


@bp.route("/<int:partner_id>/products/<int:coverage_id>/delete", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def remove_product(partner_id: int, coverage_id: int) -> Any:
    return _act(
        partner_id,
        lambda: services.remove_product(partner_id, coverage_id, actor=current_user),
        ConfirmForm(),
        "confirm",
        "Product {result.name} removed.",
    )


@bp.route("/<int:partner_id>/users/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def new_user(partner_id: int) -> Any:
    try:
        partner = services.get_partner(partner_id)
    except NotFound:
        return not_found()
    form = PartnerUserForm()
    if form.validate_on_submit():
        try:
            user = services.create_partner_user(
                partner_id,
                name=form.name.data,
                email=form.email.data,
                password=form.password.data,
                actor=current_user,
            )
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"{user.email} can now sign in for {partner.name}.", "success")
            return redirect(url_for("partners.detail", partner_id=partner_id))
    status = 400 if form.errors else 200
    return render_template("partners/user_form.html", form=form, partner=partner), status
