"""Use cases of partners: the list, the profile, status, coverage and partner users.

Each writing function validates, writes, audits, bumps the tenant's configuration version
(partners drive routing) and commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import selectinload

from portal import audit
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.leads.models import Lead, Offer
from portal.partners import geo_services, product_services
from portal.partners import validation as rules
from portal.partners.models import (
    Partner,
    PartnerProduct,
    PartnerTerritory,
    Product,
    SlaPolicy,
    Territory,
    Tier,
)
from portal.partners.service_checks import check
from portal.tenancy.models import User
from portal.tenancy.services import note_config_change

# Which status a partner may move to from each status.
STATUS_MOVES = {
    "active": ("paused", "suspended"),
    "paused": ("active", "suspended"),
    "suspended": ("active",),
}
STATUS_VERBS = {"active": "reactivated", "paused": "paused", "suspended": "suspended"}
OPEN_LEAD_STATES = ("accepted", "sql")


@dataclass(frozen=True)
class PartnerFilter:
    search: str = ""
    tier_id: int | None = None
    status: str | None = None
    country: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.search or self.tier_id or self.status or self.country)


# Reading -----------------------------------------------------------------------------------


def partner_choices() -> list[Partner]:
    """The tenant's partners by name, for pickers."""
    return list(db.session.scalars(sa.select(Partner).order_by(Partner.name)))


def partner_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Partner.id))) or 0


def partners_page(page: int, per_page: int, where: PartnerFilter | None = None) -> Any:
    """The tenant's partners matching the filter, best tier first, then by name."""
    where = where or PartnerFilter()
    query = sa.select(Partner).join(Partner.tier).order_by(Tier.rank, Partner.name, Partner.id)
    if where.search:
        pattern = f"%{where.search.lower()}%"
        query = query.where(
            sa.or_(
                sa.func.lower(Partner.name).like(pattern),
                sa.func.lower(Partner.contact_name).like(pattern),
                sa.func.lower(Partner.contact_email).like(pattern),
            )
        )
    if where.tier_id:
        query = query.where(Partner.tier_id == where.tier_id)
    if where.status:
        query = query.where(Partner.status == where.status)
    if where.country:
        query = query.where(Partner.country == where.country)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def partner_countries() -> list[str]:
    """The countries the tenant's partners are in, for the list's filter."""
    return list(db.session.scalars(sa.select(Partner.country).distinct().order_by(Partner.country)))


def get_partner(partner_id: int) -> Partner:
    """The partner with its coverage, loaded in a few queries rather than one per row."""
    partner = db.session.get(
        Partner,
        partner_id,
        options=[
            selectinload(Partner.territories).selectinload(PartnerTerritory.territory),
            selectinload(Partner.products)
            .selectinload(PartnerProduct.product)
            .selectinload(Product.line),
        ],
    )
    if partner is None:
        raise NotFound("no such partner")
    return partner


def partner_load(partner_id: int) -> int:
    """Leads the partner holds now: open offers plus accepted leads not yet won or lost."""
    open_offers = sa.select(sa.func.count(Offer.id)).where(
        Offer.partner_id == partner_id, Offer.state == "open"
    )
    working = (
        sa.select(sa.func.count(Offer.id))
        .join(Lead, Lead.id == Offer.lead_id)
        .where(
            Offer.partner_id == partner_id,
            Offer.state == "accepted",
            Lead.state.in_(OPEN_LEAD_STATES),
        )
    )
    return (db.session.scalar(open_offers) or 0) + (db.session.scalar(working) or 0)


def partner_users(partner_id: int) -> list[User]:
    query = (
        sa.select(User).where(User.partner_id == partner_id).order_by(User.active.desc(), User.name)
    )
    return list(db.session.scalars(query))


def territory_options(partner: Partner) -> list[Territory]:
    """Territories the partner does not cover yet, broadest first."""
    covered = {c.territory_id for c in partner.territories}
    return [t for t in geo_services.territory_choices() if t.id not in covered]


def product_options(partner: Partner) -> list[Product]:
    """Active products the partner does not cover yet."""
    covered = {c.product_id for c in partner.products}
    return [p for p in product_services.product_choices(active_only=True) if p.id not in covered]


# Profile -------------------------------------------------------------------------------------


def _contact_email(raw: str | None) -> str | None:
    if not raw or not raw.strip():
        return None
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise rules.InvalidValue(str(exc)) from None


def _profile_values(data: dict[str, Any], partner_id: int | None) -> dict[str, Any]:
    """Validate a partner's profile fields; ValidationFailed names every bad field."""
    errors: dict[str, str] = {}
    values = {
        "name": check(errors, "name", rules.name, data.get("name")),
        "capacity": check(errors, "capacity", rules.capacity, data.get("capacity")),
        "country": check(errors, "country", rules.country, data.get("country")),
        "timezone": check(errors, "timezone", rules.timezone, data.get("timezone")),
        "contact_email": check(errors, "contact_email", _contact_email, data.get("contact_email")),
        "contact_name": (data.get("contact_name") or "").strip()[:120] or None,
        "contact_phone": (data.get("contact_phone") or "").strip()[:40] or None,
        "tier_id": data.get("tier_id"),
        "sla_policy_id": data.get("sla_policy_id") or None,
    }
    if values["tier_id"] is None or db.session.get(Tier, values["tier_id"]) is None:
        errors["tier_id"] = "Choose one of the tiers."
    if values["sla_policy_id"] and db.session.get(SlaPolicy, values["sla_policy_id"]) is None:
        errors["sla_policy_id"] = "Choose one of the SLA policies."
    if values["name"] and _name_taken(values["name"], partner_id):
        errors["name"] = f"A partner named {values['name']!r} exists already."
    if errors:
        raise ValidationFailed(errors)
    return values


def _name_taken(name: str, partner_id: int | None) -> bool:
    query = sa.select(Partner.id).where(sa.func.lower(Partner.name) == name.lower())
    if partner_id is not None:
        query = query.where(Partner.id != partner_id)
    return db.session.scalar(query) is not None


def create_partner(data: dict[str, Any], *, actor: Any) -> Partner:
    """Add a partner to the network, active from the start."""
    values = _profile_values(data, None)
    partner = Partner(status="active", **values)
    db.session.add(partner)
    db.session.flush()
    audit.record(
        db.session,
        actor=actor,
        action="partner.created",
        obj=partner,
        changes={k: audit.plain(v) for k, v in values.items()},
    )
    note_config_change()
    db.session.commit()
    return partner


def update_partner(partner_id: int, data: dict[str, Any], *, actor: Any) -> Partner:
    """Change a partner's profile; records what changed."""
    partner = get_partner(partner_id)
    changes = audit.apply_changes(partner, _profile_values(data, partner_id))
    if changes:
        audit.record(
            db.session, actor=actor, action="partner.updated", obj=partner, changes=changes
        )
        note_config_change()
    db.session.commit()
    return partner


def set_status(partner_id: int, status: str, reason: str, *, actor: Any) -> Partner:
    """Pause, suspend or reactivate a partner; paused and suspended partners get no new leads."""
    partner = get_partner(partner_id)
    if status not in STATUS_MOVES.get(partner.status, ()):
        raise Conflict(
            f"{partner.name} is {partner.status} and cannot be {STATUS_VERBS.get(status, status)}."
        )
    reason = " ".join((reason or "").split())[:500]
    if status != "active" and not reason:
        raise ValidationFailed({"reason": "Say why, so the team and the partner know."})
    changes = audit.apply_changes(partner, {"status": status})
    changes["reason"] = reason
    audit.record(
        db.session,
        actor=actor,
        action=f"partner.{STATUS_VERBS[status]}",
        obj=partner,
        changes=changes,
    )
    note_config_change()
    db.session.commit()
    return partner


# Coverage ----------------------------------------------------------------------------------


def add_territory(partner_id: int, territory_id: int | None, *, actor: Any) -> PartnerTerritory:
    """Let the partner cover one more territory."""
    partner = get_partner(partner_id)
    territory = db.session.get(Territory, territory_id) if territory_id else None
    if territory is None:
        raise ValidationFailed({"territory_id": "Choose a territory."})
    if any(c.territory_id == territory.id for c in partner.territories):
        raise ValidationFailed({"territory_id": f"{partner.name} covers {territory.code} already."})
    coverage = PartnerTerritory(partner=partner, territory=territory)
    db.session.add(coverage)
    db.session.flush()
    audit.record(
        db.session,
        actor=actor,
        action="partner.territory_added",
        obj=partner,
        changes={"territory": territory.code},
    )
    note_config_change()
    db.session.commit()
    return coverage


def remove_territory(partner_id: int, coverage_id: int, *, actor: Any) -> Territory:
    """Stop the partner covering a territory."""
    return _remove_coverage(partner_id, coverage_id, "territories", "territory", actor)


def set_product(
    partner_id: int, product_id: int | None, certification: Any, *, actor: Any
) -> PartnerProduct:
    """Let the partner sell a product at a certification level, or change the level."""
    partner = get_partner(partner_id)
    errors: dict[str, str] = {}
    product = db.session.get(Product, product_id) if product_id else None
    if product is None:
        errors["product_id"] = "Choose a product."
    level = check(errors, "certification", rules.certification, certification)
    if errors:
        raise ValidationFailed(errors)
    coverage = next((c for c in partner.products if c.product_id == product.id), None)
    if coverage is None:
        coverage = PartnerProduct(partner=partner, product=product, certification=level)
        db.session.add(coverage)
        changes = {"product": product.code, "certification": level}
    else:
        changes = {
            "product": product.code,
            **audit.apply_changes(coverage, {"certification": level}),
        }
    db.session.flush()
    audit.record(
        db.session, actor=actor, action="partner.product_set", obj=partner, changes=changes
    )
    note_config_change()
    db.session.commit()
    return coverage


def remove_product(partner_id: int, coverage_id: int, *, actor: Any) -> Product:
    """Stop the partner selling a product."""
    return _remove_coverage(partner_id, coverage_id, "products", "product", actor)


def _remove_coverage(
    partner_id: int, coverage_id: int, collection: str, kind: str, actor: Any
) -> Any:
    """Take one territory or product away from a partner; returns what was taken away."""
    partner = get_partner(partner_id)
    rows = getattr(partner, collection)
    coverage = next((c for c in rows if c.id == coverage_id), None)
    if coverage is None:
        raise NotFound("no such coverage")
    covered = getattr(coverage, kind)
    rows.remove(coverage)
    audit.record(
        db.session,
        actor=actor,
        action=f"partner.{kind}_removed",
        obj=partner,
        changes={kind: covered.code},
    )
    note_config_change()
    db.session.commit()
    return covered


def create_partner_user(
    partner_id: int, *, name: str, email: str, password: str, actor: Any
) -> User:
    """Create a login for one of the partner's people."""
    from portal.tenancy.services import create_user

    partner = get_partner(partner_id)
    return create_user(
        email=email,
        name=name,
        role="partner_user",
        password=password,
        partner_id=partner.id,
        actor=actor,
    )
