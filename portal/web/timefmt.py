"""Show UTC timestamps in the viewer's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from flask_login import current_user


def viewer_zone() -> ZoneInfo:
    """The signed-in user's zone, else their partner's, else their tenant's, else UTC."""
    candidates = [
        getattr(current_user, "timezone", None),
        getattr(getattr(current_user, "partner", None), "timezone", None),
        getattr(getattr(current_user, "tenant", None), "timezone", None),
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
    pattern = FORMATS.get(fmt, fmt)
    return format_datetime(value, format=pattern, tzinfo=viewer_zone(), locale="en_GB")
