"""Use cases of product lines and products. Each write commits its own transaction.

Products decide which partner a lead can go to, so every change is audited
and bumps the tenant's configuration version (routing indexes rebuild on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from portal import audit
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.leads.models import Lead
from portal.partners import validation
from portal.partners.models import PartnerProduct, Product, ProductLine
from portal.partners.service_checks import (
    check,
    count_rows,
    coverage_counts,
    partners_cover,
    required,
)
from portal.tenancy.services import note_config_change

# Product lines and products ---------------------------------------------------------------


@dataclass(frozen=True)
class ProductRow:
    product: Product
    partners: int


@dataclass(frozen=True)
class LineRow:
    """A product line with its products, for the list page."""

    line: ProductLine
    products: list[ProductRow]


def product_line_choices() -> list[ProductLine]:
    """The tenant's product lines by name."""
    query = sa.select(ProductLine).order_by(ProductLine.name, ProductLine.code)
    return list(db.session.scalars(query))


def product_choices(active_only: bool = True) -> list[Product]:
    """Products by line name then product name; only active ones unless asked otherwise."""
    query = (
        sa.select(Product)
        .join(ProductLine, Product.line_id == ProductLine.id)
        .options(contains_eager(Product.line))
        .order_by(ProductLine.name, Product.name, Product.code)
    )
    if active_only:
        query = query.where(Product.active)
    return list(db.session.scalars(query))


def product_catalogue() -> list[LineRow]:
    """Every line with its products and how many partners cover each product."""
    products = list(db.session.scalars(sa.select(Product).order_by(Product.name, Product.code)))
    counts = coverage_counts(PartnerProduct.product_id, [p.id for p in products])
    return [
        LineRow(
            line, [ProductRow(p, counts.get(p.id, 0)) for p in products if p.line_id == line.id]
        )
        for line in product_line_choices()
    ]


def get_product(product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound("no such product")
    return product


def get_product_line(line_id: int) -> ProductLine:
    line = db.session.get(ProductLine, line_id)
    if line is None:
        raise NotFound("no such product line")
    return line


def product_form_data(product: Product) -> dict[str, Any]:
    """A product's values as its form shows them."""
    return {"line_id": product.line_id, "code": product.code, "name": product.name}


def _code_taken(model: Any, code: str, own_id: int | None) -> bool:
    query = sa.select(model.id).where(model.code == code)
    if own_id is not None:
        query = query.where(model.id != own_id)
    return db.session.scalar(query) is not None


def _line_values(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values = {
        "code": required(
            errors, "code", "Give the line a code.", validation.code, data.get("code")
        ),
        "name": check(errors, "name", validation.name, data.get("name"), 120),
    }
    if values["code"] and _code_taken(ProductLine, values["code"], None):
        errors["code"] = f"A product line with code {values['code']} exists already."
    if errors:
        raise ValidationFailed(errors)
    return values


def create_product_line(data: dict[str, Any], *, actor: Any) -> ProductLine:
    """Add a product line, to which products can then be added."""
    values = _line_values(data)
    line = ProductLine(**values)
    db.session.add(line)
    db.session.flush()
    audit.record(db.session, actor=actor, action="product_line.created", obj=line, changes=values)
    note_config_change()
    db.session.commit()
    return line


def delete_product_line(line_id: int, *, actor: Any) -> ProductLine:
    """Delete a product line that has no products left."""
    line = get_product_line(line_id)
    products = count_rows(Product.id, Product.line_id == line.id)
    if products:
        noun = "product" if products == 1 else "products"
        raise Conflict(
            f"The line {line.name} still has {products} {noun}; delete them or move them "
            "to another line first."
        )
    audit.record(
        db.session,
        actor=actor,
        action="product_line.deleted",
        obj=line,
        changes={"code": line.code, "name": line.name},
    )
    db.session.delete(line)
    note_config_change()
    db.session.commit()
    return line


def _line_id(errors: dict[str, str], raw: Any) -> int | None:
    try:
        line = db.session.get(ProductLine, int(raw)) if raw not in (None, "") else None
    except (TypeError, ValueError):
        line = None
    if line is None:
        errors["line_id"] = "Choose a product line."
        return None
    return line.id


def _product_values(data: dict[str, Any], product_id: int | None) -> dict[str, Any]:
    """Validate a product's fields; ValidationFailed names every bad field."""
    errors: dict[str, str] = {}
    values = {
        "line_id": _line_id(errors, data.get("line_id")),
        "code": required(
            errors, "code", "Give the product a code.", validation.code, data.get("code")
        ),
        "name": check(errors, "name", validation.name, data.get("name"), 120),
    }
    if values["code"] and _code_taken(Product, values["code"], product_id):
        errors["code"] = f"A product with code {values['code']} exists already."
    if errors:
        raise ValidationFailed(errors)
    return values


def create_product(data: dict[str, Any], *, actor: Any) -> Product:
    """Add an active product to a line."""
    values = _product_values(data, None)
    product = Product(active=True, **values)
    db.session.add(product)
    db.session.flush()
    audit.record(db.session, actor=actor, action="product.created", obj=product, changes=values)
    note_config_change()
    db.session.commit()
    return product


def update_product(product_id: int, data: dict[str, Any], *, actor: Any) -> Product:
    """Rename a product, change its code or move it to another line; records what changed."""
    product = get_product(product_id)
    changes = audit.apply_changes(product, _product_values(data, product_id))
    if changes:
        audit.record(
            db.session, actor=actor, action="product.updated", obj=product, changes=changes
        )
        note_config_change()
    db.session.commit()
    return product


def set_product_active(product_id: int, active: bool, *, actor: Any) -> Product:
    """Deactivate a product (coverage stays, it is no longer offered) or reactivate it."""
    product = get_product(product_id)
    if product.active == active:
        raise Conflict(f"{product.code} is {'active' if active else 'inactive'} already.")
    product.active = active
    audit.record(
        db.session,
        actor=actor,
        action="product.reactivated" if active else "product.deactivated",
        obj=product,
        changes={"active": [not active, active]},
    )
    note_config_change()
    db.session.commit()
    return product


def _product_in_use(product: Product) -> str | None:
    partners = count_rows(PartnerProduct.id, PartnerProduct.product_id == product.id)
    if partners:
        return (
            f"{partners_cover(partners)} {product.code}; remove it from them first, "
            "or deactivate it instead."
        )
    leads = count_rows(Lead.id, Lead.product_id == product.id)
    if leads:
        noun = "lead asks" if leads == 1 else "leads ask"
        return f"{leads} {noun} for {product.code}; deactivate it instead of deleting it."
    return None


def delete_product(product_id: int, *, actor: Any) -> Product:
    """Delete a product that no partner covers and no lead names."""
    product = get_product(product_id)
    reason = _product_in_use(product)
    if reason:
        raise Conflict(reason)
    audit.record(
        db.session,
        actor=actor,
        action="product.deleted",
        obj=product,
        changes={"code": product.code, "name": product.name, "line_id": product.line_id},
    )
    db.session.delete(product)
    note_config_change()
    db.session.commit()
    return product
