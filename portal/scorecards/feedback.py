"""Closed-loop feedback for marketing: why partners turn leads down, and which MQLs become
SALs, by source, campaign, product and territory.

Rejections count the offers of the period (by when they were offered) that partners
rejected, by reason. Conversion counts the leads that became MQLs in the period, and of
them those a partner has accepted since.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from portal import csvtext
from portal.extensions import db
from portal.leads.lifecycle import Action, LeadState
from portal.leads.models import Lead, LeadEvent, Offer
from portal.partners.models import Product, Territory
from portal.scorecards.periods import Period

# What rejections can be grouped by, and how each is named in the page.
GROUPS = {
    "source": "Source",
    "campaign": "Campaign",
    "product": "Product",
    "territory": "Territory",
}
# Conversion is by what marketing chose when it sent the lead.
CONVERSION_GROUPS = ("source", "campaign")
NONE = "(none)"


@dataclass
class Rejections:
    group: str
    total: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversion:
    group: str
    mqls: int
    sals: int

    @property
    def rate(self) -> float | None:
        return self.sals / self.mqls if self.mqls else None


def _group_column(by: str) -> sa.ColumnElement[str]:
    return {
        "source": Lead.source,
        "campaign": Lead.campaign,
        "product": Product.name,
        "territory": Territory.code,
    }[by]


def rejections(period: Period, by: str) -> tuple[list[Rejections], list[str]]:
    """The period's rejections by group and reason, the largest group first; the reasons
    in order of how often they were given."""
    column = _group_column(by)
    query = (
        sa.select(column, Offer.reason_code, sa.func.count())
        .select_from(Offer)
        .join(Lead, Lead.id == Offer.lead_id)
        .outerjoin(Product, Product.id == Lead.product_id)
        .outerjoin(Territory, Territory.id == Offer.territory_id)
        .where(Offer.state == "rejected")
        .where(Offer.offered_at >= period.starts_at, Offer.offered_at < period.ends_at)
        .group_by(column, Offer.reason_code)
    )
    groups: dict[str, Rejections] = {}
    reasons: dict[str, int] = {}
    for value, reason, count in db.session.execute(query):
        name, code = value or NONE, reason or NONE
        row = groups.setdefault(name, Rejections(name))
        row.total += count
        row.by_reason[code] = row.by_reason.get(code, 0) + count
        reasons[code] = reasons.get(code, 0) + count
    ordered = sorted(groups.values(), key=lambda r: (-r.total, r.group.casefold()))
    return ordered, sorted(reasons, key=lambda code: (-reasons[code], code))


def conversion(period: Period, by: str) -> list[Conversion]:
    """The leads that became MQLs in the period, by group, and how many a partner accepted."""
    if by not in CONVERSION_GROUPS:
        by = "source"
    column = _group_column(by)
    became_mql = (
        sa.select(LeadEvent.lead_id)
        .where(LeadEvent.to_state == LeadState.MQL.value)
        .where(LeadEvent.at >= period.starts_at, LeadEvent.at < period.ends_at)
        .distinct()
        .subquery()
    )
    accepted = sa.exists().where(
        LeadEvent.lead_id == Lead.id, LeadEvent.action == Action.ACCEPT.value
    )
    query = (
        sa.select(column, sa.func.count(), sa.func.sum(sa.case((accepted, 1), else_=0)))
        .select_from(Lead)
        .join(became_mql, became_mql.c.lead_id == Lead.id)
        .group_by(column)
    )
    rows = [
        Conversion(value or NONE, mqls, int(sals or 0))
        for value, mqls, sals in db.session.execute(query)
    ]
    return sorted(rows, key=lambda r: (-r.mqls, r.group.casefold()))


def rejections_csv(period: Period, by: str) -> str:
    rows, reasons = rejections(period, by)
    header = [GROUPS[by], "rejected", *reasons]
    return csvtext.write_rows(
        header, ([r.group, r.total, *(r.by_reason.get(c, 0) for c in reasons)] for r in rows)
    )


def conversion_csv(period: Period, by: str) -> str:
    rows = conversion(period, by)
    return csvtext.write_rows(
        [GROUPS[by], "mqls", "sals", "rate"],
        ([r.group, r.mqls, r.sals, "" if r.rate is None else f"{r.rate:.4f}"] for r in rows),
    )
