"""Show UTC timestamps in the viewer's time zone."""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from flask import g, has_request_context
from flask_login import current_user


def viewer_zone() -> ZoneInfo:
    """The signed-in user's zone, else their partner's, else their tenant's, else UTC.

    Kept for the request (a page of forty rows asks forty times), with the user it is for.
    """
    if not has_request_context():
        return _zone_of(current_user)
    user = current_user._get_current_object()
    kept = g.get("_viewer_zone")
    if kept is not None and kept[0] is user:
        return kept[1]
    zone = _zone_of(user)
    g._viewer_zone = (user, zone)
    return zone


def _zone_of(user: object) -> ZoneInfo:
    candidates = [
        getattr(user, "timezone", None),
        getattr(getattr(user, "partner", None), "timezone", None),
        getattr(getattr(user, "tenant", None), "timezone", None),
    ]
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


FORMATS = {"medium": "d MMM y, HH:mm zzz", "short": "d MMM y, HH:mm"}


def local_time(value: datetime | None, fmt: str = "medium") -> str:
    """A UTC timestamp in the viewer's zone; the medium form names the zone."""
    if value is None:
        return "—"
    return _formatted(value, FORMATS.get(fmt, fmt), viewer_zone())


def local_time_of(user: object, value: datetime) -> str:
    """A UTC timestamp in a given user's zone, naming it: for what is written for one
    reader outside a request of theirs (a notification, an e-mail)."""
    return _formatted(value, FORMATS["medium"], _zone_of(user))


# Pages show the same deadlines again and again (an inbox of forty offers, reloaded), and
# Babel's formatting is the larger part of rendering such a page.
@functools.lru_cache(maxsize=8192)
def _formatted(value: datetime, pattern: str, zone: ZoneInfo) -> str:
    return format_datetime(value, format=pattern, tzinfo=zone, locale="en_GB")


def time_left(due: datetime, now: datetime) -> str:
    """How long until a deadline, as a person says it: '2 days 3 hours left', '45 minutes
    left', 'overdue by 5 minutes'."""
    seconds = int((due - now).total_seconds())
    words = _duration(abs(seconds))
    return f"{words} left" if seconds > 0 else f"overdue by {words}"


def _duration(seconds: int) -> str:
    minutes = max(seconds // 60, 1)
    if minutes < 60:
        return _count(minutes, "minute")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _count(hours, "hour") + (f" {_count(minutes, 'minute')}" if minutes else "")
    days, hours = divmod(hours, 24)
    return _count(days, "day") + (f" {_count(hours, 'hour')}" if hours else "")


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"
