"""Lead scoring: profile and engagement points, decay, required fields, and the verdict."""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.leads.lead_score import (
    Activity,
    Contribution,
    Criteria,
    Score,
    Scorer,
    has_field,
    score_lead,
    scoring_action,
)
from portal.leads.lifecycle import Action
from portal.leads.scoring import EngagementRuleSpec, ProfileRule

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BANKING = ProfileRule("industry", "in", ("Banking", "Insurance"), 20)
BIG = ProfileRule("employees", "between", (500, None), 15)
STUDENT = ProfileRule("job_title", "contains", ("student",), -30)
DACH = ProfileRule("country", "in", ("AT", "CH", "DE"), 5)
WEBINAR = EngagementRuleSpec("webinar_attended", 10, 30)
DEMO = EngagementRuleSpec("demo_requested", 25, None)


def criteria(profile=(), engagement=(), threshold=60, required=()) -> Criteria:
    return Criteria(tuple(profile), tuple(engagement), threshold, tuple(required))


def days_ago(days: float, activity_type: str = "webinar_attended") -> Activity:
    return Activity(activity_type, NOW - timedelta(days=days))


def full_bant(**answers) -> dict:
    return {"budget": True, "authority": True, "need": "ERP", "timeline": "Q3"} | answers


# Profile points -----------------------------------------------------------------------------


def test_each_matching_profile_rule_adds_its_points_once_in_words():
    lead = {"industry": "banking", "employees": 1200, "country": "DE", "job_title": "CIO"}
    score = score_lead(lead, [], criteria([BANKING, BIG, STUDENT, DACH]), NOW)
    assert score.contributions == (
        Contribution("profile", "the industry is one of Banking, Insurance", 20),
        Contribution("profile", "the company has at least 500 employees", 15),
        Contribution("profile", "the country is one of AT, CH, DE", 5),
    )
    assert score.total == 40


def test_profile_rules_that_do_not_match_or_lack_a_value_give_nothing():
    score = score_lead({"industry": "Retail"}, [], criteria([BANKING, BIG]), NOW)
    assert score.contributions == ()
    assert score.total == 0


def test_a_country_label_turns_codes_into_names_in_the_reason():
    names = {"AT": "Austria", "CH": "Switzerland", "DE": "Germany"}
    score = score_lead({"country": "AT"}, [], criteria([DACH]), NOW, country_label=names.get)
    assert score.contributions[0].reason == "the country is one of Austria, Switzerland, Germany"


def test_a_negative_rule_is_listed_but_the_total_is_never_below_0():
    score = score_lead({"job_title": "Student"}, [], criteria([STUDENT]), NOW)
    assert score.contributions == (
        Contribution("profile", "the job title contains 'student'", -30),
    )
    assert score.total == 0


# Engagement points and decay ----------------------------------------------------------------


def test_activities_without_decay_count_fully_however_old():
    score = score_lead({}, [days_ago(400, "demo_requested")] * 2, criteria(engagement=[DEMO]), NOW)
    assert score.contributions == (Contribution("engagement", "2 \u00d7 demo requested", 50),)


def test_a_fresh_activity_gives_full_points_and_names_the_fade():
    score = score_lead({}, [days_ago(0)], criteria(engagement=[WEBINAR]), NOW)
    assert score.contributions == (
        Contribution("engagement", "1 \u00d7 webinar attended (fading over 30 days)", 10),
    )


def test_an_activity_exactly_decay_days_old_gives_nothing():
    score = score_lead({}, [days_ago(30)], criteria(engagement=[WEBINAR]), NOW)
    assert score.contributions == ()
    assert score.total == 0


def test_half_way_through_the_fade_gives_half_the_points_rounded_away_from_zero():
    rules = [EngagementRuleSpec("webinar_attended", 5, 30), EngagementRuleSpec("spam", -5, 30)]
    activities = [days_ago(15), days_ago(15, "spam")]
    score = score_lead({}, activities, criteria(engagement=rules), NOW)
    assert [c.points for c in score.contributions] == [3, -3]


def test_points_are_rounded_once_per_rule_not_per_activity():
    rule = EngagementRuleSpec("webinar_attended", 1, 10)
    score = score_lead({}, [days_ago(6), days_ago(6)], criteria(engagement=[rule]), NOW)
    assert score.contributions[0].points == 1  # 0.4 + 0.4, where per-activity gives 0 + 0


def test_faded_out_activities_are_not_counted_in_the_reason():
    score = score_lead({}, [days_ago(1), days_ago(45)], criteria(engagement=[WEBINAR]), NOW)
    assert score.contributions[0].reason.startswith("1 \u00d7 webinar attended")


def test_activities_after_now_are_ignored():
    future = Activity("demo_requested", NOW + timedelta(seconds=1))
    assert score_lead({}, [future], criteria(engagement=[DEMO]), NOW).total == 0


def test_activities_without_a_rule_give_nothing():
    score = score_lead({}, [days_ago(1, "page_viewed")], criteria(engagement=[WEBINAR]), NOW)
    assert score.contributions == ()


def test_profile_contributions_come_before_engagement_in_rule_order():
    lead = {"industry": "Insurance", "employees": 900}
    activities = [days_ago(1, "demo_requested"), days_ago(0)]
    score = score_lead(lead, activities, criteria([BIG, BANKING], [DEMO, WEBINAR]), NOW)
    assert [(c.source, c.points) for c in score.contributions] == [
        ("profile", 15),
        ("profile", 20),
        ("engagement", 25),
        ("engagement", 10),
    ]
    assert score.total == 70


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        score_lead({}, [], criteria(), datetime(2025, 6, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        score_lead({}, [Activity("x", datetime(2025, 6, 1))], criteria(), NOW)


# Required fields ----------------------------------------------------------------------------


def test_missing_required_fields_are_listed_in_the_order_of_the_criteria():
    lead = {"bant": {"budget": None, "need": "ERP"}, "contact_email": "  ", "country": "DE"}
    required = ("timeline", "contact_email", "budget", "country", "need", "product")
    score = score_lead(lead, [], criteria(required=required), NOW)
    assert score.missing_fields == ("timeline", "contact_email", "budget", "product")


def test_a_bant_answer_of_false_counts_as_answered():
    lead = {"bant": full_bant(budget=False, authority=False)}
    assert has_field(lead, "budget")
    assert has_field(lead, "authority")


@pytest.mark.parametrize("answer", [None, "", "   "])
def test_a_bant_answer_that_is_none_or_blank_is_missing(answer):
    assert not has_field({"bant": full_bant(budget=answer)}, "budget")


def test_bant_is_missing_when_the_lead_has_no_bant_answers():
    assert not has_field({}, "need")
    assert not has_field({"bant": None}, "need")


@pytest.mark.parametrize(
    ("lead", "present"),
    [
        ({"employees": 0}, True),
        ({"employees": None}, False),
        ({"product": True}, True),
        ({"product": False}, False),
        ({"product": "ERP Cloud"}, True),
        ({"postal_code": " "}, False),
        ({}, False),
    ],
)
def test_other_fields_are_present_unless_none_false_or_blank(lead, present):
    assert has_field(lead, next(iter(lead), "product")) is present


# Verdict and action ------------------------------------------------------------------------


def test_at_or_above_the_threshold_with_every_field_the_lead_is_an_mql():
    score = Score(72, (), (), 60)
    assert score.qualifies
    assert score.verdict() == "72 points of 60 needed: a marketing qualified lead."
    assert scoring_action(score) is Action.SCORE_ABOVE
    assert Score(60, (), (), 60).qualifies


def test_below_the_threshold_the_lead_is_nurtured():
    score = Score(45, (), (), 60)
    assert not score.qualifies
    assert score.verdict() == "45 points of 60 needed: nurture until more activity."
    assert scoring_action(score) is Action.SCORE_BELOW


def test_enough_points_but_missing_fields_means_nurture_until_they_are_known():
    score = Score(72, (), ("budget", "timeline"), 60)
    assert not score.qualifies
    assert score.verdict() == (
        "72 points, but budget and timeline are missing: nurture until they are known."
    )
    assert scoring_action(score) is Action.SCORE_BELOW


def test_one_missing_field_reads_in_the_singular_with_its_label():
    score = Score(72, (), ("contact_email",), 60)
    assert score.verdict() == "72 points, but contact e-mail is missing: nurture until it is known."


def test_too_few_points_and_missing_fields_names_both():
    score = Score(1, (), ("budget", "need", "timeline"), 60)
    assert score.verdict() == (
        "1 point of 60 needed, and budget, need and timeline are missing: "
        "nurture until more activity and until they are known."
    )


def test_the_breakdown_is_plain_json_for_the_lead():
    score = score_lead({"industry": "Banking"}, [days_ago(0)], criteria([BANKING], [WEBINAR]), NOW)
    assert score.breakdown() == [
        {"source": "profile", "reason": "the industry is one of Banking, Insurance", "points": 20},
        {
            "source": "engagement",
            "reason": "1 \u00d7 webinar attended (fading over 30 days)",
            "points": 10,
        },
    ]


# Properties ---------------------------------------------------------------------------------

TYPES = ("webinar_attended", "demo_requested", "page_viewed")
points = st.integers(-100, 100).filter(bool)
positive_points = st.integers(1, 100)
decays = st.none() | st.integers(1, 365)
moments = st.integers(-400 * 86_400, 0).map(lambda s: NOW + timedelta(seconds=s))
any_moments = st.integers(-400 * 86_400, 10 * 86_400).map(lambda s: NOW + timedelta(seconds=s))
activities = st.lists(st.builds(Activity, st.sampled_from(TYPES), any_moments), max_size=12)
past_activities = st.lists(st.builds(Activity, st.sampled_from(TYPES), moments), max_size=12)

profile_rules = st.one_of(
    st.builds(ProfileRule, st.just("industry"), st.just("in"), st.just(("Banking",)), points),
    st.builds(ProfileRule, st.just("employees"), st.just("between"), st.just((100, 999)), points),
    st.builds(ProfileRule, st.just("job_title"), st.just("contains"), st.just(("CIO",)), points),
    st.builds(ProfileRule, st.just("country"), st.just("in"), st.just(("DE", "AT")), points),
)
engagement_rules = st.builds(EngagementRuleSpec, st.sampled_from(TYPES), points, decays)
positive_engagement_rules = st.builds(
    EngagementRuleSpec, st.sampled_from(TYPES), positive_points, decays
)
all_criteria = st.builds(
    Criteria,
    st.lists(profile_rules, max_size=4).map(tuple),
    st.lists(engagement_rules, max_size=4).map(tuple),
    st.integers(0, 200),
    st.lists(st.sampled_from(["budget", "need", "country", "product"]), unique=True).map(tuple),
)
leads = st.fixed_dictionaries(
    {
        "industry": st.sampled_from([None, "Banking", "Retail"]),
        "employees": st.sampled_from([None, 50, 500, 5000]),
        "job_title": st.sampled_from([None, "Group CIO", "Sociologist"]),
        "country": st.sampled_from([None, "DE", "FR", ""]),
        "product": st.booleans(),
        "bant": st.fixed_dictionaries(
            {
                "budget": st.sampled_from([None, True, False, ""]),
                "need": st.sampled_from([None, "x"]),
            }
        ),
    }
)


def engagement_total(score: Score) -> int:
    return sum(c.points for c in score.contributions if c.source == "engagement")


@settings(deadline=None)
@given(leads, activities, all_criteria)
def test_the_total_is_the_sum_of_the_contributions_but_never_below_0(lead, acts, crit):
    score = score_lead(lead, acts, crit, NOW)
    assert score.total == max(0, sum(c.points for c in score.contributions))
    assert all(c.points for c in score.contributions)


@settings(deadline=None)
@given(leads, activities, all_criteria, positive_points, decays, any_moments)
def test_an_activity_of_a_positive_rule_never_lowers_the_score(
    lead, acts, crit, gain, decay, moment
):
    # A type no other rule names, so the new activity can only add points.
    rule = EngagementRuleSpec("trial_started", gain, decay)
    crit = Criteria(crit.profile_rules, (*crit.engagement_rules, rule), crit.threshold, ())
    before = score_lead(lead, acts, crit, NOW)
    after = score_lead(lead, [*acts, Activity("trial_started", moment)], crit, NOW)
    assert after.total >= before.total
    assert engagement_total(after) >= engagement_total(before)


@settings(deadline=None)
@given(
    past_activities, st.lists(positive_engagement_rules, max_size=4), st.integers(0, 500 * 86_400)
)
def test_moving_now_later_never_raises_the_points_of_positive_rules(acts, rules, later):
    crit = criteria(engagement=rules)
    earlier = score_lead({}, acts, crit, NOW)
    moved = score_lead({}, acts, crit, NOW + timedelta(seconds=later))
    assert engagement_total(moved) <= engagement_total(earlier)


@settings(deadline=None)
@given(leads, activities, all_criteria)
def test_a_lead_qualifies_exactly_when_it_has_the_points_and_every_field(lead, acts, crit):
    score = score_lead(lead, acts, crit, NOW)
    assert score.qualifies == (score.total >= crit.threshold and not score.missing_fields)
    assert scoring_action(score) is (Action.SCORE_ABOVE if score.qualifies else Action.SCORE_BELOW)
    assert score.missing_fields == tuple(f for f in crit.required_fields if not has_field(lead, f))


@settings(deadline=None)
@given(leads, activities, all_criteria, st.randoms(use_true_random=False))
def test_scoring_is_deterministic_whatever_the_order_of_activities(
    lead, acts, crit, rnd: random.Random
):
    shuffled = list(acts)
    rnd.shuffle(shuffled)
    first = score_lead(lead, acts, crit, NOW)
    assert score_lead(lead, acts, crit, NOW) == first
    assert score_lead(lead, iter(shuffled), crit, NOW) == first


@settings(deadline=None)
@given(leads, activities, all_criteria)
def test_the_breakdown_is_json_and_adds_up_to_a_positive_total(lead, acts, crit):
    score = score_lead(lead, acts, crit, NOW)
    stored = json.loads(json.dumps(score.breakdown()))
    assert stored == score.breakdown()
    if score.total > 0:
        assert sum(item["points"] for item in stored) == score.total


def test_one_scorer_scores_many_leads_as_score_lead_scores_each():
    crit = criteria([BANKING, BIG, STUDENT, DACH], [WEBINAR, DEMO], threshold=30, required=["need"])
    scorer = Scorer(crit)
    leads = [
        {"industry": "banking", "employees": 900, "country": "DE", "bant": {"need": "yes"}},
        {"industry": "Retail", "job_title": "Working student", "employees": "12"},
        {},
    ]
    activities = [days_ago(3), days_ago(10, "demo_requested")]
    for lead in leads:
        assert scorer.score(lead, activities, NOW) == score_lead(lead, activities, crit, NOW)
