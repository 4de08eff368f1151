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


def local_time(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return "—"
    return format_datetime(value, format=fmt, tzinfo=viewer_zone(), locale="en_GB")
