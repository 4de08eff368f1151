"""The SLA clock: when an offer made now must be answered, in wall-clock or business hours.

Business hours run on the partner's working days between its start and end of work, in
its time zone, skipping the public holidays the caller names. Pure Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WALL = "wall"
BUSINESS = "business"
# A calendar with no working time at all would never reach its deadline; ten years of
# searching is far past any real policy, so the clock stops there and says so.
MAX_DAYS_SEARCHED = 3660


class NoWorkingTime(ValueError):
    """The calendar has no working hours within reach, so no deadline can be set."""


@dataclass(frozen=True, slots=True)
class SlaCalendar:
    """How an SLA's hours are counted."""

    response_hours: int
    clock: str = BUSINESS
    work_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday is 0
    work_start: time = time(9, 0)
    work_end: time = time(17, 0)
    timezone: str = "UTC"


def zone(name: str) -> ZoneInfo:
    """The time zone by its IANA name; UTC for a name this machine does not know."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_time(text: str) -> time:
    """'09:00' as a time of day."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def due_at(
    start: datetime,
    calendar: SlaCalendar,
    is_holiday: Callable[[date], bool] = lambda _day: False,
) -> datetime:
    """The deadline of an offer made at start (timezone-aware), in UTC."""
    start = start.astimezone(UTC)
    remaining = timedelta(hours=calendar.response_hours)
    if calendar.clock != BUSINESS:
        return start + remaining
    tz = zone(calendar.timezone)
    day = start.astimezone(tz).date()
    for _ in range(MAX_DAYS_SEARCHED):
        if day.weekday() in calendar.work_days and not is_holiday(day):
            opens = datetime.combine(day, calendar.work_start, tzinfo=tz).astimezone(UTC)
            closes = datetime.combine(day, calendar.work_end, tzinfo=tz).astimezone(UTC)
            begin = max(opens, start)
            if begin < closes:
                if remaining <= closes - begin:
                    return begin + remaining
                remaining -= closes - begin
        day += timedelta(days=1)
    raise NoWorkingTime("The SLA calendar has no working hours; check its days and hours.")
