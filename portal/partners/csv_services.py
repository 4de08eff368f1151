"""Use cases of partner CSV files: export, a checked upload, and an all-or-nothing import."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal import audit, csvtext
from portal.db import utcnow
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.partners import csv_plan, territory_rules
from portal.partners.models import (
    Partner,
    PartnerImport,
    PartnerProduct,
    PartnerTerritory,
    Product,
    SlaPolicy,
    Territory,
    Tier,
)
from portal.tenancy.services import note_config_change


def _partners() -> list[Partner]:
    query = sa.select(Partner).options(
        selectinload(Partner.territories).selectinload(PartnerTerritory.territory),
        selectinload(Partner.products).selectinload(PartnerProduct.product),
        selectinload(Partner.sla_policy),
    )
    return list(db.session.scalars(query.order_by(Partner.name)))


def _record(partner: Partner) -> csv_plan.PartnerRecord:
    return csv_plan.PartnerRecord(
        name=partner.name,
        tier=partner.tier.name,
        status=partner.status,
        capacity=partner.capacity,
        country=partner.country,
        timezone=partner.timezone,
        sla_policy=partner.sla_policy.name if partner.sla_policy else "",
        contact_name=partner.contact_name or "",
        contact_email=partner.contact_email or "",
        contact_phone=partner.contact_phone or "",
        territories=frozenset(c.territory.code for c in partner.territories),
        products=frozenset((c.product.code, c.certification) for c in partner.products),
    )


def export_csv() -> str:
    """Every partner of the tenant with its coverage, as CSV that imports back unchanged."""
    return csv_plan.write_csv(_record(p) for p in _partners())


class _Refs:
    """The tenant's tiers, SLA policies, territories and products by name or code."""

    def __init__(self) -> None:
        self.tiers = {t.name: t.id for t in db.session.scalars(sa.select(Tier))}
        self.sla = {p.name: p.id for p in db.session.scalars(sa.select(SlaPolicy))}
        self.territories = dict(db.session.execute(sa.select(Territory.code, Territory.id)).all())
        self.products = dict(db.session.execute(sa.select(Product.code, Product.id)).all())

    def catalogue(self) -> csv_plan.Catalogue:
        return csv_plan.Catalogue(
            frozenset(self.tiers),
            frozenset(self.sla),
            frozenset(self.territories),
            frozenset(self.products),
            territory_aliases=self._legacy_postal_codes(),
        )

    def _legacy_postal_codes(self) -> dict[str, str]:
        postal = sa.select(Territory.code, Territory.country, Territory.postal_prefix).where(
            Territory.kind == "postal"
        )
        rows = [tuple(row) for row in db.session.execute(postal)]
        return territory_rules.legacy_postal_aliases(rows, self.territories)


def _plan(content: str) -> tuple[csv_plan.ImportPlan, dict[str, Partner], _Refs]:
    refs = _Refs()
    partners = {p.name.lower(): p for p in _partners()}
    rows = csv_plan.read_rows(content)
    existing = {key: _record(p) for key, p in partners.items()}
    return csv_plan.plan(rows, existing, refs.catalogue()), partners, refs


def stage_import(
    filename: str, raw: bytes, *, actor: Any
) -> tuple[PartnerImport, csv_plan.ImportPlan]:
    """Keep an uploaded file and check it line by line; nothing changes yet."""
    try:
        content = csvtext.decode(raw)
        plan, _, _ = _plan(content)
    except csvtext.FileProblem as exc:
        raise ValidationFailed({"file": str(exc)}) from None
    upload = PartnerImport(
        filename=(filename or "upload.csv")[:255],
        content=content,
        created_by_id=getattr(actor, "id", None),
        summary=plan.summary(),
    )
    db.session.add(upload)
    db.session.commit()
    return upload, plan


def dry_run(import_id: int) -> tuple[PartnerImport, csv_plan.ImportPlan]:
    """An upload and what importing it would do now."""
    upload = db.session.get(PartnerImport, import_id)
    if upload is None:
        raise NotFound("no such import")
    plan, _, _ = _plan(upload.content)
    return upload, plan


def apply_import(import_id: int, *, actor: Any) -> dict[str, int]:
    """Import an upload, all lines or none; an upload is applied at most once."""
    claimed = db.session.execute(
        sa.update(PartnerImport)
        .where(PartnerImport.id == import_id, PartnerImport.applied_at.is_(None))
        .values(applied_at=utcnow())
    ).rowcount
    if not claimed:
        db.session.rollback()
        if db.session.get(PartnerImport, import_id) is None:
            raise NotFound("no such import")
        raise Conflict("This file has been imported already.")
    upload = db.session.get(PartnerImport, import_id)
    plan, partners, refs = _plan(upload.content)
    if not plan.ok:
        db.session.rollback()
        raise Conflict(
            f"{plan.count('error')} lines have errors, so nothing was imported. "
            "Fix them and upload the file again."
        )
    for line in plan.lines:
        if line.action == "create":
            _create(line.record, refs, actor)
        elif line.action == "update":
            _update(partners[line.name.lower()], line, refs, actor)
    upload.summary = plan.summary()
    audit.record(
        db.session,
        actor=actor,
        action="partner.imported",
        obj=upload,
        changes={"file": upload.filename, **upload.summary},
    )
    if plan.count("create") or plan.count("update"):
        note_config_change()
    db.session.commit()
    return upload.summary


def _profile(record: csv_plan.PartnerRecord, refs: _Refs) -> dict[str, Any]:
    return {
        "name": record.name,
        "tier_id": refs.tiers[record.tier],
        "status": record.status,
        "capacity": record.capacity,
        "country": record.country,
        "timezone": record.timezone,
        "sla_policy_id": refs.sla.get(record.sla_policy),
        "contact_name": record.contact_name or None,
        "contact_email": record.contact_email or None,
        "contact_phone": record.contact_phone or None,
    }


def _create(record: csv_plan.PartnerRecord, refs: _Refs, actor: Any) -> None:
    partner = Partner(**_profile(record, refs))
    db.session.add(partner)
    _set_coverage(partner, record, refs)
    db.session.flush()
    audit.record(
        db.session,
        actor=actor,
        action="partner.created",
        obj=partner,
        changes={"source": "csv import"},
    )


def _update(partner: Partner, line: csv_plan.LinePlan, refs: _Refs, actor: Any) -> None:
    audit.apply_changes(partner, _profile(line.record, refs))
    _set_coverage(partner, line.record, refs)
    audit.record(
        db.session,
        actor=actor,
        action="partner.updated",
        obj=partner,
        changes={field: list(pair) for field, pair in line.changes.items()},
    )


def _set_coverage(partner: Partner, record: csv_plan.PartnerRecord, refs: _Refs) -> None:
    """Make the partner's coverage exactly what the record says."""
    wanted_territories = {refs.territories[code] for code in record.territories}
    for coverage in [c for c in partner.territories if c.territory_id not in wanted_territories]:
        partner.territories.remove(coverage)
    have = {c.territory_id for c in partner.territories}
    for territory_id in wanted_territories - have:
        partner.territories.append(PartnerTerritory(territory_id=territory_id))
    wanted_products = {refs.products[code]: level for code, level in record.products}
    for coverage in list(partner.products):
        if coverage.product_id not in wanted_products:
            partner.products.remove(coverage)
        else:
            coverage.certification = wanted_products.pop(coverage.product_id)
    for product_id, level in wanted_products.items():
        partner.products.append(PartnerProduct(product_id=product_id, certification=level))


def recent_imports(limit: int = 10) -> list[PartnerImport]:
    query = sa.select(PartnerImport).order_by(PartnerImport.created_at.desc()).limit(limit)
    return list(db.session.scalars(query))
