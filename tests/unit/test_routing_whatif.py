"""What-if routing on plain values: drafts applied to a configuration, and past leads
re-routed under a simulated load."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.routing.facts import (
    FairnessCap,
    Fallback,
    FallbackKind,
    LeadFacts,
    PartnerConfig,
    RoutingConfig,
    TerritoryConfig,
    Weights,
)
from portal.routing.index import build_index
from portal.routing.segments import EMPLOYEES, Segment
from portal.routing.whatif import (
    Draft,
    PartnerChange,
    PastLead,
    SegmentChange,
    apply_draft,
    simulate,
)

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
CB, DR = 1, 2
GERMANY = TerritoryConfig(1, "country", "DE", "Germany", country="DE")
BERLIN = TerritoryConfig(2, "postal", "DE-10", "Berlin", country="DE", postal_prefix="10")
FRANCE = TerritoryConfig(3, "country", "FR", "France", country="FR")
TERRITORIES = (GERMANY, BERLIN, FRANCE)
ENTERPRISE = Segment("Enterprise", EMPLOYEES, 1000, None, None, 1, None)


def partner(pid: int, *territories: TerritoryConfig, **changes) -> PartnerConfig:
    values = {
        "id": pid,
        "name": f"Partner {pid}",
        "status": "active",
        "capacity": 3,
        "tier_rank": 2,
        "tier_weight": 50,
        "tier_name": "Silver",
        "territory_ids": tuple(t.id for t in territories or (GERMANY,)),
        "products": {CB: 1},
    }
    values.update(changes)
    return PartnerConfig(**values)


def config(*partners: PartnerConfig, **changes) -> RoutingConfig:
    return RoutingConfig(version=7, partners=partners, territories=TERRITORIES, **changes)


def past(minutes: int, **facts) -> PastLead:
    values = {"product_id": CB, "country": "DE", "postal_code": "10115"}
    values.update(facts)
    return PastLead(START + timedelta(minutes=minutes), LeadFacts(**values))


WORLD = config(
    partner(1, BERLIN),
    partner(2, GERMANY, tier_rank=1, tier_weight=100),
    partner(3, GERMANY, FRANCE, capacity=1),
)


# Drafts -------------------------------------------------------------------------------------


def test_an_empty_draft_leaves_the_configuration_as_it_is():
    assert Draft().is_empty
    assert apply_draft(WORLD, Draft()) == WORLD


def test_a_draft_changes_capacity_status_coverage_and_certifications_of_one_partner():
    change = PartnerChange(
        2,
        capacity=9,
        status="paused",
        territories_added=frozenset({FRANCE.id}),
        territories_removed=frozenset({GERMANY.id}),
        products_added={DR: 3},
        products_removed=frozenset({CB}),
    )
    changed = apply_draft(WORLD, Draft(partners=(change,)))
    p2 = next(p for p in changed.partners if p.id == 2)
    assert (p2.capacity, p2.status, p2.territory_ids, dict(p2.products)) == (
        9,
        "paused",
        (FRANCE.id,),
        {DR: 3},
    )
    assert [p for p in changed.partners if p.id != 2] == [p for p in WORLD.partners if p.id != 2]
    assert changed.version == WORLD.version


def test_a_draft_sets_weights_fallback_and_segment_rules_by_name():
    base = config(partner(1), segments=(ENTERPRISE,))
    small = Segment("Small", EMPLOYEES, 0, 50, None, None, 2)
    draft = Draft(
        weights=Weights(0, 0, 0, 0, 100),
        fallback=Fallback(FallbackKind.DIRECT_SALES),
        segments=(SegmentChange("enterprise", None), SegmentChange("Small", small)),
    )
    changed = apply_draft(base, draft)
    assert changed.segments == (small,)
    assert changed.weights == Weights(0, 0, 0, 0, 100)
    assert changed.fallback.kind == FallbackKind.DIRECT_SALES


def test_a_draft_survives_its_json_form():
    draft = Draft(
        weights=Weights(1, 2, 3, 4, 5),
        fallback=Fallback(FallbackKind.PARTNER, 3),
        partners=(PartnerChange(2, capacity=0, products_added={DR: 2}),),
        segments=(SegmentChange("Enterprise", ENTERPRISE), SegmentChange("Old", None)),
    )
    assert Draft.from_dict(json.loads(json.dumps(draft.to_dict()))) == draft


# Simulation ---------------------------------------------------------------------------------


def test_leads_go_to_the_most_specific_partner_until_it_is_full():
    result = simulate(build_index(WORLD), [past(n) for n in range(5)], {})
    # Berlin's partner holds three at once; then the Gold partner of Germany, and then,
    # the Gold partner having just had one, fairness and spare capacity favour partner 3.
    assert result.offered == {1: 3, 2: 1, 3: 1}
    assert result.peak_busy[1] == 3 and result.unroutable == 0


def test_a_slot_comes_free_once_the_hold_time_is_over():
    leads = [past(0), past(10), past(20), past(61)]
    index = build_index(config(partner(1, BERLIN, capacity=1)))
    result = simulate(index, leads, {1: timedelta(hours=1)})
    assert result.offered == {1: 2} and result.unroutable == 2


def test_leads_are_routed_in_time_order_whatever_order_they_come_in():
    leads = [past(30, product_id=DR), past(0), past(10)]
    index = build_index(config(partner(1, BERLIN, capacity=1, products={CB: 1, DR: 1})))
    result = simulate(index, leads, {})
    assert result.offered == {1: 1} and result.unroutable == 2


def test_nobody_eligible_goes_to_the_fallback_of_the_drafted_configuration():
    leads = [past(0, product_id=DR), past(1, country="JP", postal_code=None)]
    result = simulate(build_index(WORLD), leads, {})
    assert result.unroutable == 2 and result.offered == {}
    to_sales = apply_draft(WORLD, Draft(fallback=Fallback(FallbackKind.DIRECT_SALES)))
    assert simulate(build_index(to_sales), leads, {}).direct_sales == 2
    to_partner = apply_draft(WORLD, Draft(fallback=Fallback(FallbackKind.PARTNER, 3)))
    result = simulate(build_index(to_partner), leads, {})
    assert (result.fallback, result.offered) == (2, {3: 2})


def test_pausing_a_partner_sends_its_leads_elsewhere():
    draft = Draft(partners=(PartnerChange(1, status="paused"),))
    result = simulate(build_index(apply_draft(WORLD, draft)), [past(n) for n in range(4)], {})
    assert result.offered == {2: 3, 3: 1}


def test_a_segment_rule_keeps_big_companies_for_the_top_tier():
    draft = Draft(segments=(SegmentChange("Enterprise", ENTERPRISE),))
    leads = [past(0, employees=5000)]
    result = simulate(build_index(apply_draft(WORLD, draft)), leads, {})
    assert result.offered == {2: 1}


def test_the_fairness_cap_spreads_a_territorys_offers():
    capped = config(
        partner(1, capacity=100),
        partner(2, capacity=100, tier_weight=100),
        fairness_cap=FairnessCap(max_share=0.5, min_offers=2),
        weights=Weights(0, 100, 0, 0, 0),
    )
    result = simulate(build_index(capped), [past(n) for n in range(10)], {})
    assert result.offered == {1: 5, 2: 5}


# Properties ---------------------------------------------------------------------------------

place = st.sampled_from([("DE", "10115"), ("DE", "80331"), ("FR", "75001"), ("JP", None)])
lead_strategy = st.builds(
    lambda minute, where, product, employees: past(
        minute, country=where[0], postal_code=where[1], product_id=product, employees=employees
    ),
    st.integers(0, 60 * 24 * 10),
    place,
    st.sampled_from([CB, DR, None]),
    st.one_of(st.none(), st.integers(1, 5000)),
)
partner_strategy = st.builds(
    lambda pid, capacity, status, where, products, rank: partner(
        pid, *where, capacity=capacity, status=status, products=products, tier_rank=rank
    ),
    st.just(0),
    st.integers(0, 4),
    st.sampled_from(["active", "active", "paused"]),
    st.lists(st.sampled_from(TERRITORIES), min_size=1, max_size=3, unique=True),
    st.dictionaries(st.sampled_from([CB, DR]), st.integers(0, 3), min_size=1),
    st.integers(1, 3),
)


@st.composite
def worlds(draw):
    partners = draw(st.lists(partner_strategy, min_size=1, max_size=5))
    partners = [p.__class__(**{**_fields(p), "id": n}) for n, p in enumerate(partners, 1)]
    segments = draw(st.sampled_from([(), (ENTERPRISE,)]))
    return config(*partners, segments=segments)


def _fields(p: PartnerConfig) -> dict:
    return {name: getattr(p, name) for name in p.__dataclass_fields__}


holds = st.dictionaries(
    st.integers(1, 5), st.integers(1, 72 * 60).map(lambda m: timedelta(minutes=m))
)


@settings(max_examples=150, deadline=None)
@given(worlds(), st.lists(lead_strategy, max_size=60), holds)
def test_an_empty_draft_reproduces_the_baseline_simulation(world, leads, hold):
    baseline = simulate(build_index(world), leads, hold)
    assert simulate(build_index(apply_draft(world, Draft())), leads, hold) == baseline


@settings(max_examples=150, deadline=None)
@given(worlds(), st.lists(lead_strategy, max_size=60), holds, st.sampled_from(list(FallbackKind)))
def test_every_lead_is_counted_once(world, leads, hold, kind):
    fallback = Fallback(kind, 1 if kind == FallbackKind.PARTNER else None)
    index = build_index(apply_draft(world, Draft(fallback=fallback)))
    result = simulate(index, leads, hold)
    assert sum(result.offered.values()) + result.direct_sales + result.unroutable == len(leads)
    assert result.fallback <= result.offered.get(1, 0)


@settings(max_examples=150, deadline=None)
@given(worlds(), st.lists(lead_strategy, max_size=80), holds)
def test_no_partner_ever_holds_more_offers_than_its_capacity(world, leads, hold):
    result = simulate(build_index(world), leads, hold)
    capacity = {p.id: p.capacity for p in world.partners}
    assert all(result.peak_busy[pid] <= capacity[pid] for pid in result.peak_busy)
