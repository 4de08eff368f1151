"""Rules for the values that describe a channel network: codes, places, zones and hours.

Each function takes a raw value and returns it in canonical form, or raises InvalidValue
with a message fit to show next to the field. No Flask, no ORM: tested as plain Python.
"""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays
import pycountry

PARTNER_STATUSES = ("active", "paused", "suspended")
CERTIFICATION_LEVELS = {0: "None", 1: "Certified", 2: "Advanced", 3: "Expert"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,39}$")
_POSTAL_PREFIX = re.compile(r"^[A-Z0-9][A-Z0-9 -]{0,9}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class InvalidValue(ValueError):
    """A value that breaks its rule; the message says how to fix it."""


def whole_number(raw: object, low: int, high: int) -> int:
    """A whole number from low to high, written in digits (a minus sign allowed)."""
    text = str(raw if raw is not None else "").strip()
    if not re.fullmatch(r"-?\d{1,18}", text) or not low <= int(text) <= high:
        raise InvalidValue(f"Give a whole number from {low} to {high}.")
    return int(text)


def code(raw: str) -> str:
    """An identifier code: upper case letters, digits, '-' and '_', at most 40."""
    value = (raw or "").strip().upper()
    if not _CODE.match(value):
        raise InvalidValue(
            "Use 1 to 40 letters, digits, '-' or '_', starting with a letter or digit."
        )
    return value


def is_code(value: str) -> bool:
    """Whether the value is already an identifier code in canonical form."""
    return _CODE.match(value) is not None


def name(raw: str, max_length: int = 120) -> str:
    value = " ".join((raw or "").split())
    if not value:
        raise InvalidValue("Enter a name.")
    if len(value) > max_length:
        raise InvalidValue(f"Use at most {max_length} characters.")
    return value


def country(raw: str) -> str:
    """An ISO 3166-1 alpha-2 country code that exists."""
    value = (raw or "").strip().upper()
    if value not in _country_codes():
        raise InvalidValue(f"{raw!r} is not an ISO 3166-1 country code (for example DE, FR, US).")
    return value


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def country_name(alpha_2: str) -> str:
    found = pycountry.countries.get(alpha_2=alpha_2)
    return getattr(found, "common_name", None) or found.name if found else alpha_2


def subdivision(raw: str, in_country: str | None = None) -> str:
    """An ISO 3166-2 subdivision code that exists, within the given country if one is given."""
    value = (raw or "").strip().upper()
    found = pycountry.subdivisions.get(code=value) if "-" in value else None
    if found is None:
        raise InvalidValue(f"{raw!r} is not an ISO 3166-2 subdivision code (for example DE-BY).")
    if in_country and found.country_code != in_country.upper():
        raise InvalidValue(f"{value} is not in {in_country.upper()}.")
    return value


def subdivision_name(code_: str) -> str:
    found = pycountry.subdivisions.get(code=code_)
    return found.name if found else code_


def postal_prefix(raw: str) -> str:
    """The start of postal codes: letters, digits, spaces and '-', at most 10."""
    value = " ".join((raw or "").strip().upper().split())
    if not _POSTAL_PREFIX.match(value):
        raise InvalidValue("Use 1 to 10 letters, digits, spaces or '-' (for example 80 or SW1).")
    return value


def country_list(raw: str | list[str]) -> list[str]:
    """Country codes from a list or a comma- or space-separated text; sorted, no repeats."""
    parts = raw if isinstance(raw, list) else re.split(r"[\s,;]+", raw or "")
    codes = sorted({country(p) for p in parts if p.strip()})
    if not codes:
        raise InvalidValue("Name at least one country (for example DE, AT, CH).")
    return codes


def timezone(raw: str) -> str:
    """An IANA time zone name, such as Europe/Berlin."""
    value = (raw or "").strip()
    if value not in _zones():
        raise InvalidValue(f"{raw!r} is not a time zone name (for example Europe/Berlin).")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(f"{raw!r} is not a time zone name.") from None
    return value


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_choices() -> list[str]:
    return sorted(z for z in _zones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def clock_time(raw: str) -> str:
    """A time of day as HH:MM on a 24-hour clock."""
    value = (raw or "").strip()
    if not _CLOCK.match(value):
        raise InvalidValue("Use HH:MM on a 24-hour clock, for example 09:00.")
    return value


def working_hours(start: str, end: str) -> tuple[str, str]:
    """A start and an end of the working day, the end after the start."""
    start, end = clock_time(start), clock_time(end)
    if end <= start:
        raise InvalidValue("The working day must end after it starts.")
    return start, end


def holiday_country(raw: str | None) -> str | None:
    """A country whose public holidays the holidays package knows; empty means none."""
    if not raw or not raw.strip():
        return None
    value = country(raw)
    if value not in holidays.list_supported_countries():
        raise InvalidValue(f"No public holiday calendar is known for {value}.")
    return value


def reminder_points(raw: str | list[int]) -> list[int]:
    """Percentages of the SLA window at which to remind, each from 1 to 99, ascending."""
    parts = raw if isinstance(raw, list) else re.split(r"[\s,;%]+", raw or "")
    try:
        points = sorted({int(p) for p in parts if str(p).strip()})
    except ValueError:
        raise InvalidValue("Give whole percentages, for example 50, 90.") from None
    if any(p < 1 or p > 99 for p in points):
        raise InvalidValue("Each reminder point is a percentage from 1 to 99.")
    return points


def response_hours(raw: int | str) -> int:
    """Hours to respond: a whole number from 1 to 720."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidValue("Give a whole number of hours.") from None
    if value < 1:
        raise InvalidValue("A partner needs at least 1 hour to respond.")
    if value > 720:
        raise InvalidValue("Use at most 720 hours (30 days).")
    return value


def work_days(raw: list[int | str]) -> list[int]:
    days = sorted({int(d) for d in raw})
    if not days or any(d < 0 or d > 6 for d in days):
        raise InvalidValue("Choose at least one working day.")
    return days


def capacity(raw: int | str) -> int:
    """The most open leads a partner may hold: a whole number from 0 to 100,000."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidValue("Give a whole number.") from None
    if value < 0:
        raise InvalidValue("Capacity cannot be negative.")
    if value > 100_000:
        raise InvalidValue("Use at most 100,000.")
    return value


def certification(raw: int | str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidValue("Choose a certification level.") from None
    if value not in CERTIFICATION_LEVELS:
        raise InvalidValue("Choose a certification level from 0 (none) to 3 (expert).")
    return value


@lru_cache(maxsize=1)
def country_choices() -> tuple[tuple[str, str], ...]:
    """(alpha-2, name) of every ISO 3166-1 country, by name."""
    pairs = ((c.alpha_2, getattr(c, "common_name", None) or c.name) for c in pycountry.countries)
    return tuple(sorted(pairs, key=lambda pair: pair[1]))
