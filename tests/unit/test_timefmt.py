"""Timestamps are stored in UTC and shown in the viewer's zone, naming it."""

from datetime import UTC, datetime
from types import SimpleNamespace
from unittest import mock

from portal.web import timefmt


def test_a_utc_time_is_shown_in_the_partners_zone_with_its_name():
    viewer = SimpleNamespace(
        timezone=None, partner=SimpleNamespace(timezone="Europe/Berlin"), tenant=None
    )
    with mock.patch.object(timefmt, "current_user", viewer):
        shown = timefmt.local_time(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    assert shown.startswith("1 Jul 2026, 14:00") and "CEST" in shown


def test_an_unknown_zone_falls_back_to_utc_and_none_shows_a_dash():
    viewer = SimpleNamespace(timezone="Mars/Olympus", partner=None, tenant=None)
    with mock.patch.object(timefmt, "current_user", viewer):
        assert (
            timefmt.local_time(datetime(2026, 1, 1, 9, 30, tzinfo=UTC), "short")
            == "1 Jan 2026, 09:30"
        )
        assert timefmt.local_time(None) == "—"
