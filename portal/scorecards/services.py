"""Scorecards read from the offers of a period: per partner, ranked, and over time.

One query reads the period's offers with what became of their leads; each partner's SLA
calendar turns its answer times into business hours; portal.scorecards.metrics does the
rest. A partner without offers in the period still has a row, with nothing to show.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal import audit
from portal.db import utcnow
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.leads.inbox import STILL_OPEN, stale_after
from portal.leads.models import Lead, LeadEvent, Offer
from portal.partners.models import Partner, Product, Tier
from portal.scorecards import velocity
from portal.scorecards.metrics import (
    ACCEPTED,
    REJECTED,
    OfferOutcome,
    QualityWeights,
    Scorecard,
    scorecard,
)
from portal.scorecards.models import ScorecardSettings
from portal.scorecards.periods import CUSTOM, Period, trail
from portal.sla.clock import business_elapsed
from portal.sla.policy import PartnerSla, default_policy, partner_sla
from portal.tenancy.services import note_config_change

# The columns a ranking may be sorted by, and whether the best come first when high.
SORTS = {
    "quality": True, "offered": True, "acceptance_rate": True, "sla_compliance": True,
    "response_median_h": False, "sal_to_sql": True, "sal_to_won": True, "name": False,
}  # fmt: skip
TREND_PERIODS = 6
DEFAULT_WINDOW_DAYS = 90


@dataclass(frozen=True)
class PartnerCard:
    partner_id: int
    name: str
    tier: str
    tier_rank: int
    country: str
    card: Scorecard


def cards(
    period: Period,
    *,
    tier_id: int | None = None,
    country: str | None = None,
    partner_ids: Collection[int] | None = None,
) -> list[PartnerCard]:
    """The scorecard of every partner (or of those chosen) for the period, by name."""
    query = sa.select(Partner).options(selectinload(Partner.sla_policy)).order_by(Partner.name)
    if tier_id is not None:
        query = query.where(Partner.tier_id == tier_id)
    if country:
        query = query.where(Partner.country == country.upper())
    if partner_ids is not None:
        query = query.where(Partner.id.in_(list(partner_ids)))
    partners = list(db.session.scalars(query))
    default = default_policy()
    slas = {p.id: partner_sla(p, default) for p in partners}
    outcomes = _outcomes(period, slas)
    weights = quality_weights()
    return [
        PartnerCard(
            p.id,
            p.name,
            p.tier.name,
            p.tier.rank,
            p.country,
            scorecard(outcomes.get(p.id, ()), weights, slas[p.id].calendar.response_hours),
        )
        for p in partners
    ]


def ranking(
    rows: list[PartnerCard], sort: str, descending: bool | None = None
) -> list[PartnerCard]:
    """The rows sorted by a column of SORTS, the best first unless told otherwise; rows
    without a value for it come last either way."""
    if sort not in SORTS:
        sort = "quality"
    if descending is None:
        descending = SORTS[sort]
    if sort == "name":
        return sorted(rows, key=lambda r: r.name.casefold(), reverse=bool(descending))
    known = [r for r in rows if getattr(r.card, sort) is not None]
    unknown = [r for r in rows if getattr(r.card, sort) is None]
    known.sort(key=lambda r: (getattr(r.card, sort), r.name.casefold()), reverse=bool(descending))
    return known + sorted(unknown, key=lambda r: r.name.casefold())


def partner_card(partner_id: int, period: Period) -> PartnerCard:
    found = cards(period, partner_ids=[partner_id])
    if not found:
        raise NotFound("no such partner")
    return found[0]


@dataclass(frozen=True)
class Trend:
    period: Period
    card: Scorecard
    tier_median_quality: float | None


def trend(partner: PartnerCard, period: Period, count: int = TREND_PERIODS) -> list[Trend]:
    """The partner's scorecard over the periods ending with this one, beside the median
    quality of the partners of its tier."""
    out = []
    for each in trail(period, count):
        tier_cards = [c for c in cards(each) if c.tier_rank == partner.tier_rank]
        own = next((c.card for c in tier_cards if c.partner_id == partner.partner_id), None)
        qualities = [c.card.quality for c in tier_cards if c.card.quality is not None]
        median = statistics.median(qualities) if qualities else None
        out.append(Trend(each, own or scorecard([]), median))
    return out


def _outcomes(period: Period, slas: dict[int, PartnerSla]) -> dict[int, list[OfferOutcome]]:
    """The period's offers of these partners, as outcomes, by partner."""
    if not slas:
        return {}
    query = (
        sa.select(
            Offer.partner_id,
            Offer.state,
            Offer.reason_code,
            Offer.offered_at,
            Offer.decided_at,
            Offer.due_at,
            Lead.state,
            Lead.opportunity_minor,
            Lead.won_minor,
            Lead.won_currency,
            Lead.partner_updated_at,
            Lead.updated_at,
        )
        .join(Lead, Lead.id == Offer.lead_id)
        .where(Offer.offered_at >= period.starts_at, Offer.offered_at < period.ends_at)
        .where(Offer.partner_id.in_(list(slas)))
    )
    now, after = utcnow(), stale_after()
    by_partner: dict[int, list[OfferOutcome]] = defaultdict(list)
    for row in db.session.execute(query):
        by_partner[row[0]].append(_outcome(row, slas[row[0]], now, after))
    return by_partner


def _outcome(row: sa.Row, sla: PartnerSla, now: datetime, after: timedelta) -> OfferOutcome:
    (_, state, reason, offered_at, decided_at, due_at, lead_state, opportunity, won_minor,
     won_currency, partner_updated_at, updated_at) = row  # fmt: skip
    answered = state in (ACCEPTED, REJECTED) and decided_at is not None
    hours = None
    if answered:
        elapsed = business_elapsed(offered_at, decided_at, sla.calendar, sla.is_holiday)
        hours = elapsed.total_seconds() / 3600
    held = state == ACCEPTED
    last = partner_updated_at or updated_at
    return OfferOutcome(
        state=state,
        reason_code=reason,
        answered_in_time=(decided_at <= due_at) if answered else None,
        response_hours=hours,
        lead_state=lead_state if held else None,
        had_opportunity=held and opportunity is not None,
        won_minor=won_minor if held else None,
        won_currency=won_currency if held else None,
        stale=held and lead_state in STILL_OPEN and last is not None and now - last > after,
    )


# The offers behind a number ------------------------------------------------------------

# What each number of a scorecard counts, as a condition on the period's offers.
OUTCOMES = {
    "offered": "Offered",
    "accepted": "Accepted",
    "rejected": "Rejected",
    "expired": "Expired",
    "recalled": "Recalled",
    "open": "Still open",
    "late": "Not answered within the SLA",
    "sql": "Accepted and moved to SQL",
    "won": "Accepted and won",
    "stale": "Accepted and stale",
}


def offers_behind(
    partner_id: int, period: Period, outcome: str, reason: str | None, page: int, per_page: int
) -> Any:
    """The partner's offers of the period that a scorecard number counts, newest first."""
    if outcome not in OUTCOMES:
        raise NotFound("no such number")
    query = (
        sa.select(Offer)
        .join(Lead, Lead.id == Offer.lead_id)
        .options(sa.orm.contains_eager(Offer.lead))
        .where(Offer.partner_id == partner_id)
        .where(Offer.offered_at >= period.starts_at, Offer.offered_at < period.ends_at)
        .order_by(Offer.offered_at.desc(), Offer.id.desc())
    )
    accepted = Offer.state == ACCEPTED
    if outcome in ("accepted", "rejected", "expired", "recalled", "open"):
        query = query.where(Offer.state == outcome)
    elif outcome == "late":
        answered_late = sa.and_(
            Offer.state.in_((ACCEPTED, REJECTED)), Offer.decided_at > Offer.due_at
        )
        query = query.where(sa.or_(Offer.state == "expired", answered_late))
    elif outcome == "sql":
        query = query.where(
            accepted, sa.or_(Lead.opportunity_minor.is_not(None), Lead.state.in_(("sql", "won")))
        )
    elif outcome == "won":
        query = query.where(accepted, Lead.state == "won")
    elif outcome == "stale":
        last = sa.func.coalesce(Lead.partner_updated_at, Lead.updated_at)
        query = query.where(accepted, Lead.state.in_(STILL_OPEN), last < utcnow() - stale_after())
    if reason and outcome == "rejected":
        query = query.where(Offer.reason_code == (None if reason == "none" else reason))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


# Pipeline velocity ---------------------------------------------------------------------

VELOCITY_GROUPS = {"partner": "Partner", "tier": "Tier", "product": "Product"}


@dataclass(frozen=True)
class VelocityRow:
    label: str
    stages: dict[str, velocity.Velocity]


def pipeline_velocity(period: Period, by: str) -> tuple[VelocityRow, list[VelocityRow]]:
    """How long the period's leads took at each stage: over all, and by partner, tier or
    product (by label)."""
    ends = sa.or_(LeadEvent.to_state.in_(("offered", "sql", "won")), LeadEvent.action == "accept")
    in_period = (LeadEvent.at >= period.starts_at, LeadEvent.at < period.ends_at)
    leads = sa.select(LeadEvent.lead_id).where(ends, *in_period).distinct()
    query = (
        sa.select(
            LeadEvent.lead_id,
            LeadEvent.action,
            LeadEvent.to_state,
            LeadEvent.at,
            Offer.partner_id,
            Lead.product_id,
        )
        .join(Lead, Lead.id == LeadEvent.lead_id)
        .outerjoin(Offer, Offer.id == LeadEvent.offer_id)
        .where(LeadEvent.lead_id.in_(leads), LeadEvent.at < period.ends_at)
    )
    facts = [velocity.EventFact(*row) for row in db.session.execute(query)]
    passed = velocity.passes(facts, period.starts_at, period.ends_at)
    overall = velocity.velocity(passed, lambda _: "all").get("all", {})
    names = _velocity_names(by)
    if by == "tier":
        tier_of = dict(db.session.execute(sa.select(Partner.id, Partner.tier_id)).all())
        grouped = velocity.velocity(passed, lambda p: tier_of.get(p.partner_id))
    elif by == "product":
        grouped = velocity.velocity(passed, lambda p: p.product_id)
    else:
        grouped = velocity.velocity(passed, lambda p: p.partner_id)
    rows = [VelocityRow(names.get(key, str(key)), stages) for key, stages in grouped.items()]
    return VelocityRow("All", overall), sorted(rows, key=lambda r: r.label.casefold())


def _velocity_names(by: str) -> dict[object, str]:
    if by == "tier":
        return dict(db.session.execute(sa.select(Tier.id, Tier.name)).all())
    if by == "product":
        return dict(db.session.execute(sa.select(Product.id, Product.name)).all())
    return dict(db.session.execute(sa.select(Partner.id, Partner.name)).all())


# The quality routing reads ---------------------------------------------------------------


def settings_row() -> ScorecardSettings | None:
    return db.session.scalar(sa.select(ScorecardSettings))


def quality_weights() -> QualityWeights:
    row = settings_row()
    if row is None:
        return QualityWeights()
    return QualityWeights(
        row.weight_acceptance, row.weight_sla, row.weight_response, row.weight_conversion
    )


def quality_period(today: date) -> Period:
    """The days of offers a partner's quality is read over: the window, up to today."""
    row = settings_row()
    days = row.quality_window_days if row else DEFAULT_WINDOW_DAYS
    return Period(CUSTOM, today - timedelta(days=days - 1), today + timedelta(days=1))


def recompute_quality(partner_ids: Collection[int] | None = None) -> int:
    """Work out the quality of the tenant's partners (or of these) over the quality window
    and keep it where it changed; commits. How many changed.

    A change moves the tenant's configuration version, so routing rebuilds its index and
    the next offers go by the new quality.
    """
    now = utcnow()
    period = quality_period(now.date())
    changed = 0
    qualities = {row.partner_id: row.card.quality for row in cards(period, partner_ids=partner_ids)}
    if qualities:
        partners = db.session.scalars(sa.select(Partner).where(Partner.id.in_(list(qualities))))
        for partner in partners:
            partner.quality_at = now
            if partner.quality != qualities[partner.id]:
                partner.quality = qualities[partner.id]
                changed += 1
    if changed:
        note_config_change()
    db.session.commit()
    return changed


# Settings -------------------------------------------------------------------------------

SETTING_FIELDS = {
    "weight_acceptance": (0, 100), "weight_sla": (0, 100), "weight_response": (0, 100),
    "weight_conversion": (0, 100), "quality_window_days": (7, 365),
}  # fmt: skip
WEIGHT_FIELDS = tuple(name for name in SETTING_FIELDS if name.startswith("weight_"))
ALL_ZERO = "At least one part must count, or there would be no quality to speak of."


def settings_values() -> dict[str, int]:
    """The tenant's scorecard settings, the defaults where it has set none."""
    row = settings_row()
    defaults = QualityWeights()
    return {
        "weight_acceptance": row.weight_acceptance if row else defaults.acceptance,
        "weight_sla": row.weight_sla if row else defaults.sla,
        "weight_response": row.weight_response if row else defaults.response,
        "weight_conversion": row.weight_conversion if row else defaults.conversion,
        "quality_window_days": row.quality_window_days if row else DEFAULT_WINDOW_DAYS,
    }


def save_settings(raw: Mapping[str, Any], *, actor: Any) -> ScorecardSettings:
    """Set the quality score's weights (0 to 100, not all zero) and its window (7 to 365
    days), audited; every partner's quality is then worked out again."""
    values, errors = {}, {}
    for name, (low, high) in SETTING_FIELDS.items():
        text = str(raw.get(name) if raw.get(name) is not None else "").strip()
        if not re.fullmatch(r"\d+", text) or not low <= int(text) <= high:
            errors[name] = f"Give a whole number from {low} to {high}."
        else:
            values[name] = int(text)
    if not errors and not any(values[name] for name in WEIGHT_FIELDS):
        errors["weights"] = ALL_ZERO
    if errors:
        raise ValidationFailed(errors)
    row = settings_row()
    if row is None:
        row = ScorecardSettings(**settings_values())
        db.session.add(row)
        db.session.flush()
    changes = audit.apply_changes(row, values)
    if changes:
        audit.record(db.session, actor=actor, action="scorecard_settings.updated", obj=row,
                     changes=changes)  # fmt: skip
    db.session.commit()
    if changes:
        from portal.scorecards.tasks import quality_rules_changed

        quality_rules_changed()
    return row


def tier_choices() -> list[tuple[int, str]]:
    return [(t.id, t.name) for t in db.session.scalars(sa.select(Tier).order_by(Tier.rank))]


def countries() -> list[str]:
    return list(db.session.scalars(sa.select(Partner.country).distinct().order_by(Partner.country)))
