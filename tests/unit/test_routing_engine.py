"""The routing engine on plain values: eligibility, order, fairness, fallback and explanations."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.routing.engine import Outcome, Reason, Shown, route
from portal.routing.explain import outcome_words, why, why_not
from portal.routing.facts import (
    FairnessCap,
    Fallback,
    FallbackKind,
    LeadFacts,
    Load,
    PartnerConfig,
    PartnerLoad,
    RoutingConfig,
    TerritoryConfig,
    TerritoryOffers,
    Weights,
)
from portal.routing.index import IndexCache, build_index
from portal.routing.segments import DEAL_SIZE, EMPLOYEES, Segment, segment_for

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECURITY, BACKUP = 1, 2

GLOBAL = TerritoryConfig(1, "global", "GLOBAL", "Global")
EU = TerritoryConfig(2, "region", "EU", "EU", region_countries=("DE", "FR"))
GERMANY = TerritoryConfig(3, "country", "DE", "Germany", country="DE")
BAVARIA = TerritoryConfig(4, "subdivision", "DE-BY", "Bavaria", country="DE", subdivision="DE-BY")
MUNICH = TerritoryConfig(5, "postal", "DE-PC-80", "Munich", country="DE", postal_prefix="80")
CENTRE = TerritoryConfig(6, "postal", "DE-PC-803", "Centre", country="DE", postal_prefix="803")
FRANCE = TerritoryConfig(7, "country", "FR", "France", country="FR")
PARIS = TerritoryConfig(8, "postal", "FR-PC-75", "Paris", country="FR", postal_prefix="75")
LONDON = TerritoryConfig(
    9, "postal", "GB-SW1A-1", "Whitehall", country="GB", postal_prefix="SW1A 1"
)
# A second region holding Germany, so a partner can reach a lead twice at the same fit.
WEST = TerritoryConfig(10, "region", "WEST", "West", region_countries=("DE", "FR", "GB"))
TERRITORIES = (GLOBAL, EU, GERMANY, BAVARIA, MUNICH, CENTRE, FRANCE, PARIS, LONDON, WEST)

ENTERPRISE = Segment("Enterprise", EMPLOYEES, 1000, None, None, 2, None)
BIG_DEALS = Segment("Big deals", DEAL_SIZE, 10_000_000, None, "EUR", None, 2)


def partner(pid: int, *territories: TerritoryConfig, **changes) -> PartnerConfig:
    """An active Silver partner with room, selling SECURITY, covering Germany unless told."""
    values = {
        "id": pid,
        "name": f"Partner {pid}",
        "status": "active",
        "capacity": 10,
        "tier_rank": 3,
        "tier_weight": 10,
        "tier_name": "Silver",
        "quality": None,
        "territory_ids": tuple(t.id for t in territories or (GERMANY,)),
        "products": {SECURITY: 1},
    }
    values.update(changes)
    return PartnerConfig(**values)


def config(*partners: PartnerConfig, version: int = 1, **changes) -> RoutingConfig:
    return RoutingConfig(version=version, partners=partners, territories=TERRITORIES, **changes)


def lead(**changes) -> LeadFacts:
    """A security lead from central Munich."""
    values = {
        "product_id": SECURITY,
        "country": "DE",
        "subdivision": "DE-BY",
        "postal_code": "80331",
    }
    values.update(changes)
    return LeadFacts(**values)


def decide(
    *partners: PartnerConfig, facts: LeadFacts | None = None, load: Load | None = None, **changes
):
    return route(build_index(config(*partners, **changes)), facts or lead(), load or Load(), NOW)


def loaded(**busy: tuple[int, int] | PartnerLoad) -> Load:
    """Load by 'p<id>': (open offers, accepted not closed) or a PartnerLoad."""
    partners = {}
    for key, value in busy.items():
        pid = int(key[1:])
        partners[pid] = value if isinstance(value, PartnerLoad) else PartnerLoad(*value)
    return Load(partners)


def reasons_of(decision, pid: int) -> tuple[Reason, ...]:
    return next(e.reasons for e in decision.exclusions if e.partner_id == pid)


# Eligibility ------------------------------------------------------------------------------


def test_a_partner_covering_the_product_and_the_place_gets_the_lead():
    decision = decide(partner(1))
    assert decision.outcome == Outcome.ROUTED
    assert decision.partner_id == 1
    assert decision.ranking == (1,)
    assert decision.exclusions == ()


@pytest.mark.parametrize("status", ["paused", "suspended"])
def test_a_partner_that_is_not_active_is_left_out(status):
    decision = decide(partner(1, status=status), partner(2))
    assert decision.ranking == (2,)
    assert reasons_of(decision, 1) == (Reason.INACTIVE,)


def test_a_partner_that_does_not_offer_the_product_is_left_out():
    decision = decide(partner(1, products={BACKUP: 3}), partner(2))
    assert decision.ranking == (2,)
    assert reasons_of(decision, 1) == (Reason.WRONG_PRODUCT,)


def test_a_partner_selling_the_product_elsewhere_is_left_out_for_its_territory():
    decision = decide(partner(1, FRANCE), partner(2))
    assert decision.ranking == (2,)
    assert reasons_of(decision, 1) == (Reason.NO_TERRITORY,)


def test_partners_neither_selling_the_product_nor_covering_the_place_are_not_considered():
    decision = decide(partner(1, FRANCE, products={BACKUP: 1}), partner(2))
    assert [e.partner_id for e in decision.exclusions] == []


def test_open_offers_and_accepted_leads_not_closed_count_against_capacity():
    decision = decide(
        partner(1, capacity=5), partner(2, capacity=5), load=loaded(p1=(3, 2), p2=(3, 1))
    )
    assert decision.ranking == (2,)
    assert reasons_of(decision, 1) == (Reason.AT_CAPACITY,)


def test_a_partner_with_no_capacity_gets_nothing():
    decision = decide(partner(1, capacity=0))
    assert decision.outcome == Outcome.UNROUTABLE
    assert reasons_of(decision, 1) == (Reason.AT_CAPACITY,)


def test_a_partner_that_already_had_the_lead_is_not_offered_it_again():
    decision = decide(partner(1), partner(2), facts=lead(partners_had=frozenset({1})))
    assert decision.ranking == (2,)
    assert reasons_of(decision, 1) == (Reason.ALREADY_HAD,)


def test_a_segment_rule_leaves_out_partners_below_its_minimum_tier():
    gold = partner(1, tier_rank=2, tier_name="Gold")
    platinum = partner(2, tier_rank=1, tier_name="Platinum")
    decision = decide(
        partner(3), gold, platinum, facts=lead(employees=5000), segments=(ENTERPRISE,)
    )
    assert set(decision.ranking) == {1, 2}
    assert reasons_of(decision, 3) == (Reason.TIER_BELOW_SEGMENT,)
    assert decision.segment == ENTERPRISE


def test_a_segment_rule_leaves_out_partners_below_its_minimum_certification():
    advanced = partner(1, products={SECURITY: 2})
    basic = partner(2, products={SECURITY: 1, BACKUP: 3})
    facts = lead(deal_size_minor=20_000_000, currency="EUR")
    decision = decide(advanced, basic, facts=facts, segments=(BIG_DEALS,))
    assert decision.ranking == (1,)
    assert reasons_of(decision, 2) == (Reason.CERTIFICATION_BELOW_SEGMENT,)


def test_a_lead_outside_every_segment_needs_no_tier_or_certification():
    facts = lead(employees=10, deal_size_minor=5_000_00, currency="EUR")
    decision = decide(
        partner(1, tier_rank=4, products={SECURITY: 0}),
        facts=facts,
        segments=(ENTERPRISE, BIG_DEALS),
    )
    assert decision.segment is None
    assert decision.ranking == (1,)


def test_the_deal_size_rule_applies_before_the_company_size_rule():
    facts = lead(employees=5000, deal_size_minor=20_000_000, currency="eur")
    decision = decide(
        partner(1, tier_rank=4, products={SECURITY: 3}),
        facts=facts,
        segments=(ENTERPRISE, BIG_DEALS),
    )
    assert decision.segment == BIG_DEALS
    assert decision.ranking == (1,)


def test_every_reason_of_a_partner_is_listed_in_a_fixed_order():
    worst = partner(1, status="paused", tier_rank=4, capacity=1, products={BACKUP: 0})
    far = partner(3, FRANCE, tier_rank=1, products={SECURITY: 0})
    facts = lead(deal_size_minor=0, currency="EUR", partners_had=frozenset({1}))
    decision = decide(
        worst,
        partner(2, tier_rank=1),
        far,
        facts=facts,
        load=loaded(p1=(1, 0)),
        segments=(replace(BIG_DEALS, min_value=0),),
    )
    assert reasons_of(decision, 1) == (
        Reason.INACTIVE,
        Reason.WRONG_PRODUCT,
        Reason.ALREADY_HAD,
        Reason.AT_CAPACITY,
    )
    assert reasons_of(decision, 2) == (Reason.CERTIFICATION_BELOW_SEGMENT,)
    assert reasons_of(decision, 3) == (Reason.NO_TERRITORY, Reason.CERTIFICATION_BELOW_SEGMENT)


# Territory ---------------------------------------------------------------------------------


def test_territories_rank_from_the_longest_postal_prefix_down_to_global():
    partners = [
        partner(pid, t)
        for pid, t in enumerate((GLOBAL, EU, GERMANY, BAVARIA, MUNICH, CENTRE), start=1)
    ]
    decision = decide(*partners)
    assert decision.ranking == (6, 5, 4, 3, 2, 1)
    fits = [c.term("territory").value for c in decision.candidates]
    assert fits == sorted(fits, reverse=True) and fits[-1] == 0.0


def test_a_partner_is_matched_through_its_most_specific_territory():
    decision = decide(partner(1, GLOBAL, GERMANY, MUNICH))
    assert decision.winner.term("territory").facts["code"] == "DE-PC-80"


def test_a_partner_reached_twice_at_the_same_fit_is_shown_through_the_more_specific_one():
    # Prefixes of five characters and more fit alike; the longer one is still met first.
    five = TerritoryConfig(11, "postal", "DE-PC-80331", "", country="DE", postal_prefix="80331")
    six = TerritoryConfig(12, "postal", "DE-PC-803311", "", country="DE", postal_prefix="803311")
    index = build_index(RoutingConfig(1, (partner(1, five, six),), (five, six)))
    decision = route(index, lead(postal_code="8033112"), Load(), NOW)
    assert decision.winner.term("territory").facts["code"] == "DE-PC-803311"
    assert decision.winner == decision.candidates[0]
    assert (
        decision.winner_territory_id
        == 12
        == decision.winner.term("territory").facts["territory_id"]
    )


@pytest.mark.parametrize("postal", ["80331", "80 331", "80-331", "803"])
def test_postal_codes_match_prefixes_whatever_their_spaces_and_dashes(postal):
    decision = decide(partner(1, CENTRE), facts=lead(postal_code=postal))
    assert decision.ranking == (1,)


def test_a_postal_prefix_with_a_space_matches_codes_written_either_way():
    facts = lead(country="GB", subdivision=None, postal_code="sw1a1aa")
    assert decide(partner(1, LONDON), facts=facts).ranking == (1,)


def test_a_postal_prefix_does_not_match_the_same_digits_in_another_country():
    facts = lead(country="FR", subdivision=None, postal_code="80331")
    decision = decide(partner(1, MUNICH), partner(2, FRANCE), facts=facts)
    assert decision.ranking == (2,)


def test_a_region_holds_the_countries_listed_in_it():
    facts = lead(country="FR", subdivision=None, postal_code=None)
    assert decide(partner(1, EU), facts=facts).ranking == (1,)
    facts = lead(country="GB", subdivision=None, postal_code=None)
    assert decide(partner(1, EU), facts=facts).outcome == Outcome.UNROUTABLE


def test_a_lead_with_only_a_subdivision_is_placed_in_its_country():
    facts = lead(country=None, subdivision="DE-BY", postal_code=None)
    assert decide(partner(1, GERMANY), partner(2, BAVARIA), facts=facts).ranking == (2, 1)


def test_a_lead_without_a_place_reaches_only_global_partners():
    facts = lead(country=None, subdivision=None, postal_code=None)
    decision = decide(partner(1, GLOBAL), partner(2), facts=facts)
    assert decision.ranking == (1,)
    assert reasons_of(decision, 2) == (Reason.NO_TERRITORY,)


def test_the_index_lists_the_territories_holding_a_lead_most_specific_first():
    index = build_index(config())
    assert index.territories_holding(lead()) == (6, 5, 4, 3, 2, 10, 1)


# Score and order ---------------------------------------------------------------------------


def test_a_higher_tier_and_better_quality_score_higher():
    gold = partner(1, tier_rank=2, tier_weight=20, quality=50)
    strong = partner(2, quality=90)
    plain = partner(3)
    decision = decide(
        plain,
        gold,
        strong,
        weights=Weights(territory=0, tier=50, quality=50, capacity=0, fairness=0),
    )
    assert decision.ranking == (2, 1, 3)
    assert [round(c.score, 6) for c in decision.candidates] == [50.0, 35.0, 30.0]


def test_a_partner_without_a_scorecard_counts_as_neutral():
    decision = decide(partner(1))
    quality = decision.winner.term("quality")
    assert quality.value == 0.5 and quality.facts == {"quality": 50, "scorecard": False}


def test_more_spare_capacity_scores_higher():
    load = loaded(p1=(8, 0), p2=(2, 0))
    decision = decide(partner(1), partner(2), load=load, weights=Weights(0, 0, 0, 1, 0))
    assert decision.ranking == (2, 1)
    assert decision.winner.term("capacity").value == pytest.approx(0.8)


def test_the_least_recently_offered_partner_scores_higher_for_fairness():
    load = loaded(
        p1=PartnerLoad(last_offered_at=NOW - timedelta(hours=1)),
        p2=PartnerLoad(last_offered_at=NOW - timedelta(days=3)),
    )
    decision = decide(partner(1), partner(2), partner(3), load=load)
    assert decision.ranking == (3, 2, 1)
    assert decision.winner.term("fairness").value == 1.0


def test_equal_scores_go_to_the_least_recently_offered_then_the_lowest_id():
    load = loaded(
        p5=PartnerLoad(last_offered_at=NOW - timedelta(days=2)),
        p6=PartnerLoad(last_offered_at=NOW - timedelta(days=1)),
    )
    zero = Weights(0, 0, 0, 0, 0)
    decision = decide(partner(6), partner(5), partner(4), partner(3), load=load, weights=zero)
    assert decision.ranking == (3, 4, 5, 6)
    assert {c.score for c in decision.candidates} == {0.0}


def test_the_score_is_the_sum_of_its_terms_under_the_weights():
    load = loaded(p1=PartnerLoad(2, 1, NOW - timedelta(hours=12)))
    decision = decide(partner(1, MUNICH, quality=80), load=load)
    winner = decision.winner
    assert sum(t.points for t in winner.terms) == pytest.approx(winner.score)
    assert [t.max_points for t in winner.terms] == [40, 20, 20, 10, 10]
    assert winner.term("fairness").value == pytest.approx(1 / 3)


# Fairness cap ------------------------------------------------------------------------------


def capped_load(share_of_1: int, total: int = 10) -> Load:
    return Load(territory_offers={GERMANY.id: TerritoryOffers(total, {1: share_of_1})})


def test_a_partner_over_the_fairness_cap_gives_way_to_another_eligible_partner():
    cap = FairnessCap(max_share=0.5, min_offers=10)
    decision = decide(partner(1, quality=90), partner(2), load=capped_load(6), fairness_cap=cap)
    assert decision.ranking == (2,)
    assert reasons_of(decision, 1) == (Reason.OVER_FAIRNESS_CAP,)
    assert next(e for e in decision.exclusions if e.partner_id == 1).facts["share"] == 0.6


def test_a_partner_holding_exactly_the_capped_share_is_at_the_cap():
    cap = FairnessCap(max_share=0.5, min_offers=10)
    decision = decide(partner(1, quality=90), partner(2), load=capped_load(5), fairness_cap=cap)
    assert decision.ranking == (2,)
    decision = decide(partner(1, quality=90), partner(2), load=capped_load(4), fairness_cap=cap)
    assert decision.ranking == (1, 2)


def test_the_fairness_cap_is_lifted_when_nobody_else_can_take_the_lead():
    cap = FairnessCap(max_share=0.5, min_offers=10)
    busy = Load(capped_load(6).partners | {2: PartnerLoad(10, 0)}, capped_load(6).territory_offers)
    decision = decide(partner(1), partner(2), load=busy, fairness_cap=cap)
    assert decision.ranking == (1,)
    assert reasons_of(decision, 2) == (Reason.AT_CAPACITY,)


def test_the_fairness_cap_waits_for_enough_offers_in_the_territory():
    cap = FairnessCap(max_share=0.5, min_offers=20)
    decision = decide(partner(1, quality=90), partner(2), load=capped_load(6), fairness_cap=cap)
    assert decision.ranking == (1, 2)


def test_the_fairness_cap_counts_the_territory_the_partner_matched_through():
    cap = FairnessCap(max_share=0.5, min_offers=10)
    # Partner 1 is matched through Munich, whose offers it does not dominate.
    decision = decide(
        partner(1, GERMANY, MUNICH), partner(2), load=capped_load(6), fairness_cap=cap
    )
    assert decision.ranking == (1, 2)


def test_a_capped_partner_is_not_routed_through_a_broader_territory_instead():
    cap = FairnessCap(max_share=0.5, min_offers=10)
    load = Load(territory_offers={MUNICH.id: TerritoryOffers(10, {1: 6})})
    decision = decide(
        partner(1, GERMANY, MUNICH, quality=90), partner(2), load=load, fairness_cap=cap
    )
    assert (decision.partner_id, decision.ranking) == (2, (2,))


# Fallback ----------------------------------------------------------------------------------


def test_a_lead_nobody_can_take_is_unroutable_without_a_fallback():
    decision = decide(partner(1, FRANCE))
    assert (decision.outcome, decision.partner_id, decision.ranking) == (
        Outcome.UNROUTABLE,
        None,
        (),
    )
    assert decision.winner is None and decision.candidates == ()
    assert decision.winner_territory_id is None


def test_a_lead_nobody_can_take_goes_to_direct_sales_when_the_tenant_says_so():
    decision = decide(partner(1, FRANCE), fallback=Fallback(FallbackKind.DIRECT_SALES))
    assert decision.outcome == Outcome.DIRECT_SALES


def test_a_lead_nobody_can_take_goes_to_the_default_partner_whatever_its_coverage():
    decision = decide(partner(1, FRANCE, capacity=0), fallback=Fallback(FallbackKind.PARTNER, 1))
    assert (decision.outcome, decision.partner_id) == (Outcome.FALLBACK_PARTNER, 1)


def test_the_default_partner_must_be_active_and_new_to_the_lead():
    fallback = Fallback(FallbackKind.PARTNER, 1)
    paused = decide(partner(1, FRANCE, status="paused"), fallback=fallback)
    assert (paused.outcome, paused.fallback_refused) == (Outcome.UNROUTABLE, Reason.INACTIVE)
    had = decide(partner(1, FRANCE), facts=lead(partners_had=frozenset({1})), fallback=fallback)
    assert (had.outcome, had.fallback_refused) == (Outcome.UNROUTABLE, Reason.ALREADY_HAD)


def test_a_lead_without_a_product_reaches_nobody():
    decision = decide(partner(1), facts=lead(product_id=None))
    assert decision.outcome == Outcome.UNROUTABLE
    assert reasons_of(decision, 1) == (Reason.WRONG_PRODUCT,)


# Explanations -----------------------------------------------------------------------------


def test_a_decision_is_json_with_its_candidates_and_exclusions():
    backup_only = partner(4, products={BACKUP: 2})
    decision = decide(
        partner(1, MUNICH, quality=70), partner(2, FRANCE), partner(3, status="paused"), backup_only
    )
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["outcome"] == "routed" and data["partner_id"] == 1 and data["eligible"] == 1
    assert [t["name"] for t in data["candidates"][0]["terms"]] == [
        "territory",
        "tier",
        "quality",
        "capacity",
        "fairness",
    ]
    assert {e["partner_id"]: e["reasons"] for e in data["exclusions"]} == {
        2: ["no_territory"],
        3: ["inactive"],
        4: ["wrong_product"],
    }
    near = decision.to_dict(exclusions=Shown.NEAR)
    assert [e["partner_id"] for e in near["exclusions"]] == [3]
    assert "exclusions" not in decision.to_dict(exclusions=Shown.NONE)


def test_to_dict_can_keep_only_the_first_candidates():
    decision = decide(partner(1), partner(2), partner(3))
    data = decision.to_dict(max_candidates=2)
    assert data["eligible"] == 3 and len(data["candidates"]) == 2


def test_why_this_partner_reads_as_sentences():
    load = loaded(p1=PartnerLoad(3, 1, NOW - timedelta(days=3)))
    decision = decide(partner(1, CENTRE, quality=72, tier_name="Gold", tier_weight=20), load=load)
    text = why(decision.winner)
    assert text.splitlines() == [
        f"Partner 1 ranks first with {decision.winner.score:.1f} of 100 points.",
        "Territory: covers postal codes starting 803 in Germany, a postal-code match"
        " (36.0 of 40 points).",
        "Tier: Gold tier, routing weight 20 of 100 (4.0 of 20 points).",
        "Quality: scorecard quality 72 of 100 (14.4 of 20 points).",
        "Capacity: 4 of 10 leads in hand, 60% of its capacity free (6.0 of 10 points).",
        "Fairness: last offered a lead 3 days ago (7.5 of 10 points).",
    ]


def test_why_not_names_every_reason():
    worst = partner(1, FRANCE, status="paused", tier_rank=4, tier_name="Registered", capacity=1)
    facts = lead(employees=5000, partners_had=frozenset({1}))
    decision = decide(
        worst, partner(2, tier_rank=1), facts=facts, load=loaded(p1=(1, 0)), segments=(ENTERPRISE,)
    )
    text = why_not(next(e for e in decision.exclusions if e.partner_id == 1))
    assert text == (
        "Partner 1 was not eligible: it is paused; none of its territories holds the lead's "
        "location; it already had this lead; the lead's segment needs a tier rank 2 partner or "
        "better, and it is Registered; it is at capacity, with 1 of 1 leads in hand."
    )


def test_why_not_words_certification_and_the_fairness_cap():
    facts = lead(deal_size_minor=20_000_000, currency="EUR")
    decision = decide(
        partner(1, products={SECURITY: 1}),
        partner(2, products={SECURITY: 3}),
        facts=facts,
        segments=(BIG_DEALS,),
    )
    assert "needs Advanced certification in the product, and it has Certified" in why_not(
        decision.exclusions[0]
    )
    cap = FairnessCap(max_share=0.5, min_offers=10)
    decision = decide(partner(1, quality=90), partner(2), load=capped_load(6), fairness_cap=cap)
    assert (
        "it had 60% of the last 10 offers in all of Germany, at or above the fairness cap of 50%"
        in why_not(decision.exclusions[0])
    )


def test_the_outcome_reads_as_a_sentence():
    names = {1: "Acme"}
    assert (
        outcome_words(decide(partner(1)), names)
        == "Offered to Acme, the best of the eligible partners."
    )
    fallback = decide(partner(1, FRANCE), fallback=Fallback(FallbackKind.PARTNER, 1))
    assert (
        outcome_words(fallback, names)
        == "No partner was eligible; the lead goes to the default partner, Acme."
    )
    assert (
        outcome_words(decide(), names)
        == "No partner was eligible; the lead waits in the unroutable queue."
    )


# Index -------------------------------------------------------------------------------------


def test_the_index_cache_rebuilds_only_for_a_new_configuration_version():
    cache, built = IndexCache(), []

    def load(version: int):
        def read() -> RoutingConfig:
            built.append(version)
            return config(partner(1), version=version)

        return read

    first = cache.get("tenant-a", 1, load(1))
    assert cache.get("tenant-a", 1, load(1)) is first
    assert cache.get("tenant-a", 2, load(2)).version == 2
    assert cache.get("tenant-b", 1, load(1)) is not first
    assert built == [1, 2, 1]


@given(
    segments=st.lists(
        st.builds(
            Segment,
            name=st.sampled_from(["A", "B", "C"]),
            basis=st.sampled_from([EMPLOYEES, DEAL_SIZE]),
            min_value=st.integers(0, 50),
            max_value=st.none() | st.integers(0, 60),
            currency=st.sampled_from(["EUR", "USD"]),
            min_tier_rank=st.none() | st.integers(1, 3),
            min_certification=st.none() | st.integers(0, 3),
        ).map(lambda s: replace(s, currency=None) if s.basis == EMPLOYEES else s),
        max_size=5,
    ),
    employees=st.none() | st.integers(-1, 70),
    deal=st.none() | st.integers(-1, 70),
    currency=st.sampled_from([None, "EUR", "usd", "GBP"]),
)
def test_the_index_finds_the_segment_rule_segment_for_finds(segments, employees, deal, currency):
    index = build_index(config(segments=tuple(segments)))
    facts = lead(employees=employees, deal_size_minor=deal, currency=currency)
    assert index.segment(facts) == segment_for(segments, employees, deal, currency)


# Properties --------------------------------------------------------------------------------
#
# A reference written from the rules alone, without the index, against which the engine is
# checked on generated networks.


def holds(territory: TerritoryConfig, facts: LeadFacts) -> bool:
    country = (facts.country or (facts.subdivision or "")[:2]).upper()
    postal = "".join(ch for ch in (facts.postal_code or "").upper() if ch.isalnum())
    prefix = "".join(ch for ch in (territory.postal_prefix or "").upper() if ch.isalnum())
    return {
        "global": True,
        "region": bool(country) and country in territory.region_countries,
        "country": bool(country) and territory.country == country,
        "subdivision": bool(facts.subdivision) and territory.subdivision == facts.subdivision,
        "postal": bool(country) and territory.country == country and postal.startswith(prefix),
    }[territory.kind]


def reference_reasons(
    p: PartnerConfig, facts: LeadFacts, load: Load, segment: Segment | None
) -> set[Reason]:
    reasons = set()
    if p.status != "active":
        reasons.add(Reason.INACTIVE)
    if facts.product_id not in p.products:
        reasons.add(Reason.WRONG_PRODUCT)
    if not any(holds(t, facts) for t in TERRITORIES if t.id in p.territory_ids):
        reasons.add(Reason.NO_TERRITORY)
    if p.id in facts.partners_had:
        reasons.add(Reason.ALREADY_HAD)
    if segment and segment.min_tier_rank is not None and p.tier_rank > segment.min_tier_rank:
        reasons.add(Reason.TIER_BELOW_SEGMENT)
    certification = p.products.get(facts.product_id)
    if segment and certification is not None and certification < (segment.min_certification or 0):
        reasons.add(Reason.CERTIFICATION_BELOW_SEGMENT)
    if load.partners.get(p.id, PartnerLoad()).busy >= p.capacity:
        reasons.add(Reason.AT_CAPACITY)
    return reasons


territory_ids = st.lists(
    st.sampled_from([t.id for t in TERRITORIES]), min_size=1, max_size=3, unique=True
)
partners_strategy = st.lists(
    st.builds(
        PartnerConfig,
        id=st.integers(1, 40),
        name=st.just("P"),
        status=st.sampled_from(["active", "active", "active", "paused"]),
        capacity=st.integers(0, 4),
        tier_rank=st.integers(1, 4),
        tier_weight=st.integers(0, 100),
        tier_name=st.just(""),
        quality=st.none() | st.integers(0, 100),
        territory_ids=territory_ids.map(tuple),
        products=st.dictionaries(
            st.sampled_from([SECURITY, BACKUP]), st.integers(0, 3), max_size=2
        ),
    ),
    max_size=12,
    unique_by=lambda p: p.id,
).map(lambda ps: [replace(p, name=f"Partner {p.id}") for p in ps])
leads_strategy = st.builds(
    LeadFacts,
    product_id=st.sampled_from([SECURITY, SECURITY, BACKUP, None]),
    country=st.sampled_from(["DE", "FR", "GB", None]),
    subdivision=st.sampled_from(["DE-BY", "DE-BE", None]),
    postal_code=st.sampled_from(["80331", "803", "8", "75001", "SW1A 1AA", None]),
    employees=st.none() | st.integers(0, 5000),
    deal_size_minor=st.none() | st.integers(0, 30_000_000),
    currency=st.sampled_from(["EUR", None]),
    partners_had=st.frozensets(st.integers(1, 40), max_size=3),
)
times = st.none() | st.integers(0, 400).map(lambda hours: NOW - timedelta(hours=hours))
loads_strategy = st.dictionaries(
    st.integers(1, 40),
    st.builds(PartnerLoad, st.integers(0, 3), st.integers(0, 2), times),
    max_size=40,
)
weights_strategy = st.builds(Weights, *[st.integers(0, 50)] * 5)
caps_strategy = st.none() | st.builds(
    FairnessCap, max_share=st.sampled_from([0.2, 0.5, 1.0]), min_offers=st.integers(0, 5)
)
offers_strategy = st.dictionaries(
    st.sampled_from([t.id for t in TERRITORIES]),
    st.builds(
        TerritoryOffers,
        st.integers(0, 10),
        st.dictionaries(st.integers(1, 40), st.integers(0, 10), max_size=6),
    ),
    max_size=4,
)


def network(partners, weights=None, cap=None, segments=(ENTERPRISE, BIG_DEALS)):
    weights = weights or Weights()
    return build_index(
        RoutingConfig(1, tuple(partners), TERRITORIES, segments, weights, fairness_cap=cap)
    )


@settings(max_examples=300, deadline=None)
@given(partners_strategy, leads_strategy, loads_strategy, weights_strategy)
def test_the_eligible_partners_are_exactly_those_the_rules_allow(partners, facts, loads, weights):
    load = Load(loads)
    index = network(partners, weights)
    decision = route(index, facts, load, NOW)
    segment = segment_for(
        (ENTERPRISE, BIG_DEALS), facts.employees, facts.deal_size_minor, facts.currency
    )
    expected = {p.id for p in partners if not reference_reasons(p, facts, load, segment)}
    assert set(decision.ranking) == expected
    near = route(index, facts, load, NOW).near_misses
    far = {Reason.WRONG_PRODUCT, Reason.NO_TERRITORY}
    assert near == tuple(e for e in decision.exclusions if not far.intersection(e.reasons))
    for exclusion in decision.exclusions:
        partner_ = index.partners[exclusion.partner_id]
        assert set(exclusion.reasons) == reference_reasons(partner_, facts, load, segment)
        assert exclusion.partner_id not in decision.ranking
    considered = {e.partner_id for e in decision.exclusions} | set(decision.ranking)
    in_place = {
        p.id
        for p in partners
        if Reason.NO_TERRITORY not in reference_reasons(p, facts, load, segment)
    }
    selling = {p.id for p in partners if facts.product_id in p.products}
    assert considered == in_place | selling


@settings(max_examples=300, deadline=None)
@given(
    partners_strategy,
    leads_strategy,
    loads_strategy,
    weights_strategy,
    caps_strategy,
    offers_strategy,
)
def test_the_winner_is_the_first_of_a_strict_ranking(partners, facts, loads, weights, cap, offers):
    load = Load(loads, offers)
    decision = route(network(partners, weights, cap), facts, load, NOW)
    keys = [(-c.score, c.partner_id) for c in decision.candidates]
    assert [c.partner_id for c in decision.candidates] == list(decision.ranking)
    assert len(set(decision.ranking)) == len(decision.ranking)
    assert [-k[0] for k in keys] == sorted((-k[0] for k in keys), reverse=True)
    if decision.ranking:
        assert decision.outcome == Outcome.ROUTED
        assert decision.partner_id == decision.ranking[0] == decision.winner.partner_id
        assert decision.winner == decision.candidates[0]
    else:
        assert decision.outcome == Outcome.UNROUTABLE
    for candidate in decision.candidates:
        assert sum(t.points for t in candidate.terms) == pytest.approx(candidate.score)
        assert all(0.0 <= t.value <= 1.0 for t in candidate.terms)
    json.dumps(decision.to_dict())


@settings(max_examples=200, deadline=None)
@given(
    partners_strategy, leads_strategy, loads_strategy, caps_strategy, offers_strategy, st.randoms()
)
def test_the_ranking_does_not_depend_on_the_order_partners_are_listed_in(
    partners, facts, loads, cap, offers, rnd
):
    load = Load(loads, offers)
    shuffled = [
        replace(p, territory_ids=tuple(rnd.sample(p.territory_ids, len(p.territory_ids))))
        for p in partners
    ]
    rnd.shuffle(shuffled)
    first = route(network(partners, cap=cap), facts, load, NOW)
    second = route(network(shuffled, cap=cap), facts, load, NOW)
    assert first.ranking == second.ranking
    assert first.to_dict() == second.to_dict()


@settings(max_examples=200, deadline=None)
@given(partners_strategy, leads_strategy, loads_strategy, offers_strategy)
def test_the_fairness_cap_never_leaves_a_lead_without_a_partner(partners, facts, loads, offers):
    load = Load(loads, offers)
    free = route(network(partners), facts, load, NOW)
    capped = route(network(partners, cap=FairnessCap(0.2, min_offers=0)), facts, load, NOW)
    assert set(capped.ranking) <= set(free.ranking)
    assert bool(capped.ranking) == bool(free.ranking)
    left_out = {e.partner_id for e in capped.exclusions if Reason.OVER_FAIRNESS_CAP in e.reasons}
    assert left_out == set(free.ranking) - set(capped.ranking)


@settings(max_examples=200, deadline=None)
@given(partners_strategy, leads_strategy, loads_strategy, st.data())
def test_adding_capacity_never_removes_a_candidate(partners, facts, loads, data):
    load = Load(loads)
    before = route(network(partners), facts, load, NOW)
    if partners:
        grown = data.draw(st.sampled_from(partners))
        more = data.draw(st.integers(1, 5))
        partners = [replace(p, capacity=p.capacity + more) if p is grown else p for p in partners]
    after = route(network(partners), facts, load, NOW)
    assert set(before.ranking) <= set(after.ranking)


@settings(max_examples=100, deadline=None)
@given(partners_strategy, leads_strategy, loads_strategy, caps_strategy, offers_strategy)
def test_every_candidate_and_exclusion_can_be_worded(partners, facts, loads, cap, offers):
    decision = route(network(partners, cap=cap), facts, Load(loads, offers), NOW)
    for candidate in decision.candidates:
        assert why(candidate).startswith(candidate.partner_name)
    for exclusion in decision.exclusions:
        assert why_not(exclusion).startswith(f"{exclusion.partner_name} was not eligible: ")


@settings(max_examples=200, deadline=None)
@given(partners_strategy, st.lists(leads_strategy, min_size=1, max_size=25), loads_strategy)
def test_leads_routed_one_after_another_never_overfill_a_partner_or_repeat_one(
    partners, leads, loads
):
    """As live routing does: each offer counts at once, and a rejected lead goes on to a
    partner that has not had it."""
    index = network(partners)
    busy = {
        pid: PartnerLoad(p.open_offers, p.accepted_open, p.last_offered_at)
        for pid, p in loads.items()
    }
    for facts in leads:
        had = set(facts.partners_had)
        for _ in range(3):  # offered, rejected, offered again...
            decision = route(
                index, replace(facts, partners_had=frozenset(had)), Load(dict(busy)), NOW
            )
            if decision.outcome != Outcome.ROUTED:
                break
            winner = index.partners[decision.partner_id]
            before = busy.get(winner.id, PartnerLoad())
            assert before.busy < winner.capacity and winner.id not in had
            busy[winner.id] = PartnerLoad(before.open_offers + 1, before.accepted_open, NOW)
            had.add(winner.id)


@settings(max_examples=200, deadline=None)
@given(partners_strategy, leads_strategy, loads_strategy)
def test_each_candidate_is_matched_through_its_most_specific_territory(partners, facts, loads):
    from portal.routing.index import territory_fit

    index = network(partners)
    decision = route(index, facts, Load(loads), NOW)
    for candidate in decision.candidates:
        territory_id = candidate.term("territory").facts["territory_id"]
        holding = [
            index.territories[tid]
            for tid in index.partners[candidate.partner_id].territory_ids
            if holds(index.territories[tid], facts)
        ]
        best = max(territory_fit(t) for t in holding)
        assert territory_fit(index.territories[territory_id]) == best


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(TERRITORIES), min_size=2, max_size=2, unique=True),
    leads_strategy.filter(lambda f: f.product_id == SECURITY),
    st.integers(1, 50),
)
def test_with_all_else_equal_the_more_specific_territory_wins(pair, facts, weight):
    from portal.routing.index import territory_fit

    facts = replace(facts, partners_had=frozenset(), employees=None, deal_size_minor=None)
    first, second = (partner(1, pair[0]), partner(2, pair[1]))
    decision = decide(first, second, facts=facts, weights=Weights(weight, 0, 0, 0, 0))
    reachable = [t for t in pair if holds(t, facts)]
    if not reachable:
        assert decision.outcome == Outcome.UNROUTABLE
        return
    fits = {1: territory_fit(pair[0]) if holds(pair[0], facts) else -1,
            2: territory_fit(pair[1]) if holds(pair[1], facts) else -1}  # fmt: skip
    best = max(fits.values())
    winners = [pid for pid, fit in fits.items() if fit == best]
    assert decision.partner_id == min(winners)


@settings(max_examples=100, deadline=None)
@given(partners_strategy, leads_strategy, loads_strategy, caps_strategy, offers_strategy)
def test_the_same_inputs_give_the_same_decision(partners, facts, loads, cap, offers):
    first = route(network(partners, cap=cap), facts, Load(loads, offers), NOW)
    again = route(network(partners, cap=cap), facts, Load(dict(loads), dict(offers)), NOW)
    assert first.to_dict() == again.to_dict()


@settings(max_examples=200, deadline=None)
@given(partners_strategy, leads_strategy, loads_strategy, caps_strategy, offers_strategy)
def test_the_reason_counts_and_first_exclusions_agree_with_all_exclusions(
    partners, facts, loads, cap, offers
):
    decision = route(network(partners, cap=cap), facts, Load(loads, offers), NOW)
    every = decision.exclusions
    counts: dict[str, int] = {}
    for exclusion in every:
        for reason in exclusion.reasons:
            counts[str(reason)] = counts.get(str(reason), 0) + 1
    assert decision.reason_counts() == (len(every), counts)
    assert decision.first_exclusions(3) == every[:3]
    assert decision.first_exclusions(3, near_only=True) == decision.near_misses[:3]
