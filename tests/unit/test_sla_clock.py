"""The SLA clock: deadlines in wall-clock and business hours, across nights, weekends,
holidays and daylight-saving changes."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.sla.clock import BUSINESS, WALL, NoWorkingTime, SlaCalendar, due_at

BERLIN = "Europe/Berlin"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_wall_clock_hours_are_simply_added():
    calendar = SlaCalendar(response_hours=48, clock=WALL)
    assert due_at(utc(2026, 11, 27, 16, 0), calendar) == utc(2026, 11, 29, 16, 0)


def test_business_hours_within_one_working_day():
    calendar = SlaCalendar(response_hours=4, timezone=BERLIN)
    # Monday 10:00 in Berlin (09:00 UTC in winter): four hours later is 14:00 Berlin.
    assert due_at(utc(2026, 11, 23, 9, 0), calendar) == utc(2026, 11, 23, 13, 0)


def test_business_hours_carry_over_the_night_and_the_weekend():
    calendar = SlaCalendar(response_hours=8, timezone=BERLIN)
    # Friday 15:00 Berlin: two hours left on Friday, six more from Monday 09:00 -> 15:00.
    assert due_at(utc(2026, 11, 27, 14, 0), calendar) == utc(2026, 11, 30, 14, 0)


def test_an_offer_made_at_night_starts_counting_next_morning():
    calendar = SlaCalendar(response_hours=1, timezone=BERLIN)
    assert due_at(utc(2026, 11, 24, 22, 0), calendar) == utc(2026, 11, 25, 9, 0)


def test_public_holidays_are_skipped():
    calendar = SlaCalendar(response_hours=2, timezone=BERLIN)
    christmas = {date(2026, 12, 24), date(2026, 12, 25)}
    # Wednesday 16:30 Berlin: half an hour that day; Thursday 24 and Friday 25 December
    # are holidays, so the other hour and a half runs on Monday 28th, 09:00-10:30 Berlin.
    deadline = due_at(utc(2026, 12, 23, 15, 30), calendar, christmas.__contains__)
    assert deadline == utc(2026, 12, 28, 9, 30)


def test_daylight_saving_change_keeps_local_working_hours():
    calendar = SlaCalendar(response_hours=9, timezone=BERLIN)
    # Friday 27 March 2026 16:00 CET; clocks go forward on Sunday. One hour on Friday,
    # eight on Monday 09:00-17:00 CEST (07:00-15:00 UTC).
    assert due_at(utc(2026, 3, 27, 15, 0), calendar) == utc(2026, 3, 30, 15, 0)


def test_a_calendar_without_working_days_is_refused():
    calendar = SlaCalendar(response_hours=1, work_days=())
    with pytest.raises(NoWorkingTime):
        due_at(utc(2026, 11, 23), calendar)


def test_an_unknown_time_zone_counts_in_utc():
    calendar = SlaCalendar(response_hours=1, timezone="Mars/Olympus")
    assert due_at(utc(2026, 11, 23, 9, 0), calendar) == utc(2026, 11, 23, 10, 0)


@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    hours=st.integers(min_value=1, max_value=200),
    days=st.sets(st.integers(min_value=0, max_value=6), min_size=1).map(lambda s: tuple(sorted(s))),
    zone=st.sampled_from(["UTC", BERLIN, "America/New_York", "Asia/Kolkata"]),
)
def test_the_deadline_is_in_working_time_and_never_sooner_than_wall_clock(start, hours, days, zone):
    calendar = SlaCalendar(
        response_hours=hours,
        clock=BUSINESS,
        work_days=days,
        work_start=time(8, 0),
        work_end=time(18, 0),
        timezone=zone,
    )
    deadline = due_at(start, calendar)
    assert deadline - start >= timedelta(hours=hours)
    local = deadline.astimezone(ZoneInfo(zone))
    assert local.weekday() in days
    assert time(8, 0) < local.time() <= time(18, 0)
