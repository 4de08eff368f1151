"""The SLA clock: deadlines in wall-clock and business hours, across nights, weekends,
holidays and daylight-saving changes."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.sla.clock import (
    BUSINESS,
    WALL,
    NoWorkingTime,
    SlaCalendar,
    add_time,
    business_elapsed,
    due_at,
    point_in_window,
)

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


# Elapsed business time ----------------------------------------------------------------------

ZONES = ["UTC", BERLIN, "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
OFFICE = SlaCalendar(response_hours=8, timezone=BERLIN)


def test_elapsed_time_counts_only_working_hours():
    # Friday 16:00 Berlin to Monday 10:00 Berlin: one hour on Friday and one on Monday.
    assert business_elapsed(utc(2026, 11, 27, 15, 0), utc(2026, 11, 30, 9, 0), OFFICE) == timedelta(
        hours=2
    )


def test_elapsed_time_is_none_when_the_end_is_not_after_the_start():
    assert business_elapsed(utc(2026, 11, 27, 15), utc(2026, 11, 27, 15), OFFICE) == timedelta(0)
    assert business_elapsed(utc(2026, 11, 27, 15), utc(2026, 11, 26, 15), OFFICE) == timedelta(0)


def test_elapsed_wall_clock_time_is_plain_subtraction():
    calendar = SlaCalendar(response_hours=1, clock=WALL, timezone=BERLIN)
    assert business_elapsed(utc(2026, 3, 28, 12), utc(2026, 3, 30, 12), calendar) == timedelta(
        hours=48
    )


def test_a_window_within_one_morning_counts_its_minutes():
    assert business_elapsed(
        utc(2026, 11, 23, 8, 15), utc(2026, 11, 23, 8, 40), OFFICE
    ) == timedelta(minutes=25)


def test_the_point_half_way_through_a_window_skips_the_night():
    calendar = SlaCalendar(response_hours=4, timezone=BERLIN)
    # Monday 15:00 to Tuesday 11:00 Berlin is four working hours; half is Monday 17:00,
    # which is the same working instant as Tuesday 09:00, and the clock names the first.
    start, end = utc(2026, 11, 23, 14, 0), utc(2026, 11, 24, 10, 0)
    assert point_in_window(start, end, 50, calendar) == utc(2026, 11, 23, 16, 0)
    assert point_in_window(start, end, 75, calendar) == utc(2026, 11, 24, 9, 0)


def test_the_spring_daylight_saving_night_is_an_hour_shorter_in_a_night_shift():
    # Work from 01:00 to 04:00 every day; on 29 March 2026 Berlin skips 02:00-03:00.
    calendar = SlaCalendar(
        response_hours=1, work_days=tuple(range(7)), work_start=time(1), work_end=time(4),
        timezone=BERLIN,
    )  # fmt: skip
    day = datetime(2026, 3, 29, tzinfo=ZoneInfo(BERLIN))
    assert business_elapsed(day, day + timedelta(days=1), calendar) == timedelta(hours=2)
    autumn = datetime(2026, 10, 25, tzinfo=ZoneInfo(BERLIN))
    assert business_elapsed(autumn, autumn + timedelta(days=1), calendar) == timedelta(hours=4)


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
year_ends = st.builds(
    lambda year, offset, minutes: (
        datetime(year, 12, 20, tzinfo=UTC) + timedelta(days=offset, minutes=minutes)
    ),
    st.integers(min_value=2020, max_value=2029),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=0, max_value=24 * 60 - 1),
)
# Spring and autumn daylight-saving weeks of both hemispheres and North America.
dst_weeks = st.builds(
    lambda year, month, offset, minutes: (
        datetime(year, month, 1, tzinfo=UTC) + timedelta(days=offset, minutes=minutes)
    ),
    st.integers(min_value=2020, max_value=2029),
    st.sampled_from([3, 4, 10, 11]),
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=0, max_value=24 * 60 - 1),
)


@st.composite
def calendars(draw: st.DrawFn) -> SlaCalendar:
    opens = draw(st.integers(min_value=0, max_value=20))
    closes = draw(st.integers(min_value=opens + 1, max_value=23))
    return SlaCalendar(
        response_hours=draw(st.integers(min_value=1, max_value=120)),
        work_days=tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=1)))),
        work_start=time(opens, draw(st.sampled_from([0, 30]))),
        work_end=time(closes, draw(st.sampled_from([0, 15]))),
        timezone=draw(st.sampled_from(ZONES)),
    )


def year_end_holidays(day: date) -> bool:
    return (day.month, day.day) in {(12, 24), (12, 25), (12, 26), (12, 31), (1, 1)}


@given(
    start=st.one_of(instants, year_ends, dst_weeks),
    calendar=calendars(),
    minutes=st.integers(min_value=1, max_value=120 * 60),
)
def test_the_time_added_is_the_time_that_elapses(start, calendar, minutes):
    duration = timedelta(minutes=minutes)
    deadline = add_time(start, duration, calendar, year_end_holidays)
    assert business_elapsed(start, deadline, calendar, year_end_holidays) == duration
    assert deadline - start >= duration


@given(start=st.one_of(instants, year_ends, dst_weeks), calendar=calendars())
def test_the_deadline_is_the_response_hours_of_working_time_away(start, calendar):
    deadline = due_at(start, calendar, year_end_holidays)
    elapsed = business_elapsed(start, deadline, calendar, year_end_holidays)
    assert elapsed == timedelta(hours=calendar.response_hours)


@given(
    moments=st.lists(st.one_of(instants, year_ends, dst_weeks), min_size=3, max_size=3),
    calendar=calendars(),
)
def test_elapsed_time_adds_up_and_never_exceeds_the_wall_clock(moments, calendar):
    a, b, c = sorted(moments)
    ab = business_elapsed(a, b, calendar, year_end_holidays)
    bc = business_elapsed(b, c, calendar, year_end_holidays)
    assert ab + bc == business_elapsed(a, c, calendar, year_end_holidays)
    assert timedelta(0) <= ab <= b - a


@given(start=st.one_of(instants, dst_weeks), calendar=calendars())
def test_weekends_and_holidays_add_no_time(start, calendar):
    tz = ZoneInfo(calendar.timezone)
    day = start.astimezone(tz).date()
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    elapsed = business_elapsed(midnight, next_midnight, calendar, year_end_holidays)
    if day.weekday() not in calendar.work_days or year_end_holidays(day):
        assert elapsed == timedelta(0)
    else:
        # The local working hours, as really lived: shorter or longer on a change night.
        opens = datetime.combine(day, calendar.work_start, tzinfo=tz).astimezone(UTC)
        closes = datetime.combine(day, calendar.work_end, tzinfo=tz).astimezone(UTC)
        assert elapsed == closes - opens


@given(
    year=st.integers(min_value=2020, max_value=2029),
    minutes=st.integers(min_value=1, max_value=8 * 60),
    zone=st.sampled_from(ZONES),
)
def test_a_window_that_spans_the_year_end_skips_its_holidays(year, minutes, zone):
    calendar = SlaCalendar(response_hours=8, timezone=zone)
    # Late on the 23rd of December, local time: the clock runs over into the new year.
    start = datetime(year, 12, 23, 16, 59, tzinfo=ZoneInfo(zone))
    deadline = add_time(start, timedelta(minutes=minutes + 1), calendar, year_end_holidays)
    local = deadline.astimezone(ZoneInfo(zone))
    assert not year_end_holidays(local.date()) and local.weekday() < 5
    assert local.date() > date(year, 12, 23)


@given(
    start=st.one_of(instants, dst_weeks),
    minutes=st.integers(min_value=1, max_value=8 * 60 - 1),
    zone=st.sampled_from(ZONES),
)
def test_a_window_shorter_than_a_working_day_ends_within_two_working_days(start, minutes, zone):
    calendar = SlaCalendar(response_hours=8, timezone=zone)
    deadline = add_time(start, timedelta(minutes=minutes), calendar)
    assert business_elapsed(start, deadline, calendar) == timedelta(minutes=minutes)
    # Less than a day's work never needs a third working day: at most a weekend between.
    assert deadline - start < timedelta(days=4)


@given(
    start=st.one_of(instants, year_ends, dst_weeks),
    calendar=calendars(),
    percents=st.lists(st.integers(min_value=1, max_value=99), min_size=2, max_size=2),
)
def test_reminder_points_are_in_order_and_inside_the_window(start, calendar, percents):
    end = due_at(start, calendar, year_end_holidays)
    low, high = sorted(percents)
    first = point_in_window(start, end, low, calendar, year_end_holidays)
    second = point_in_window(start, end, high, calendar, year_end_holidays)
    assert start <= first <= second <= end
    window = business_elapsed(start, end, calendar, year_end_holidays)
    passed = business_elapsed(start, second, calendar, year_end_holidays)
    assert abs(passed - window * high / 100) <= timedelta(microseconds=1)
