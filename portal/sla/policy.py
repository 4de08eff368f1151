"""A partner's SLA as the clock takes it: its calendar, public holidays and reminder points.

Read from the partner's own policy or the tenant's default; when there is neither, wall-clock
hours with no reminders.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import holidays
import sqlalchemy as sa

from portal.extensions import db
from portal.partners.models import Partner, SlaPolicy
from portal.sla.clock import (
    NoWorkingTime,
    SlaCalendar,
    business_elapsed,
    due_at,
    parse_time,
    point_in_window,
)

log = logging.getLogger(__name__)

# When a partner and the tenant name no SLA policy at all.
DEFAULT_RESPONSE_HOURS = 48


@functools.lru_cache(maxsize=64)
def _public_holidays(country: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country)


def holiday_check(country: str | None) -> Callable[[date], bool]:
    """Whether a day is a public holiday of the country; none for no or an unknown country."""
    if not country:
        return lambda _day: False
    try:
        calendar = _public_holidays(country)
    except NotImplementedError:
        return lambda _day: False
    return lambda day: day in calendar


def default_policy() -> SlaPolicy | None:
    return db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.is_default))


def sla_calendar(partner: Partner, default: SlaPolicy | None) -> tuple[SlaCalendar, str | None]:
    """The partner's SLA calendar (its own policy, else the tenant's default) and the
    country whose public holidays it skips."""
    policy = partner.sla_policy or default
    if policy is None:
        return SlaCalendar(DEFAULT_RESPONSE_HOURS, clock="wall"), None
    calendar = SlaCalendar(
        response_hours=policy.response_hours,
        clock=policy.clock,
        work_days=tuple(policy.work_days or ()),
        work_start=parse_time(policy.work_start),
        work_end=parse_time(policy.work_end),
        timezone=partner.timezone or "UTC",
    )
    return calendar, policy.holiday_country


@dataclass(frozen=True)
class PartnerSla:
    """What the SLA clock needs of one partner."""

    calendar: SlaCalendar
    is_holiday: Callable[[date], bool]
    reminder_points: tuple[int, ...]


def partner_sla(partner: Partner, default: SlaPolicy | None) -> PartnerSla:
    calendar, country = sla_calendar(partner, default)
    policy = partner.sla_policy or default
    points = tuple(sorted({int(p) for p in (policy.reminder_points or [])})) if policy else ()
    return PartnerSla(calendar, holiday_check(country), points)


def deadline(sla: PartnerSla, now: datetime) -> datetime:
    """When an offer made now must be answered under the partner's SLA."""
    try:
        return due_at(now, sla.calendar, sla.is_holiday)
    except NoWorkingTime:
        # A policy saved without working time cannot stop a lead: count wall-clock hours.
        log.warning("an SLA policy has no working time; counting wall-clock hours")
        return now + timedelta(hours=sla.calendar.response_hours)


def answer_seconds(sla: PartnerSla, offered_at: datetime, answered_at: datetime) -> int:
    """How long the partner took to answer, in seconds of its SLA calendar's time; kept on
    the offer, so scorecards add answer times up in the database."""
    elapsed = business_elapsed(offered_at, answered_at, sla.calendar, sla.is_holiday)
    return round(elapsed.total_seconds())


def reminder_times(
    sla: PartnerSla, offered_at: datetime, due: datetime
) -> list[tuple[int, datetime]]:
    """Each reminder point of the window from offered_at to due, with the instant it falls on."""
    try:
        return [
            (p, point_in_window(offered_at, due, p, sla.calendar, sla.is_holiday))
            for p in sla.reminder_points
        ]
    except NoWorkingTime:
        return [(p, offered_at + (due - offered_at) * p / 100) for p in sla.reminder_points]


def next_reminder(
    sla: PartnerSla, offered_at: datetime, due: datetime, sent: list[int] | tuple[int, ...] = ()
) -> datetime | None:
    """When the first reminder point not sent yet falls; None when none is left."""
    times = [at for point, at in reminder_times(sla, offered_at, due) if point not in sent]
    return min(times, default=None)


def first_reminder(partner: Partner, offered_at: datetime, due: datetime) -> datetime | None:
    """When an offer's first reminder falls, for an offer with nothing sent yet."""
    return next_reminder(partner_sla(partner, default_policy()), offered_at, due)
