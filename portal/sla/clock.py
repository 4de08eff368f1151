"""The SLA clock: when an offer made now must be answered, in wall-clock or business hours.

Business hours run on the partner's working days between its start and end of work, in
its time zone, skipping the public holidays the caller names. Pure Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    return add_time(start, timedelta(hours=calendar.response_hours), calendar, is_holiday)


def _working_spans(
    start: datetime, calendar: SlaCalendar, is_holiday: Callable[[date], bool]
) -> Iterator[tuple[datetime, datetime]]:
    """The calendar's working periods in UTC, from the one that holds start (clipped to it)
    onwards; each day's hours are local, so a daylight-saving change moves them in UTC."""
    tz = zone(calendar.timezone)
    day = start.astimezone(tz).date()
    for _ in range(MAX_DAYS_SEARCHED):
        if day.weekday() in calendar.work_days and not is_holiday(day):
            opens = datetime.combine(day, calendar.work_start, tzinfo=tz).astimezone(UTC)
            closes = datetime.combine(day, calendar.work_end, tzinfo=tz).astimezone(UTC)
            if closes > start and opens < closes:
                yield max(opens, start), closes
        day += timedelta(days=1)
    raise NoWorkingTime("The SLA calendar has no working hours; check its days and hours.")


def add_time(
    start: datetime,
    duration: timedelta,
    calendar: SlaCalendar,
    is_holiday: Callable[[date], bool] = lambda _day: False,
) -> datetime:
    """The instant when duration of the calendar's time has passed since start, in UTC."""
    start = start.astimezone(UTC)
    if calendar.clock != BUSINESS:
        return start + duration
    remaining = duration
    for begin, end in _working_spans(start, calendar, is_holiday):
        if remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin
    raise AssertionError("unreachable: the spans end by raising NoWorkingTime")


def business_elapsed(
    start: datetime,
    end: datetime,
    calendar: SlaCalendar,
    is_holiday: Callable[[date], bool] = lambda _day: False,
) -> timedelta:
    """How much of the calendar's time (working time, or wall-clock time) lies between start
    and end; nothing if end is not after start."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return timedelta(0)
    if calendar.clock != BUSINESS:
        return end - start
    elapsed = timedelta(0)
    try:
        for begin, close in _working_spans(start, calendar, is_holiday):
            if begin >= end:
                break
            elapsed += min(close, end) - begin
    except NoWorkingTime:
        pass  # no working time at all: none has elapsed
    return elapsed


def point_in_window(
    start: datetime,
    end: datetime,
    percent: int,
    calendar: SlaCalendar,
    is_holiday: Callable[[date], bool] = lambda _day: False,
) -> datetime:
    """The instant when percent of the calendar's time from start to end has passed."""
    window = business_elapsed(start, end, calendar, is_holiday)
    if not window:
        return end.astimezone(UTC)
    return min(add_time(start, window * percent / 100, calendar, is_holiday), end.astimezone(UTC))
