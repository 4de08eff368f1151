"""The periods a scorecard covers: a month, a quarter, or a custom range of days (UTC).

Pure. A period is written as a key in a URL: 2026-11 (a month), 2026-Q4 (a quarter) or
2026-10-01..2026-11-15 (days, both included); parse() reads one and says what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MONTH, QUARTER, CUSTOM = "month", "quarter", "custom"
# The longest custom range: a scorecard is read over months, not decades.
MAX_DAYS = 731
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


class BadPeriod(ValueError):
    """A period key that names no period, with what to write instead."""


@dataclass(frozen=True)
class Period:
    kind: str
    start: date  # the first day in it
    end: date  # the first day after it

    @property
    def key(self) -> str:
        if self.kind == MONTH:
            return f"{self.start:%Y-%m}"
        if self.kind == QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.isoformat()}..{(self.end - timedelta(days=1)).isoformat()}"

    @property
    def label(self) -> str:
        if self.kind == MONTH:
            return f"{self.start:%B %Y}"
        if self.kind == QUARTER:
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        last = self.end - timedelta(days=1)
        return f"{self.start:%-d %b %Y} to {last:%-d %b %Y}"

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time(), tzinfo=UTC)

    @property
    def ends_at(self) -> datetime:
        return datetime.combine(self.end, datetime.min.time(), tzinfo=UTC)

    def previous(self) -> Period:
        """The period of the same kind and length just before this one."""
        if self.kind == MONTH:
            return month_of(self.start - timedelta(days=1))
        if self.kind == QUARTER:
            return quarter_of(self.start - timedelta(days=1))
        return Period(CUSTOM, self.start - (self.end - self.start), self.start)


def month_of(day: date) -> Period:
    start = day.replace(day=1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return Period(MONTH, start, end)


def quarter_of(day: date) -> Period:
    first_month = (day.month - 1) // 3 * 3 + 1
    start = date(day.year, first_month, 1)
    end = date(start.year + (first_month + 2) // 12, (first_month + 2) % 12 + 1, 1)
    return Period(QUARTER, start, end)


def trail(period: Period, count: int) -> list[Period]:
    """The count periods that end with this one, oldest first."""
    periods = [period]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods[::-1]


def parse(key: str | None, today: date) -> Period:
    """The period a key names; none given is the current month."""
    key = (key or "").strip()
    if not key:
        return month_of(today)
    try:
        if match := _MONTH.match(key):
            return month_of(date(int(match[1]), int(match[2]), 1))
        if match := _QUARTER.match(key):
            return quarter_of(date(int(match[1]), (int(match[2]) - 1) * 3 + 1, 1))
        if match := _RANGE.match(key):
            first, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
            return _custom(first, last)
    except ValueError as exc:
        if isinstance(exc, BadPeriod):
            raise
        raise BadPeriod(f"{key!r} is not a date that exists.") from None
    raise BadPeriod(
        f"{key!r} is not a period: write a month (2026-11), a quarter (2026-Q4) or days "
        "(2026-10-01..2026-11-15)."
    )


def _custom(first: date, last: date) -> Period:
    if last < first:
        raise BadPeriod("The last day comes before the first.")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadPeriod(f"Choose at most {MAX_DAYS} days.")
    return Period(CUSTOM, first, last + timedelta(days=1))
