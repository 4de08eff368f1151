"""Incentive arithmetic: bounties, gates, accelerators, revenue shares and caps, in minor units."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.incentives.rules import (
    Plan,
    Sal,
    Won,
    adjustments,
    lines,
    round_half_away,
    total,
)

PLAN = Plan("EUR", bounty_minor=10_000, share_bp_by_tier={"Gold": 500, "Silver": 250})
SALS = [Sal(1, "One AG"), Sal(2, "Two AG"), Sal(3, "Three AG", returned=True)]
WONS = [Won(1, "One AG", 1_000_001, "EUR"), Won(2, "Two AG", 50_000, "USD")]


def test_bounties_for_sals_kept_and_a_share_of_won_revenue_by_tier():
    got = lines(PLAN, "Gold", SALS, WONS, sla_compliance=0.9)
    assert [(line.kind, line.amount_minor, line.lead_id) for line in got] == [
        ("bounty", 10_000, 1),
        ("bounty", 10_000, 2),
        ("share", 50_000, 1),  # 5% of 10,000.01 is 500.00005: half a cent rounds away
        ("other_currency", 0, 2),
    ]
    assert total(got) == 70_000
    assert total(lines(PLAN, "Silver", SALS, WONS, 0.9)) == 20_000 + 25_000


def test_the_gate_withholds_the_bounty_and_the_accelerator_adds_to_it():
    gated = Plan("EUR", bounty_minor=10_000, sla_gate_percent=80)
    got = lines(gated, "Gold", SALS, [], sla_compliance=0.79)
    assert [(line.kind, line.amount_minor) for line in got] == [("gate", 0)]
    assert lines(gated, "Gold", SALS, [], sla_compliance=None)[0].kind == "gate"
    fast = Plan("EUR", bounty_minor=10_000, accelerator_percent=95, accelerator_bp=2_500)
    got = lines(fast, "Gold", SALS, [], sla_compliance=0.95)
    assert [(line.kind, line.amount_minor) for line in got][-1] == ("accelerator", 5_000)
    assert total(lines(fast, "Gold", SALS, [], sla_compliance=0.94)) == 20_000


def test_the_cap_takes_back_what_goes_over_it():
    capped = Plan("EUR", bounty_minor=10_000, cap_minor=15_000)
    got = lines(capped, "Gold", SALS, [], 1.0)
    assert (got[-1].kind, got[-1].amount_minor, total(got)) == ("cap", -5_000, 15_000)


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        (Plan("eur", bounty_minor=1), "currency"),
        (Plan("EUR", bounty_minor=-1), "bounty_minor"),
        (Plan("EUR", share_bp_by_tier={"Gold": 6_000}), "share_bp_by_tier"),
        (Plan("EUR", bounty_minor=1, sla_gate_percent=120), "sla_gate_percent"),
        (Plan("EUR", bounty_minor=1, accelerator_percent=90), "accelerator_bp"),
        (
            Plan(
                "EUR",
                bounty_minor=1,
                sla_gate_percent=90,
                accelerator_percent=80,
                accelerator_bp=100,
            ),
            "accelerator_percent",
        ),
        (Plan("EUR", bounty_minor=1, cap_minor=0), "cap_minor"),
        (Plan("EUR"), "plan"),
    ],
)
def test_a_plan_that_makes_no_sense_names_its_problem(plan, field):
    assert field in plan.problems()


def test_a_sound_plan_has_no_problems():
    assert PLAN.problems() == {}


def test_rounding_is_half_away_from_zero():
    assert [round_half_away(Fraction(n, 2)) for n in (1, 3, -1, -3)] == [1, 2, -1, -2]


PLANS = st.builds(
    Plan,
    currency=st.just("EUR"),
    bounty_minor=st.integers(0, 10**7),
    share_bp_by_tier=st.dictionaries(st.sampled_from(["Gold", "Silver"]), st.integers(0, 5_000)),
    sla_gate_percent=st.none() | st.integers(0, 100),
    cap_minor=st.none() | st.integers(1, 10**9),
)
SALS_ST = st.lists(st.builds(Sal, st.integers(1, 10**6), st.just("Co"), st.booleans()), max_size=20)
WONS_ST = st.lists(
    st.builds(
        Won,
        st.integers(1, 10**6),
        st.just("Co"),
        st.integers(1, 10**10),
        st.sampled_from(["EUR", "USD"]),
    ),
    max_size=20,
)


@given(PLANS, st.sampled_from(["Gold", "Silver", "Bronze"]), SALS_ST, WONS_ST,
       st.none() | st.floats(0, 1))  # fmt: skip
def test_a_statement_is_the_sum_of_its_lines_and_the_same_every_time(plan, tier, sals, wons, sla):
    first = lines(plan, tier, sals, wons, sla)
    assert total(first) == sum(line.amount_minor for line in first)
    assert lines(plan, tier, sals, wons, sla) == first  # recomputed: identical
    assert all(isinstance(line.amount_minor, int) for line in first)
    assert total(first) >= 0
    if plan.cap_minor is not None:
        assert total(first) <= plan.cap_minor


def test_a_lead_given_back_and_a_deal_won_after_approval_become_adjustments():
    settled = lines(PLAN, "Gold", SALS[:2], [], 0.9)
    now = lines(PLAN, "Gold", [SALS[0], Sal(2, "Two AG", returned=True)], WONS[:1], 0.9)
    got = adjustments("2026-10", now, settled)
    assert [(line.kind, line.amount_minor, line.lead_id, line.adjusts) for line in got] == [
        ("share", 50_000, 1, "2026-10"),
        ("bounty", -10_000, 2, "2026-10"),
    ]
    assert got[1].description == "Adjustment to 2026-10: Bounty for Two AG (no longer due)"
    # Once those are locked too, the month is settled: nothing more is carried.
    assert adjustments("2026-10", now, settled + got) == []
    assert adjustments("2026-10", settled, settled) == []


def test_a_cap_moves_by_the_difference_only():
    capped = Plan("EUR", bounty_minor=10_000, cap_minor=15_000)
    settled = lines(capped, "Gold", SALS[:1], [], None)  # 100.00, under the cap
    now = lines(capped, "Gold", SALS[:2], [], None)  # 200.00 capped at 150.00
    got = adjustments("2026-10", now, settled)
    assert total(got) == 5_000 and total(settled) + total(got) == total(now)


@given(PLANS, SALS_ST, WONS_ST, SALS_ST, WONS_ST, st.none() | st.floats(0, 1))
def test_settled_and_its_adjustments_always_come_to_what_is_owed_now(plan, s1, w1, s2, w2, sla):
    settled = lines(plan, "Gold", s1, w1, sla)
    now = lines(plan, "Gold", s2, w2, sla)
    got = adjustments("2026-10", now, settled)
    assert total(settled) + total(got) == total(now)
    assert all(line.adjusts == "2026-10" and line.amount_minor for line in got)
    assert adjustments("2026-10", now, settled + got) == []
