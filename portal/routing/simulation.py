"""What-if routing simulations: a drafted change run over a past period's leads.

A run reads the tenant's configuration, the leads first routed in the period and what
became of them, and writes one RoutingSimulation row, nothing else: no offer, no lead
event, no audit entry, no configuration version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from portal.db import utcnow
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.leads.models import Lead, LeadEvent, Offer
from portal.partners.models import Partner, Product, SlaPolicy, Territory, Tier
from portal.partners.validation import InvalidValue
from portal.routing import dispatch
from portal.routing.drafts import DraftParts, clean_draft
from portal.routing.facts import RoutingConfig
from portal.routing.index import build_index
from portal.routing.models import RoutingSimulation
from portal.routing.services import DEFAULT_WEIGHTS, _Errors
from portal.routing.whatif import PastLead, SimulationResult, apply_draft, simulate
from portal.sla.clock import BUSINESS, SlaCalendar
from portal.sla.policy import sla_calendar

MAX_LEADS = 50_000
MAX_DAYS = 366
MAX_NOTE = 2_000
DEFAULT_DAYS = 30
PER_PAGE = 20
ROUTING_ACTIONS = ("route", "no_partner", "to_direct_sales", "assign")
OUTCOMES = ("fallback", "direct_sales", "unroutable")
HOURS_PER_WEEK = 7 * 24


# Reading --------------------------------------------------------------------------------------


def simulations(page: int = 1) -> Any:
    """The tenant's simulations, newest first, a page at a time."""
    query = sa.select(RoutingSimulation).order_by(
        RoutingSimulation.created_at.desc(), RoutingSimulation.id.desc()
    )
    return db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)


def get_simulation(simulation_id: int) -> RoutingSimulation:
    found = db.session.scalar(
        sa.select(RoutingSimulation).where(RoutingSimulation.id == simulation_id)
    )
    if found is None:
        raise NotFound("no such simulation")
    return found


def default_period(today: date | None = None) -> tuple[date, date]:
    """The last DEFAULT_DAYS days, today included."""
    today = today or utcnow().date()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


# The period -----------------------------------------------------------------------------------


def _day(raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw or "").strip())
    except ValueError:
        raise InvalidValue("Give a date, for example 2026-10-01.") from None


def _clean_period(errors: _Errors, raw: Mapping[str, Any]) -> tuple[date, date] | None:
    start = errors.check("period_start", _day, raw.get("period_start"))
    end = errors.check("period_end", _day, raw.get("period_end"))
    if start is None or end is None:
        return None
    today = utcnow().date()
    if end > today:
        errors["period_end"] = "The period cannot end in the future: past leads are simulated."
    elif start > end:
        errors["period_start"] = "The period must start on or before its last day."
    elif (end - start).days + 1 > MAX_DAYS:
        errors["period_start"] = f"Choose a period of at most {MAX_DAYS} days."
    return None if {"period_start", "period_end"} & errors.keys() else (start, end)


def _clean_name(errors: _Errors, raw: Mapping[str, Any], period: tuple[date, date] | None) -> str:
    name = " ".join(str(raw.get("name") or "").split())
    if len(name) > 120:
        errors["name"] = "Use at most 120 characters."
    if len(str(raw.get("note") or "")) > MAX_NOTE:
        errors["note"] = f"Use at most {MAX_NOTE:,} characters."
    if not name and period is not None:
        name = f"What-if of {period[0].isoformat()} to {period[1].isoformat()}"
    return name


# Past leads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actual:
    """What happened to the period's leads at their first routing."""

    leads: list[PastLead]
    offered: dict[int, int]
    outcomes: dict[str, int]


def _bounds(period: tuple[date, date]) -> tuple[datetime, datetime]:
    start = datetime.combine(period[0], time(), tzinfo=UTC)
    return start, datetime.combine(period[1] + timedelta(days=1), time(), tzinfo=UTC)


def _first_routings(period: tuple[date, date]) -> sa.Select[Any]:
    first = (
        sa.select(LeadEvent.lead_id, sa.func.min(LeadEvent.id).label("event_id"))
        .where(LeadEvent.action.in_(ROUTING_ACTIONS))
        .group_by(LeadEvent.lead_id)
        .subquery()
    )
    start, end = _bounds(period)
    return (
        sa.select(
            LeadEvent.at,
            LeadEvent.action,
            Offer.partner_id,
            Offer.explanation["outcome"].as_string().label("decided"),
            Lead.product_id,
            Lead.country,
            Lead.subdivision,
            Lead.postal_code,
            Lead.employees,
            Lead.deal_size_minor,
            Lead.currency,
        )
        .join(first, first.c.event_id == LeadEvent.id)
        .join(Lead, Lead.id == LeadEvent.lead_id)
        .outerjoin(Offer, Offer.id == LeadEvent.offer_id)
        .where(LeadEvent.at >= start, LeadEvent.at < end)
        .order_by(LeadEvent.at, LeadEvent.id)
    )


def _actual(period: tuple[date, date]) -> Actual:
    """The leads first routed in the period, and where that routing sent each."""
    rows = db.session.execute(_first_routings(period).limit(MAX_LEADS + 1)).all()
    if len(rows) > MAX_LEADS:
        raise ValidationFailed(
            {
                "period_start": f"More than {MAX_LEADS:,} leads were routed in this period; "
                "choose a shorter period."
            }
        )
    offered: dict[int, int] = {}
    outcomes = dict.fromkeys(OUTCOMES, 0)
    for row in rows:
        if row.partner_id is not None:
            offered[row.partner_id] = offered.get(row.partner_id, 0) + 1
            if row.decided == "fallback_partner":
                outcomes["fallback"] += 1
        elif row.action == "to_direct_sales":
            outcomes["direct_sales"] += 1
        else:
            outcomes["unroutable"] += 1
    leads = [PastLead(row.at, dispatch.lead_facts(row)) for row in rows]
    return Actual(leads, offered, outcomes)


def hold_times() -> dict[int, timedelta]:
    """How long an offer to each partner holds one of its slots: its SLA in wall-clock time.

    Business hours are spread over the week (16 business hours of a 40-hour week hold
    about 67 hours), since a simulated offer has no deadline of its own to run out.
    """
    default = db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.is_default))
    partners = db.session.scalars(sa.select(Partner).options(sa.orm.joinedload(Partner.sla_policy)))
    return {p.id: _wall_time(sla_calendar(p, default)[0]) for p in partners}


def _wall_time(calendar: SlaCalendar) -> timedelta:
    hours = float(calendar.response_hours)
    if calendar.clock == BUSINESS:
        day = datetime.combine(date.min, calendar.work_end) - datetime.combine(
            date.min, calendar.work_start
        )
        week = len(calendar.work_days) * day.total_seconds() / 3600
        if week > 0:
            hours *= HOURS_PER_WEEK / week
    return timedelta(hours=hours)


# Running --------------------------------------------------------------------------------------


def _column(actual: int, current: int, drafted: int) -> dict[str, int]:
    return {"actual": actual, "current": current, "draft": drafted}


def _results(
    config: RoutingConfig,
    changed: set[int],
    actual: Actual,
    current: SimulationResult,
    drafted: SimulationResult,
) -> dict[str, Any]:
    names = {p.id: p.name for p in config.partners}
    shown = set(actual.offered) | set(current.offered) | set(drafted.offered) | changed
    partners = [
        {
            "id": pid,
            "name": names.get(pid, f"Partner {pid}"),
            **_column(
                actual.offered.get(pid, 0), current.offered.get(pid, 0), drafted.offered.get(pid, 0)
            ),
        }
        for pid in sorted(shown, key=lambda pid: (names.get(pid, "").lower(), pid))
    ]
    outcomes = {
        name: _column(actual.outcomes[name], getattr(current, name), getattr(drafted, name))
        for name in OUTCOMES
    }
    return {"leads": len(actual.leads), "partners": partners, "outcomes": outcomes}


def run_simulation(raw: Mapping[str, Any], *, actor: Any) -> RoutingSimulation:
    """Try the drafted change on the period's leads and keep the record; writes nothing else."""
    errors = _Errors()
    period = _clean_period(errors, raw)
    name = _clean_name(errors, raw, period)
    # The cached index of the live configuration serves the baseline as it is.
    index = dispatch.current_index()
    config = index.config
    parts: DraftParts | None = None
    try:
        parts = clean_draft(raw, config)
    except ValidationFailed as exc:
        errors.update({k: v for k, v in exc.errors.items() if k not in errors})
    if errors or parts is None or period is None:
        raise ValidationFailed(dict(errors))
    actual = _actual(period)
    hold = hold_times()
    current = simulate(index, actual.leads, hold)
    drafted = current
    if not parts.draft.is_empty:
        drafted = simulate(build_index(apply_draft(config, parts.draft)), actual.leads, hold)
    changed = {change.partner_id for change in parts.draft.partners}
    record = RoutingSimulation(
        name=name,
        note=(str(raw.get("note") or "").strip() or None),
        created_by_id=getattr(actor, "id", None),
        period_start=period[0],
        period_end=period[1],
        config_version=config.version,
        lead_count=len(actual.leads),
        draft={**parts.draft.to_dict(), "summary": parts.summary},
        results=_results(config, changed, actual, current, drafted),
    )
    db.session.add(record)
    db.session.commit()
    return record


def form_defaults() -> dict[str, Any]:
    """What the new-simulation form starts with: the last 30 days and the current weights."""
    start, end = default_period()
    settings = dispatch.routing_settings_row()  # read only: a run must not create it
    weights = {
        name: getattr(settings, name) if settings is not None else default
        for name, default in DEFAULT_WEIGHTS.items()
    }
    return {"period_start": start.isoformat(), "period_end": end.isoformat(), **weights}


def form_choices() -> dict[str, list[tuple[int, str]]]:
    """The tenant's partners, territories, products and tiers, for the draft's selects."""

    def pairs(query: sa.Select[Any]) -> list[tuple[int, str]]:
        return [(row[0], row[1]) for row in db.session.execute(query)]

    return {
        "partners": pairs(sa.select(Partner.id, Partner.name).order_by(Partner.name, Partner.id)),
        "territories": [
            (tid, f"{name} ({code})")
            for tid, name, code in db.session.execute(
                sa.select(Territory.id, Territory.name, Territory.code).order_by(Territory.name)
            )
        ],
        "products": pairs(sa.select(Product.id, Product.name).order_by(Product.name)),
        "tiers": pairs(sa.select(Tier.id, Tier.name).order_by(Tier.rank, Tier.name)),
    }
