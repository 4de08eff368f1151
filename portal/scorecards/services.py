"""Scorecards read from the offers of a period: per partner, ranked, and over time.

The database adds up each partner's offers of the period with what became of their leads
(answer times are kept on the offers in the partner's SLA calendar's time);
portal.scorecards.metrics turns the sums into scorecards. A partner without offers in the
period still has a row, with nothing to show.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal import audit
from portal.db import utcnow
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.leads.inbox import LAST_UPDATE, STILL_OPEN, stale_after
from portal.leads.models import Lead, LeadEvent, Offer
from portal.partners.models import Partner, PartnerProduct, Product, Tier
from portal.partners.validation import InvalidValue, whole_number
from portal.scorecards import velocity
from portal.scorecards.metrics import (
    ACCEPTED,
    BUCKET_LABELS,
    OFFER_STATES,
    REACHED_SQL,
    REJECTED,
    RESPONSE_BUCKETS,
    QualityWeights,
    Scorecard,
    Tally,
    card_of,
    percentile,
)
from portal.scorecards.models import ScorecardSettings, TierQuality
from portal.scorecards.periods import CUSTOM, Period, month_of, quarter_of, trail
from portal.sla.policy import PartnerSla, answer_seconds, default_policy, partner_sla, sla_calendar
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
    product_id: int | None = None,
    partner_ids: Collection[int] | None = None,
) -> list[PartnerCard]:
    """The scorecard of every partner (or of those chosen) for the period, by name. For a
    product: the partners that sell it, each by its offers of leads for that product."""
    return cards_over(
        [period], tier_id=tier_id, country=country, product_id=product_id,
        partner_ids=partner_ids,
    )[0]  # fmt: skip


def cards_over(
    periods: Sequence[Period],
    *,
    tier_id: int | None = None,
    country: str | None = None,
    product_id: int | None = None,
    partner_ids: Collection[int] | None = None,
) -> list[list[PartnerCard]]:
    """cards() of each of the periods (which do not overlap), added up in one pass."""
    query = sa.select(Partner).options(selectinload(Partner.sla_policy)).order_by(Partner.name)
    if tier_id is not None:
        query = query.where(Partner.tier_id == tier_id)
    if country:
        query = query.where(Partner.country == country.upper())
    if product_id is not None:
        sells = sa.select(PartnerProduct.partner_id).where(PartnerProduct.product_id == product_id)
        query = query.where(Partner.id.in_(sells))
    if partner_ids is not None:
        query = query.where(Partner.id.in_(list(partner_ids)))
    partners = list(db.session.scalars(query))
    every = tier_id is None and not country and product_id is None and partner_ids is None
    sums = tallies_over(periods, None if every else [p.id for p in partners], product_id=product_id)
    weights = quality_weights()
    default = default_policy()
    windows = {p.id: sla_calendar(p, default)[0].response_hours for p in partners}
    return [
        [
            PartnerCard(
                p.id,
                p.name,
                p.tier.name,
                p.tier.rank,
                p.country,
                card_of(period_sums.get(p.id, EMPTY), weights, windows[p.id]),
            )
            for p in partners
        ]
        for period_sums in sums
    ]


EMPTY = Tally()


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
    quality of the partners of its tier (kept per period, see tier_medians)."""
    tier_id = db.session.scalar(sa.select(Partner.tier_id).where(Partner.id == partner.partner_id))
    periods = trail(period, count)
    own = cards_over(periods, partner_ids=[partner.partner_id])
    medians = kept_tier_medians(periods)
    return [
        Trend(each, rows[0].card if rows else card_of(EMPTY), medians[n].get(tier_id))
        for n, (each, rows) in enumerate(zip(periods, own, strict=True))
    ]


# How long a kept tier median is good for: the hourly job works the recent ones out again.
TIER_MEDIAN_FRESH = timedelta(hours=2)


def tier_medians(period: Period, *, refresh: bool = False) -> dict[int, float | None]:
    """The median quality of each tier's partners over the period: as kept, unless it is
    older than TIER_MEDIAN_FRESH (or refresh is asked), then worked out and kept again."""
    return _work_out_tier_medians(period) if refresh else kept_tier_medians([period])[0]


def kept_tier_medians(periods: Sequence[Period]) -> list[dict[int, float | None]]:
    """tier_medians() of each period: those kept and fresh read in one query, the others
    worked out."""
    now = utcnow()
    kept: dict[str, list[TierQuality]] = defaultdict(list)
    rows = sa.select(TierQuality).where(TierQuality.period.in_([p.key for p in periods]))
    for row in db.session.scalars(rows):
        kept[row.period].append(row)
    out = []
    for period in periods:
        found = kept.get(period.key)
        if found and all(now - row.computed_at < TIER_MEDIAN_FRESH for row in found):
            out.append({row.tier_id: row.median for row in found})
        else:
            out.append(_work_out_tier_medians(period))
    return out


def _work_out_tier_medians(period: Period) -> dict[int, float | None]:
    """Each tier's median quality over the period from every partner's scorecard, kept
    in place of what was kept for the period; commits."""
    qualities: dict[int, list[int]] = defaultdict(list)
    tier_of = dict(db.session.execute(sa.select(Partner.id, Partner.tier_id)).all())
    for row in cards(period):
        if row.card.quality is not None:
            qualities[tier_of[row.partner_id]].append(row.card.quality)
    medians = {
        tier_id: statistics.median(qualities[tier_id]) if qualities[tier_id] else None
        for tier_id in db.session.scalars(sa.select(Tier.id))
    }
    now = utcnow()
    db.session.execute(sa.delete(TierQuality).where(TierQuality.period == period.key))
    db.session.add_all(
        TierQuality(period=period.key, tier_id=tier_id, median=median,
                    partners=len(qualities[tier_id]), computed_at=now)
        for tier_id, median in medians.items()
    )  # fmt: skip
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()  # another request kept the same medians at the same time
    return medians


def refresh_tier_medians(today: date) -> None:
    """Work out again the tier medians of the periods a partner page shows by default."""
    for period in [
        *trail(month_of(today), TREND_PERIODS),
        *trail(quarter_of(today), TREND_PERIODS),
    ]:
        tier_medians(period, refresh=True)


def forget_tier_medians() -> None:
    """The quality rules changed: every kept median is out of date."""
    db.session.execute(sa.delete(TierQuality))


def tallies_over(
    periods: Sequence[Period],
    partner_ids: Collection[int] | None = None,
    *,
    product_id: int | None = None,
) -> list[dict[int, Tally]]:
    """What each partner's offers of each period add up to (all partners, or these; all
    leads, or a product's), by period and partner; the periods do not overlap. One GROUP BY
    partner and period over the offers and their leads (on PostgreSQL with the answer
    times' median and 90th percentile), and two small ones for the rejections by reason
    and the won revenue by currency."""
    out: list[dict[int, Tally]] = [{} for _ in periods]
    if partner_ids is not None and not partner_ids:
        return out
    chosen = [
        Offer.offered_at >= min(p.starts_at for p in periods),
        Offer.offered_at < max(p.ends_at for p in periods),
    ]
    if partner_ids is not None:
        chosen.append(Offer.partner_id.in_(list(partner_ids)))
    if product_id is not None:
        chosen.append(Offer.lead_id.in_(sa.select(Lead.id).where(Lead.product_id == product_id)))
    # The period an offer counts in: with one period, a constant outside the GROUP BY.
    which, grouped = sa.literal_column("0"), []
    if len(periods) > 1:
        which = sa.case(
            *((Offer.offered_at < p.ends_at, n) for n, p in sorted(
                enumerate(periods), key=lambda pair: pair[1].starts_at
            ))
        )  # fmt: skip
        grouped = [which]
        chosen.append(sa.or_(*(
            sa.and_(Offer.offered_at >= p.starts_at, Offer.offered_at < p.ends_at)
            for p in periods
        )))  # fmt: skip
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres and partner_ids is None:
        # One scan of a quarter's million offers: a hash join and a hash aggregate in memory
        # instead of sorts spilled to disk; compiling it to machine code costs more than it saves.
        db.session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
        db.session.execute(sa.text("SET LOCAL jit = off"))
    accepted = Offer.state == ACCEPTED
    answered = Offer.state.in_((ACCEPTED, REJECTED))
    seconds = Offer.response_seconds
    buckets, lower = [], 0.0
    for _label, limit in RESPONSE_BUCKETS:
        bucket = sa.and_(answered, seconds >= int(lower * 3600))
        if limit != math.inf:
            bucket = sa.and_(bucket, seconds < int(limit * 3600))
        buckets.append(_count(bucket))
        lower = limit
    percentiles = []
    if postgres:
        percentiles = [
            sa.func.percentile_disc(share).within_group(seconds).filter(answered)
            for share in (0.5, 0.9)
        ]
    stale_before = utcnow() - stale_after()
    query = (
        sa.select(
            which,
            Offer.partner_id,
            *(_count(Offer.state == state) for state in OFFER_STATES),
            _count(sa.and_(answered, Offer.decided_at <= Offer.due_at)),
            _count(
                sa.and_(
                    accepted,
                    sa.or_(Lead.opportunity_minor.is_not(None), Lead.state.in_(REACHED_SQL)),
                )
            ),
            _count(sa.and_(accepted, Lead.state == "won")),
            _count(sa.and_(accepted, Lead.state.in_(STILL_OPEN), stale_before > LAST_UPDATE)),
            *buckets,
            *percentiles,
        )
        .join(Lead, Lead.id == Offer.lead_id)
        .where(*chosen)
        .group_by(*grouped, Offer.partner_id)
    )
    sums: dict[tuple[int, int], dict[str, Any]] = {}
    width = len(OFFER_STATES)
    for n, partner_id, *row in db.session.execute(query):
        states, (in_time, reached_sql, won, stale), rest = (
            row[:width],
            row[width : width + 4],
            row[width + 4 :],
        )
        sums[(n, partner_id)] = {
            "states": {s: int(c) for s, c in zip(OFFER_STATES, states, strict=True) if c},
            "in_time": int(in_time), "reached_sql": int(reached_sql), "won": int(won),
            "stale": int(stale),
            "response_buckets": dict(zip(BUCKET_LABELS, map(int, rest[:len(BUCKET_LABELS)]),
                                         strict=True)),
            "rejected_by_reason": {}, "won_revenue": {},
        }  # fmt: skip
        if postgres:
            median, p90 = rest[len(BUCKET_LABELS) :]
            sums[(n, partner_id)]["response_median_h"] = None if median is None else median / 3600
            sums[(n, partner_id)]["response_p90_h"] = None if p90 is None else p90 / 3600
    reasons = (
        sa.select(which, Offer.partner_id, Offer.reason_code, sa.func.count())
        .where(*chosen, Offer.state == REJECTED)
        .group_by(*grouped, Offer.partner_id, Offer.reason_code)
    )
    for n, partner_id, reason, count in db.session.execute(reasons):
        by_reason = sums[(n, partner_id)]["rejected_by_reason"]
        by_reason[reason or "none"] = by_reason.get(reason or "none", 0) + count
    revenue = (
        sa.select(which, Offer.partner_id, Lead.won_currency, sa.func.sum(Lead.won_minor))
        .join(Lead, Lead.id == Offer.lead_id)
        .where(*chosen, accepted, Lead.state == "won")
        .where(Lead.won_minor.is_not(None), Lead.won_currency.is_not(None))
        .group_by(*grouped, Offer.partner_id, Lead.won_currency)
    )
    for n, partner_id, currency, amount in db.session.execute(revenue):
        sums[(n, partner_id)]["won_revenue"][currency] = int(amount)
    if not postgres:
        for key, (median, p90) in _answer_percentiles(which, chosen).items():
            sums[key]["response_median_h"] = median
            sums[key]["response_p90_h"] = p90
    for (n, partner_id), values in sums.items():
        out[n][partner_id] = Tally(**values)
    return out


def _count(condition: Any) -> Any:
    return sa.func.count().filter(condition)


def _answer_percentiles(
    which: Any, chosen: list[Any]
) -> dict[tuple[int, int], tuple[float, float]]:
    """The median and 90th percentile answer time (hours) of each period's and partner's
    answered offers by nearest rank, as PostgreSQL's percentile_disc gives them: SQLite has
    none, so its answer times are read in order and ranked here."""
    query = (
        sa.select(which, Offer.partner_id, Offer.response_seconds)
        .where(*chosen, Offer.state.in_((ACCEPTED, REJECTED)), Offer.response_seconds.is_not(None))
        .order_by(Offer.response_seconds)
    )
    by_key: dict[tuple[int, int], list[float]] = defaultdict(list)
    for n, partner_id, value in db.session.execute(query):
        by_key[(n, partner_id)].append(value / 3600)
    return {
        key: (percentile(hours, 0.5), percentile(hours, 0.9))  # type: ignore[misc]
        for key, hours in by_key.items()
    }


def fill_answer_times(limit: int = 10_000) -> int:
    """Work out the answer time of answered offers that have none (answered before it was
    kept), up to limit of them; commits. How many were filled."""
    missing = list(
        db.session.scalars(
            sa.select(Offer)
            .where(Offer.state.in_((ACCEPTED, REJECTED)), Offer.response_seconds.is_(None))
            .where(Offer.decided_at.is_not(None))
            .options(selectinload(Offer.partner).selectinload(Partner.sla_policy))
            .limit(limit)
        )
    )
    default = default_policy()
    slas: dict[int, PartnerSla] = {}
    for offer in missing:
        sla = slas.get(offer.partner_id) or slas.setdefault(
            offer.partner_id, partner_sla(offer.partner, default)
        )
        offer.response_seconds = answer_seconds(sla, offer.offered_at, offer.decided_at)
    db.session.commit()
    return len(missing)


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
        query = query.where(
            accepted, Lead.state.in_(STILL_OPEN), utcnow() - stale_after() > LAST_UPDATE
        )
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
        try:
            values[name] = whole_number(raw.get(name), low, high)
        except InvalidValue as exc:
            errors[name] = str(exc)
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
        forget_tier_medians()
        audit.record(db.session, actor=actor, action="scorecard_settings.updated", obj=row,
                     changes=changes)  # fmt: skip
    db.session.commit()
    if changes:
        from portal.scorecards.tasks import quality_rules_changed

        quality_rules_changed()
    return row


def tier_choices() -> list[tuple[int, str]]:
    return [(t.id, t.name) for t in db.session.scalars(sa.select(Tier).order_by(Tier.rank))]


def product_choices() -> list[tuple[int, str]]:
    return [(p.id, p.name) for p in db.session.scalars(sa.select(Product).order_by(Product.name))]


def countries() -> list[str]:
    return list(db.session.scalars(sa.select(Partner.country).distinct().order_by(Partner.country)))
