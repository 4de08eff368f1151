"""Qualification rules: what input they accept, which leads they match, how they read."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.leads import scoring
from portal.leads.scoring import (
    EngagementRuleSpec,
    InvalidRule,
    ProfileRule,
    describe_engagement_rule,
    describe_profile_rule,
    describe_qualification,
    profile_rule,
    rule_matches,
)

MINUS = "\u2212"


# Points, threshold, required fields ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [(10, 10), ("-20", -20), (" 100 ", 100), (-100, -100)]
)
def test_points_are_whole_numbers_from_minus_100_to_100(raw, expected):
    assert scoring.rule_points(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (0, "0 points changes nothing"),
        ("0", "0 points changes nothing"),
        (101, "from -100 to 100"),
        (-101, "from -100 to 100"),
        ("", "whole number"),
        ("2.5", "whole number"),
        (None, "whole number"),
        (True, "whole number"),
    ],
)
def test_points_outside_the_rule_are_refused_with_a_reason(raw, message):
    with pytest.raises(InvalidRule, match=message) as caught:
        scoring.rule_points(raw)
    assert caught.value.part == "points"


def test_invalid_rule_is_a_value_error():
    assert issubclass(InvalidRule, ValueError)


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), (60, 60), ("1000", 1000)])
def test_the_threshold_is_from_0_to_1000(raw, expected):
    assert scoring.mql_threshold(raw) == expected


@pytest.mark.parametrize("raw", [-1, 1001, "", "sixty"])
def test_a_threshold_out_of_range_is_refused(raw):
    with pytest.raises(InvalidRule) as caught:
        scoring.mql_threshold(raw)
    assert caught.value.part == "mql_threshold"


def test_required_fields_come_back_in_catalogue_order_without_repeats():
    assert scoring.required_fields(["timeline", "budget", "country", "budget"]) == [
        "budget",
        "timeline",
        "country",
    ]
    assert scoring.required_fields([]) == []


def test_an_unknown_required_field_is_refused():
    with pytest.raises(InvalidRule, match="'shoe_size' is not a field"):
        scoring.required_fields(["budget", "shoe_size"])


# Profile rules ------------------------------------------------------------------------------


def test_an_industry_rule_takes_a_comma_separated_list_without_repeats():
    rule = profile_rule("industry", "in", " Banking,  insurance ; BANKING\n", 10)
    assert rule == ProfileRule("industry", "in", ("Banking", "insurance"), 10)


def test_a_job_title_rule_takes_words_or_phrases():
    rule = profile_rule("job_title", "contains", ["CIO", " IT   director "], 5)
    assert rule.values == ("CIO", "IT director")


def test_a_country_rule_takes_upper_cased_sorted_codes():
    assert profile_rule("country", "in", "ch, de at", -20).values == ("AT", "CH", "DE")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(["200", "999"], (200, 999)), ([None, 49], (None, 49)), (["1000", ""], (1000, None))],
)
def test_an_employee_range_may_leave_either_end_open(raw, expected):
    assert profile_rule("employees", "between", raw, 15).values == expected


@pytest.mark.parametrize(
    ("field", "operator", "raw", "part", "message"),
    [
        ("industry", "in", " , ;", "values", "at least one value"),
        ("industry", "in", [], "values", "at least one value"),
        ("country", "in", "", "values", "at least one country"),
        ("country", "in", "DEU", "values", "not an ISO 3166-1"),
        ("employees", "between", ["1000", "10"], "high", "not be below the low"),
        ("employees", "between", ["-5", "10"], "low", "cannot be negative"),
        ("employees", "between", ["", "-1"], "high", "cannot be negative"),
        ("employees", "between", ["", ""], "low", "a low number, a high number, or both"),
        ("employees", "between", ["ten", ""], "low", "whole number"),
        ("employees", "between", "200-999", "low", "a low and a high number"),
        ("shoe_size", "in", "42", "field", "Choose one of the lead fields"),
        ("industry", "contains", "Banking", "field", "one test only"),
    ],
)
def test_bad_profile_rule_values_are_refused_and_say_which_input(
    field, operator, raw, part, message
):
    with pytest.raises(InvalidRule, match=message) as caught:
        profile_rule(field, operator, raw, 10)
    assert caught.value.part == part


def test_an_overlong_industry_is_refused():
    with pytest.raises(InvalidRule, match="at most 80 characters"):
        profile_rule("industry", "in", "x" * 81, 10)


def test_a_profile_rule_with_0_points_is_refused():
    with pytest.raises(InvalidRule, match="0 points"):
        profile_rule("industry", "in", "Banking", 0)


# Matching -----------------------------------------------------------------------------------

BANKING = ProfileRule("industry", "in", ("Banking", "Insurance"), 10)
MID_SIZE = ProfileRule("employees", "between", (200, 999), 15)
IT_LEADERS = ProfileRule("job_title", "contains", ("CIO", "IT director"), 5)
DACH = ProfileRule("country", "in", ("AT", "CH", "DE"), -20)


def test_an_in_rule_matches_its_values_in_any_case():
    assert rule_matches(BANKING, {"industry": "banking"})
    assert rule_matches(BANKING, {"industry": " Insurance "})
    assert not rule_matches(BANKING, {"industry": "Retail"})


def test_a_country_rule_matches_the_lead_country():
    assert rule_matches(DACH, {"country": "DE"})
    assert rule_matches(DACH, {"country": "at"})
    assert not rule_matches(DACH, {"country": "FR"})


def test_a_job_title_rule_matches_whole_words_in_any_case():
    assert rule_matches(IT_LEADERS, {"job_title": "Group CIO"})
    assert rule_matches(IT_LEADERS, {"job_title": "Head of IT   Director's office"})
    assert rule_matches(IT_LEADERS, {"job_title": "cio/cto"})
    assert not rule_matches(IT_LEADERS, {"job_title": "Sociologist"})
    assert not rule_matches(IT_LEADERS, {"job_title": "Marketing director"})


def test_a_between_rule_includes_both_ends():
    assert rule_matches(MID_SIZE, {"employees": 200})
    assert rule_matches(MID_SIZE, {"employees": 999})
    assert not rule_matches(MID_SIZE, {"employees": 199})
    assert not rule_matches(MID_SIZE, {"employees": 1000})


def test_an_open_ended_range_matches_everything_beyond_its_one_bound():
    at_least = ProfileRule("employees", "between", (1000, None), 20)
    at_most = ProfileRule("employees", "between", (None, 49), -10)
    assert rule_matches(at_least, {"employees": 10**9})
    assert rule_matches(at_most, {"employees": 0})
    assert not rule_matches(at_least, {"employees": 999})


@pytest.mark.parametrize("rule", [BANKING, MID_SIZE, IT_LEADERS, DACH])
@pytest.mark.parametrize("lead", [{}, {"industry": None, "employees": None, "job_title": None}])
def test_a_lead_without_the_field_never_matches(rule, lead):
    assert not rule_matches(rule, lead)


def test_values_of_the_wrong_kind_do_not_match():
    assert not rule_matches(MID_SIZE, {"employees": "many"})
    assert not rule_matches(MID_SIZE, {"employees": True})
    assert not rule_matches(BANKING, {"industry": 42})
    assert rule_matches(MID_SIZE, {"employees": "250"})


bounds = st.one_of(st.none(), st.integers(min_value=0, max_value=10**6))


@given(low=bounds, high=bounds, employees=st.integers(min_value=-10, max_value=2 * 10**6))
def test_a_between_rule_matches_exactly_the_values_inside_its_bounds(low, high, employees):
    if low is not None and high is not None and low > high:
        low, high = high, low
    rule = ProfileRule("employees", "between", (low, high), 10)
    inside = (low is None or employees >= low) and (high is None or employees <= high)
    assert rule_matches(rule, {"employees": employees}) is inside


# Letters whose upper case folds back to the same letter (unlike the Turkish dotless i).
words = st.text(alphabet=string.ascii_letters + string.digits + "äöüéèñçø", min_size=1, max_size=12)


@given(word=words, before=words, after=words)
def test_a_contains_rule_matches_its_word_anywhere_in_a_title(word, before, after):
    rule = profile_rule("job_title", "contains", [word], 5)
    assert rule_matches(rule, {"job_title": f"{before} {word.upper()} {after}"})


@given(values=st.lists(words, min_size=1, max_size=5), chosen=st.integers(min_value=0))
def test_an_in_rule_matches_each_of_its_values(values, chosen):
    rule = profile_rule("industry", "in", values, 10)
    assert rule_matches(rule, {"industry": rule.values[chosen % len(rule.values)]})


# Plain words --------------------------------------------------------------------------------


def test_profile_rules_read_as_sentences():
    assert describe_profile_rule(BANKING) == (
        "+10 points when the industry is one of Banking, Insurance"
    )
    assert describe_profile_rule(MID_SIZE) == "+15 points when the company has 200 to 999 employees"
    assert describe_profile_rule(IT_LEADERS) == (
        "+5 points when the job title contains 'CIO' or 'IT director'"
    )
    assert describe_profile_rule(DACH) == f"{MINUS}20 points when the country is one of AT, CH, DE"


def test_a_country_rule_can_name_its_countries():
    names = {"AT": "Austria", "CH": "Switzerland", "DE": "Germany"}
    assert describe_profile_rule(DACH, names.__getitem__).endswith(
        "one of Austria, Switzerland, Germany"
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((1000, None), "at least 1,000 employees"),
        ((None, 49), "at most 49 employees"),
        ((1, 1), "1 employee"),
        ((5000, 9999), "5,000 to 9,999 employees"),
    ],
)
def test_employee_ranges_read_naturally(values, expected):
    rule = ProfileRule("employees", "between", values, 1)
    assert describe_profile_rule(rule) == f"+1 point when the company has {expected}"


def test_a_single_value_reads_without_one_of():
    rule = ProfileRule("industry", "in", ("Banking",), 10)
    assert describe_profile_rule(rule) == "+10 points when the industry is Banking"


def test_engagement_rules_read_as_sentences():
    webinar = EngagementRuleSpec("webinar_attended", 8, 30)
    assert describe_engagement_rule(webinar) == (
        "+8 points per webinar attended, fading to nothing over 30 days"
    )
    assert describe_engagement_rule(EngagementRuleSpec("unsubscribed", -15, None)) == (
        f"{MINUS}15 points per unsubscribed"
    )
    assert describe_engagement_rule(EngagementRuleSpec("demo_requested", 1, 1)).endswith(
        "over 1 day"
    )


def test_the_threshold_and_required_fields_read_as_a_sentence():
    assert describe_qualification(60, ["budget", "authority", "need", "timeline"]) == (
        "A lead becomes an MQL at 60 points or more, once it has: budget, authority, need, "
        "timeline."
    )
    assert describe_qualification(0, []) == (
        "A lead becomes an MQL at 0 points or more; no field is required before it is offered."
    )


fields = st.sampled_from(sorted(scoring.PROFILE_OPERATORS))
points = st.integers(min_value=-100, max_value=100).filter(bool)
texts = st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=6)


@st.composite
def valid_profile_rules(draw):
    """Any rule profile_rule accepts, built from the kinds of input a form sends."""
    field = draw(fields)
    if field == "employees":
        low, high = draw(bounds), draw(bounds)
        if low is None and high is None:
            low = 0
        raw = sorted([low, high]) if low is not None and high is not None else [low, high]
    elif field == "country":
        raw = draw(st.lists(st.sampled_from(["DE", "at", "Ch", "fr", "US"]), min_size=1))
    else:
        raw = draw(texts.filter(lambda t: any(s.strip() for s in t)))
    try:
        return profile_rule(field, scoring.PROFILE_OPERATORS[field], raw, draw(points))
    except InvalidRule:
        return draw(st.nothing())  # e.g. only separators; the text lists above rarely do that


@given(rule=valid_profile_rules())
def test_a_description_never_fails_for_any_valid_profile_rule(rule):
    text = describe_profile_rule(rule)
    assert text.startswith(("+", MINUS)) and " when the " in text
    assert str(abs(rule.points)) in text


@given(
    activity=st.from_regex(r"[a-z0-9][a-z0-9_]{0,39}", fullmatch=True),
    points=points,
    decay=st.one_of(st.none(), st.integers(min_value=1, max_value=365)),
)
def test_every_valid_engagement_rule_reads_as_words(activity, points, decay):
    rule = scoring.engagement_rule(activity, points, decay)
    text = describe_engagement_rule(rule)
    assert f" per {scoring.activity_label(activity)}" in text
    assert ("fading" in text) is (decay is not None)


# Engagement rules and codes -----------------------------------------------------------------


def test_an_activity_type_is_normalised_to_a_code():
    assert scoring.code_name(" Webinar Attended ", "activity_type") == "webinar_attended"
    assert scoring.code_name("demo-requested", "activity_type") == "demo_requested"


@pytest.mark.parametrize("raw", ["", "   ", "_hidden", "café", "x" * 41, "a.b"])
def test_a_malformed_activity_type_is_refused(raw):
    with pytest.raises(InvalidRule, match="lower-case letters") as caught:
        scoring.code_name(raw, "activity_type")
    assert caught.value.part == "activity_type"


@pytest.mark.parametrize(("raw", "expected"), [("", None), (None, None), ("30", 30), (365, 365)])
def test_decay_is_empty_or_1_to_365_days(raw, expected):
    assert scoring.decay_days(raw) == expected


@pytest.mark.parametrize("raw", [0, 366, "-3", "a week"])
def test_a_decay_out_of_range_is_refused(raw):
    with pytest.raises(InvalidRule) as caught:
        scoring.decay_days(raw)
    assert caught.value.part == "decay_days"


def test_an_engagement_rule_of_0_points_is_refused():
    with pytest.raises(InvalidRule, match="0 points"):
        scoring.engagement_rule("webinar_attended", 0, None)
