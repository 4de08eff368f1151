"""SLA policies and tiers in plain words and plain rules.

Pure: imports only the standard library, holidays and pycountry, so it is tested with no
app and no database. Services pass in the plain values of a policy or tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import holidays
import pycountry

# One error type for every value rule of the partner room, so services catch one thing.
from portal.partners.validation import InvalidValue

DAY_ABBREVIATIONS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DASH = "\u2013"  # an en dash, between the two ends of a range
MAX_TIER_RANK = 9999
MAX_ROUTING_WEIGHT = 100


def tier_rank(raw: int | str | None) -> int:
    """A tier's place in the order: 1 is the top tier."""
    value = _whole_number(raw, "Give the rank as a whole number, 1 for the top tier.")
    if not 1 <= value <= MAX_TIER_RANK:
        raise InvalidValue(f"Use a rank from 1 (the top tier) to {MAX_TIER_RANK}.")
    return value


def routing_weight(raw: int | str | None) -> int:
    """How strongly routing favours a tier's partners: 0 (not at all) to 100."""
    value = _whole_number(raw, "Give the routing weight as a whole number from 0 to 100.")
    if not 0 <= value <= MAX_ROUTING_WEIGHT:
        raise InvalidValue(f"Use a routing weight from 0 to {MAX_ROUTING_WEIGHT}.")
    return value


def _whole_number(raw: int | str | None, message: str) -> int:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        raise InvalidValue(message) from None


def country_label(alpha_2: str) -> str:
    """The everyday name of a country, such as Germany for DE."""
    found = pycountry.countries.get(alpha_2=alpha_2)
    if found is None:
        return alpha_2
    return getattr(found, "common_name", None) or found.name


@lru_cache(maxsize=1)
def holiday_countries() -> tuple[tuple[str, str], ...]:
    """(alpha-2, name) of every country whose public holidays are known, by name."""
    codes = (c for c in holidays.list_supported_countries() if len(c) == 2)
    known = (c for c in codes if pycountry.countries.get(alpha_2=c) is not None)
    return tuple(sorted(((c, country_label(c)) for c in known), key=lambda pair: pair[1]))


def describe_days(days: Sequence[int]) -> str:
    """Working days in short form, runs of three or more as a range: Mon to Fri, Sun to Thu."""
    chosen = set(days)
    if len(chosen) == 7:
        return "every day"
    if not chosen:
        return "no days"
    # Start after a day off, so a run across the weekend (Sun to Thu) stays one range.
    start = next(d for d in range(7) if d in chosen and (d - 1) % 7 not in chosen)
    runs: list[list[int]] = [[]]
    for day in ((start + i) % 7 for i in range(7)):
        if day in chosen:
            runs[-1].append(day)
        elif runs[-1]:
            runs.append([])
    parts: list[str] = []
    for run in filter(None, runs):
        if len(run) >= 3:
            parts.append(f"{DAY_ABBREVIATIONS[run[0]]}{DASH}{DAY_ABBREVIATIONS[run[-1]]}")
        else:
            parts.extend(DAY_ABBREVIATIONS[d] for d in run)
    return ", ".join(parts)


def describe_reminders(points: Sequence[int]) -> str:
    """ "reminders at 50% and 90%", "reminders at 75%" or "no reminders"."""
    labels = [f"{p}%" for p in sorted(points)]
    if not labels:
        return "no reminders"
    if len(labels) == 1:
        return f"reminders at {labels[0]}"
    return f"reminders at {', '.join(labels[:-1])} and {labels[-1]}"


def _hours(count: int, kind: str) -> str:
    return f"{count} {kind} hour{'' if count == 1 else 's'}"


def describe_sla(
    *,
    response_hours: int,
    clock: str,
    work_days: Sequence[int],
    work_start: str,
    work_end: str,
    holiday_country: str | None,
    reminder_points: Sequence[int],
) -> str:
    """A policy in one sentence, as the SLA list and the partner pages show it."""
    reminders = describe_reminders(reminder_points)
    if clock != "business":
        return f"{_hours(response_hours, 'wall-clock')}, {reminders}"
    holidays_part = (
        f"public holidays of {country_label(holiday_country)}"
        if holiday_country
        else "no public holidays"
    )
    calendar = (
        f"{describe_days(work_days)} {work_start}{DASH}{work_end} in the partner's time zone, "
        f"{holidays_part}"
    )
    return f"{_hours(response_hours, 'business')} ({calendar}), {reminders}"
