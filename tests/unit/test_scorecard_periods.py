"""Scorecard periods: months, quarters and ranges of days, read from keys and stepped back."""

from datetime import date

import pytest

from portal.scorecards.periods import BadPeriod, month_of, parse, quarter_of, trail

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("key", "start", "end", "label"),
    [
        ("", date(2026, 11, 1), date(2026, 12, 1), "November 2026"),
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1), "December 2026"),
        ("2026-q4", date(2026, 10, 1), date(2027, 1, 1), "Q4 2026"),
        ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1), "Q1 2026"),
        (
            "2026-10-01..2026-11-15",
            date(2026, 10, 1),
            date(2026, 11, 16),
            "1 Oct 2026 to 15 Nov 2026",
        ),
    ],
)
def test_keys_name_periods_and_periods_give_their_keys_back(key, start, end, label):
    period = parse(key, TODAY)
    assert (period.start, period.end, period.label) == (start, end, label)
    assert parse(period.key, TODAY) == period


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("2026-13", "not a date that exists"),
        ("2026-02-30..2026-03-01", "not a date that exists"),
        ("next month", "not a period"),
        ("2026-11-15..2026-11-01", "before the first"),
        ("2020-01-01..2026-01-01", "at most"),
    ],
)
def test_a_key_that_names_no_period_says_what_is_wrong(key, says):
    with pytest.raises(BadPeriod, match=says):
        parse(key, TODAY)


def test_periods_step_back_across_year_ends():
    assert [p.key for p in trail(month_of(date(2026, 2, 10)), 3)] == [
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    assert [p.key for p in trail(quarter_of(date(2026, 2, 10)), 2)] == ["2025-Q4", "2026-Q1"]
    days = parse("2026-11-01..2026-11-10", TODAY)
    assert days.previous().key == "2026-10-22..2026-10-31"
