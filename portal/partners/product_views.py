"""Pages of product lines and products."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.errors import Conflict, NotFound, ValidationFailed
from portal.partners import product_services as services
from portal.partners.geo_forms import ActiveForm, ProductForm, ProductLineForm
from portal.tenancy.policy import requires
from portal.tenancy.roles import Permission
from portal.web.errors import not_found

bp = Blueprint("products", __name__, url_prefix="/network/products")


def _product_form(**kwargs: Any) -> ProductForm:
    return ProductForm(prefix="product", lines=services.product_line_choices(), **kwargs)


def _index_page(
    line_form: ProductLineForm | None = None, product_form: ProductForm | None = None
) -> Any:
    page = render_template(
        "products/index.html",
        lines=services.product_catalogue(),
        line_form=line_form or ProductLineForm(prefix="line", formdata=None),
        product_form=product_form or _product_form(formdata=None),
    )
    failed = (line_form and line_form.errors) or (product_form and product_form.errors)
    return page, 400 if failed else 200


def _back() -> Any:
    return redirect(url_for("products.index"))


@bp.route("/")
@requires(Permission.VIEW_NETWORK)
def index() -> Any:
    return _index_page()


@bp.route("/lines/new", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def create_line() -> Any:
    form = ProductLineForm(prefix="line")
    if form.validate_on_submit():
        try:
            line = services.create_product_line(form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Product line {line.name} added. Add its products next.", "success")
            return _back()
    return _index_page(line_form=form)


@bp.route("/lines/<int:line_id>/delete", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def delete_line(line_id: int) -> Any:
    try:
        line = services.delete_product_line(line_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(f"Product line {line.name} deleted.", "success")
    return _back()


@bp.route("/new", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def create() -> Any:
    form = _product_form()
    if form.validate_on_submit():
        try:
            product = services.create_product(form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Product {product.code} ({product.name}) added.", "success")
            return _back()
    return _index_page(product_form=form)


@bp.route("/<int:product_id>/edit", methods=["GET", "POST"])
@requires(Permission.MANAGE_NETWORK)
def edit(product_id: int) -> Any:
    try:
        product = services.get_product(product_id)
    except NotFound:
        return not_found()
    form = _product_form(data=services.product_form_data(product))
    if form.validate_on_submit():
        try:
            services.update_product(product_id, form.values(), actor=current_user)
        except ValidationFailed as exc:
            form.attach_errors(exc)
        else:
            flash(f"Product {product.code} saved.", "success")
            return _back()
    page = render_template("products/form.html", form=form, product=product)
    return page, 400 if form.errors else 200


@bp.route("/<int:product_id>/active", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def set_active(product_id: int) -> Any:
    active = ActiveForm().active.data == "1"
    try:
        product = services.set_product_active(product_id, active, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        state = "active again" if active else "inactive: it is no longer offered for coverage"
        flash(f"Product {product.code} is {state}.", "success")
    return _back()


@bp.route("/<int:product_id>/delete", methods=["POST"])
@requires(Permission.MANAGE_NETWORK)
def delete(product_id: int) -> Any:
    try:
        product = services.delete_product(product_id, actor=current_user)
    except NotFound:
        return not_found()
    except Conflict as exc:
        flash(str(exc), "danger")
    else:
        flash(f"Product {product.code} deleted.", "success")
    return _back()
