"""The rules of SLA policies and tiers, and how a policy reads in plain words."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.partners import sla_rules, validation
from portal.partners.sla_rules import describe_days, describe_reminders, describe_sla
from portal.partners.validation import InvalidValue

BUSINESS = {
    "response_hours": 16,
    "clock": "business",
    "work_days": [0, 1, 2, 3, 4],
    "work_start": "09:00",
    "work_end": "17:00",
    "holiday_country": "DE",
    "reminder_points": [50, 90],
}


# Hours to respond --------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [(1, 1), ("16", 16), (" 48 ", 48), (720, 720)])
def test_hours_to_respond_are_whole_numbers_from_1_to_720(raw, expected):
    assert validation.response_hours(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (0, "at least 1 hour"),
        ("-4", "at least 1 hour"),
        (721, "at most 720 hours"),
        ("", "whole number"),
        ("8.5", "whole number"),
        (None, "whole number"),
    ],
)
def test_an_sla_of_zero_or_nonsense_hours_is_refused(raw, message):
    with pytest.raises(InvalidValue, match=message):
        validation.response_hours(raw)


# Working hours and days --------------------------------------------------------------------


def test_working_hours_are_kept_when_the_day_ends_after_it_starts():
    assert validation.working_hours("08:30", "17:00") == ("08:30", "17:00")


@pytest.mark.parametrize(("start", "end"), [("17:00", "09:00"), ("09:00", "09:00")])
def test_a_working_day_that_ends_before_or_when_it_starts_is_refused(start, end):
    with pytest.raises(InvalidValue, match="must end after it starts"):
        validation.working_hours(start, end)


@pytest.mark.parametrize("raw", ["9:00", "24:00", "09:60", "nine", ""])
def test_a_time_of_day_must_be_hh_mm_on_a_24_hour_clock(raw):
    with pytest.raises(InvalidValue, match="HH:MM"):
        validation.clock_time(raw)


def test_working_days_are_sorted_without_repeats():
    assert validation.work_days(["4", 0, 2, 2]) == [0, 2, 4]


@pytest.mark.parametrize("raw", [[], [7], [-1, 0]])
def test_no_working_day_or_a_day_outside_the_week_is_refused(raw):
    with pytest.raises(InvalidValue, match="at least one working day"):
        validation.work_days(raw)


# Holidays and reminders --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [("de", "DE"), (" FR ", "FR"), ("", None), (None, None)]
)
def test_a_holiday_country_is_a_known_code_or_none(raw, expected):
    assert validation.holiday_country(raw) == expected


def test_an_unknown_holiday_country_is_refused():
    with pytest.raises(InvalidValue, match="not an ISO 3166-1 country code"):
        validation.holiday_country("XX")


def test_a_country_without_a_holiday_calendar_is_refused(monkeypatch):
    monkeypatch.setattr(validation.holidays, "list_supported_countries", lambda: {"DE": []})
    with pytest.raises(InvalidValue, match="No public holiday calendar is known for FR"):
        validation.holiday_country("FR")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("50, 90", [50, 90]), ("90 50 50", [50, 90]), ("75%", [75]), ("", []), ([10, 99], [10, 99])],
)
def test_reminder_points_are_read_from_text_sorted_and_unique(raw, expected):
    assert validation.reminder_points(raw) == expected


@pytest.mark.parametrize("raw", ["0", "100", "50, 120", "-5"])
def test_reminder_points_outside_1_to_99_are_refused(raw):
    with pytest.raises(InvalidValue, match="from 1 to 99"):
        validation.reminder_points(raw)


def test_reminder_points_that_are_not_numbers_are_refused():
    with pytest.raises(InvalidValue, match="whole percentages"):
        validation.reminder_points("half, most")


# Names, ranks, weights ---------------------------------------------------------------------


def test_a_name_is_trimmed_and_inner_spaces_collapsed():
    assert validation.name("  Gold   partners ", 40) == "Gold partners"


@pytest.mark.parametrize(("raw", "message"), [("   ", "Enter a name."), ("x" * 41, "at most 40")])
def test_an_empty_or_too_long_name_is_refused(raw, message):
    with pytest.raises(InvalidValue, match=message):
        validation.name(raw, 40)


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), (4, 4), (" 12 ", 12)])
def test_a_tier_rank_is_a_whole_number_from_1(raw, expected):
    assert sla_rules.tier_rank(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "x", "", None, "1.5", "10000"])
def test_a_tier_rank_below_1_or_not_a_number_is_refused(raw):
    with pytest.raises(sla_rules.InvalidValue):
        sla_rules.tier_rank(raw)


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), (30, 30), ("100", 100)])
def test_a_routing_weight_is_from_0_to_100(raw, expected):
    assert sla_rules.routing_weight(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "101", "lots", ""])
def test_a_routing_weight_outside_0_to_100_is_refused(raw):
    with pytest.raises(sla_rules.InvalidValue, match=r"0 to 100|whole number"):
        sla_rules.routing_weight(raw)


# Plain words -------------------------------------------------------------------------------


def test_a_business_hours_policy_reads_as_a_sentence():
    assert describe_sla(**BUSINESS) == (
        "16 business hours (Mon\u2013Fri 09:00\u201317:00 in the partner's time zone, "
        "public holidays of Germany), reminders at 50% and 90%"
    )


def test_a_wall_clock_policy_leaves_the_calendar_out():
    words = describe_sla(
        **{**BUSINESS, "clock": "wall", "response_hours": 48, "reminder_points": [75]}
    )
    assert words == "48 wall-clock hours, reminders at 75%"


def test_one_hour_is_singular_and_no_holidays_are_said_so():
    words = describe_sla(**{**BUSINESS, "response_hours": 1, "holiday_country": None})
    assert words.startswith("1 business hour (") and "no public holidays" in words


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ([0, 1, 2, 3, 4], "Mon\u2013Fri"),
        ([6, 0, 1, 2, 3], "Sun\u2013Thu"),
        ([0, 2, 4], "Mon, Wed, Fri"),
        ([5, 6], "Sat, Sun"),
        ([0, 1, 2, 3, 5], "Mon\u2013Thu, Sat"),
        (list(range(7)), "every day"),
        ([], "no days"),
    ],
)
def test_working_days_are_described_with_ranges(days, expected):
    assert describe_days(days) == expected


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([], "no reminders"),
        ([75], "reminders at 75%"),
        ([90, 50], "reminders at 50% and 90%"),
        ([25, 50, 90], "reminders at 25%, 50% and 90%"),
    ],
)
def test_reminders_are_listed_in_order(points, expected):
    assert describe_reminders(points) == expected


@given(st.sets(st.integers(min_value=0, max_value=6), min_size=1, max_size=6))
def test_every_working_day_is_named_in_its_description(days):
    words = describe_days(sorted(days))
    named = set()
    for part in words.split(", "):
        first, _, last = part.partition("\u2013")
        start = sla_rules.DAY_ABBREVIATIONS.index(first)
        end = sla_rules.DAY_ABBREVIATIONS.index(last or first)
        named |= {(start + i) % 7 for i in range((end - start) % 7 + 1)}
    assert named == days


def test_holiday_countries_are_known_codes_sorted_by_name():
    countries = sla_rules.holiday_countries()
    assert ("DE", "Germany") in countries
    names = [name for _, name in countries]
    assert names == sorted(names)
    assert all(validation.holiday_country(code) == code for code, _ in countries[:20])
