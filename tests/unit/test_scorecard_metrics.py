"""Scorecard arithmetic: counts, rates, response times and the quality score, without a database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.scorecards.metrics import (
    OfferOutcome,
    QualityWeights,
    percentile,
    scorecard,
)

ACCEPTED = OfferOutcome("accepted", answered_in_time=True, response_hours=2.0, lead_state="sal")


def test_a_period_without_offers_has_counts_of_zero_and_no_rates():
    card = scorecard([])
    assert (card.offered, card.decided, card.stale, card.won_revenue) == (0, 0, 0, {})
    assert card.acceptance_rate is card.sla_compliance is card.sal_to_sql is None
    assert card.response_median_h is card.response_p90_h is card.quality is None


def test_counts_rates_and_revenue_of_a_partners_offers():
    outcomes = [
        OfferOutcome(
            "accepted",
            answered_in_time=True,
            response_hours=1.0,
            lead_state="won",
            had_opportunity=True,
            won_minor=500_000,
            won_currency="EUR",
        ),
        OfferOutcome(
            "accepted",
            answered_in_time=False,
            response_hours=9.0,
            lead_state="sql",
            had_opportunity=True,
        ),
        OfferOutcome(
            "accepted", answered_in_time=True, response_hours=3.0, lead_state="sal", stale=True
        ),
        OfferOutcome("rejected", "no_budget", answered_in_time=True, response_hours=0.5),
        OfferOutcome("rejected", "no_budget", answered_in_time=True, response_hours=4.0),
        OfferOutcome("rejected", "out_of_area", answered_in_time=True, response_hours=2.0),
        OfferOutcome("expired"),
        OfferOutcome("recalled"),
        OfferOutcome("open"),
    ]
    card = scorecard(outcomes)
    assert (card.offered, card.accepted, card.rejected, card.expired) == (9, 3, 3, 1)
    assert (card.recalled, card.open, card.decided) == (1, 1, 7)
    assert card.rejected_by_reason == {"no_budget": 2, "out_of_area": 1}
    assert card.acceptance_rate == pytest.approx(3 / 7)
    assert card.sla_compliance == pytest.approx(5 / 7)  # the expiry and the late answer miss
    assert (card.response_median_h, card.response_p90_h) == (2.0, 9.0)
    assert card.sal_to_sql == pytest.approx(2 / 3) and card.sal_to_won == pytest.approx(1 / 3)
    assert card.won_revenue == {"EUR": 500_000} and card.stale == 1
    assert (card.late, card.reached_sql, card.won) == (2, 2, 1)
    assert list(card.response_buckets.values()) == [1, 3, 1, 1, 0]  # 0.5 | 1, 2, 3 | 4 | 9


def test_quality_weighs_the_parts_the_tenant_chose():
    outcomes = [ACCEPTED, OfferOutcome("expired")]  # acceptance 1/2, SLA 1/2, conversion 0
    card = scorecard(outcomes, QualityWeights(acceptance=1, sla=1, response=0, conversion=0))
    assert card.quality == 50
    only_conversion = QualityWeights(acceptance=0, sla=0, response=0, conversion=1)
    assert scorecard(outcomes, only_conversion).quality == 0


def test_response_counts_against_the_window_and_only_when_the_window_is_known():
    card = scorecard([ACCEPTED], QualityWeights(0, 0, 1, 0), window_hours=8)
    assert card.quality == 75 and card.quality_parts["response"] == pytest.approx(0.75)
    assert "response" not in scorecard([ACCEPTED], window_hours=None).quality_parts


def test_weights_must_count_something():
    with pytest.raises(ValueError):
        QualityWeights(0, 0, 0, 0)
    with pytest.raises(ValueError):
        QualityWeights(-1, 1, 1, 1)


def test_percentiles_take_the_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([1.0], 0.9) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0


OUTCOMES = st.builds(
    OfferOutcome,
    state=st.sampled_from(["open", "accepted", "rejected", "expired", "recalled"]),
    reason_code=st.none() | st.sampled_from(["no_budget", "out_of_area"]),
    answered_in_time=st.none() | st.booleans(),
    response_hours=st.none() | st.floats(0, 500, allow_nan=False),
    lead_state=st.sampled_from(["sal", "sql", "won", "lost"]),
    had_opportunity=st.booleans(),
    won_minor=st.none() | st.integers(1, 10**9),
    won_currency=st.sampled_from(["EUR", "USD"]),
    stale=st.booleans(),
)
WEIGHTS = st.tuples(*[st.integers(0, 100)] * 4).filter(any).map(lambda w: QualityWeights(*w))


@given(st.lists(OUTCOMES, max_size=40), WEIGHTS, st.none() | st.floats(0.5, 200))
def test_every_scorecard_holds_together(outcomes, weights, window):
    card = scorecard(outcomes, weights, window)
    assert card.offered == len(outcomes)
    assert card.accepted + card.rejected + card.expired + card.recalled + card.open == card.offered
    assert sum(card.rejected_by_reason.values()) == card.rejected
    for rate in (card.acceptance_rate, card.sla_compliance, card.sal_to_sql, card.sal_to_won):
        assert rate is None or 0 <= rate <= 1
    assert card.quality is None or 0 <= card.quality <= 100
    assert (card.quality is None) == (not any(getattr(weights, p) for p in card.quality_parts))
    assert card.stale <= card.accepted and card.won <= card.reached_sql <= card.accepted
    assert 0 <= card.late <= card.decided
    assert sum(card.response_buckets.values()) == sum(
        1 for o in outcomes if o.state in ("accepted", "rejected") and o.response_hours is not None
    )
    if card.response_p90_h is not None:
        assert card.response_median_h <= card.response_p90_h
