"""Segment rules, routing weight shares and typed money, tested as plain Python."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal import money
from portal.partners.validation import CERTIFICATION_LEVELS, InvalidValue
from portal.routing.segments import (
    CERTIFICATION_PHRASES,
    DEAL_SIZE,
    EMPLOYEES,
    Segment,
    describe_range,
    describe_segment,
    first_overlap,
    overlaps,
    segment_for,
    weight_shares,
)


def seg(low, high=None, basis=EMPLOYEES, currency=None, name="S", tier=None, cert=2):
    if basis == DEAL_SIZE and currency is None:
        currency = "EUR"
    return Segment(name, basis, low, high, currency, tier, cert)


def euros(minor: int, currency: str) -> str:
    return f"{currency} {minor // 100:,}"


# Overlaps ---------------------------------------------------------------------------------


def test_ranges_that_share_a_value_overlap():
    assert overlaps(seg(0, 100), seg(50, 200))
    assert overlaps(seg(1000), seg(5000))
    assert overlaps(seg(0), seg(10, 20))


def test_adjacent_ranges_do_not_overlap_because_the_upper_bound_is_exclusive():
    assert not overlaps(seg(0, 1000), seg(1000))
    assert not overlaps(seg(1000), seg(0, 1000))


def test_different_bases_never_overlap():
    assert not overlaps(seg(0, 100), seg(0, 100, basis=DEAL_SIZE))


def test_deal_sizes_in_different_currencies_do_not_overlap():
    assert not overlaps(
        seg(0, basis=DEAL_SIZE, currency="EUR"), seg(0, basis=DEAL_SIZE, currency="USD")
    )
    assert overlaps(
        seg(0, basis=DEAL_SIZE, currency="EUR"), seg(5, basis=DEAL_SIZE, currency="EUR")
    )


def test_an_empty_range_overlaps_nothing():
    assert not overlaps(seg(10, 10), seg(0))


def test_first_overlap_names_the_rule_in_the_way():
    enterprise = seg(1000, name="Enterprise")
    assert first_overlap(seg(500), [seg(0, 100), enterprise]) == enterprise
    assert first_overlap(seg(100, 1000), [seg(0, 100), enterprise]) is None


bounds = st.tuples(
    st.integers(min_value=0, max_value=10_000),
    st.none() | st.integers(min_value=1, max_value=10_000),
)


def _seg_from(bound, name="S"):
    low, high = bound
    return seg(low, high if high is None else low + high, name=name)


@given(bounds, bounds)
def test_overlaps_is_symmetric(a, b):
    assert overlaps(_seg_from(a), _seg_from(b)) == overlaps(_seg_from(b), _seg_from(a))


@given(bounds, bounds, st.integers(min_value=0, max_value=30_000))
def test_ranges_overlap_exactly_when_some_value_is_in_both(a, b, value):
    first, second = _seg_from(a), _seg_from(b)
    if first.contains(value) and second.contains(value):
        assert overlaps(first, second)
    if not overlaps(first, second):
        assert not (first.contains(value) and second.contains(value))


@given(st.lists(bounds, max_size=8), st.integers(min_value=0, max_value=30_000))
def test_a_value_is_in_at_most_one_of_a_set_of_non_overlapping_segments(candidates, value):
    accepted: list[Segment] = []
    for i, bound in enumerate(candidates):
        candidate = _seg_from(bound, name=f"S{i}")
        if first_overlap(candidate, accepted) is None:
            accepted.append(candidate)
    assert sum(s.contains(value) for s in accepted) <= 1


# Which rule applies -----------------------------------------------------------------------


def test_a_lead_gets_the_rule_of_its_company_size():
    small, large = seg(0, 1000, name="SMB"), seg(1000, name="Enterprise")
    assert segment_for([small, large], 1000, None, None) == large
    assert segment_for([small, large], 999, None, None) == small


def test_a_deal_size_rule_takes_precedence_over_the_company_size_rule():
    large = seg(1000, name="Enterprise")
    big_deal = seg(5_000_000, basis=DEAL_SIZE, currency="EUR", name="Big deal")
    assert segment_for([large, big_deal], 5000, 6_000_000, "eur") == big_deal
    assert segment_for([large, big_deal], 5000, 100, "EUR") == large


def test_a_deal_size_only_matches_rules_of_its_own_currency():
    big_deal = seg(5_000_000, basis=DEAL_SIZE, currency="EUR")
    assert segment_for([big_deal], None, 9_000_000, "USD") is None
    assert segment_for([big_deal], None, 9_000_000, None) is None


def test_a_lead_outside_every_segment_has_no_rule():
    assert segment_for([seg(1000)], 10, None, None) is None
    assert segment_for([], 10, 10, "EUR") is None
    assert segment_for([seg(0)], None, None, None) is None


@given(st.lists(bounds, max_size=8), st.integers(min_value=0, max_value=30_000))
def test_the_rule_found_for_a_size_contains_that_size(candidates, value):
    segments = [_seg_from(b, name=f"S{i}") for i, b in enumerate(candidates)]
    found = segment_for(segments, value, None, None)
    if found is None:
        assert not any(s.contains(value) for s in segments)
    else:
        assert found.contains(value)


# Words ------------------------------------------------------------------------------------


def test_the_issue_s_example_reads_as_written():
    enterprise = seg(1000, cert=2)
    assert (
        describe_segment(enterprise, "Gold", euros)
        == "Companies with 1,000 employees or more need a Gold partner or better and "
        "Advanced certification in the product"
    )


@pytest.mark.parametrize(
    ("low", "high", "words"),
    [
        (0, None, "any number of employees"),
        (0, 50, "fewer than 50 employees"),
        (50, 1000, "50 to 999 employees"),
        (1, 2, "1 employee"),
        (1000, None, "1,000 employees or more"),
    ],
)
def test_company_size_ranges_in_words(low, high, words):
    assert describe_range(seg(low, high), euros) == words


def test_deal_size_ranges_in_words_use_the_money_formatter():
    assert describe_range(seg(0, 1_000_000, basis=DEAL_SIZE), euros) == "under EUR 10,000"
    assert describe_range(seg(100, 500, basis=DEAL_SIZE), euros) == "EUR 1 to under EUR 5"
    assert describe_range(seg(0, basis=DEAL_SIZE), euros) == "any amount in EUR"
    deal = seg(0, 1_000_000, basis=DEAL_SIZE, tier=None, cert=3)
    assert describe_segment(deal, None, euros) == (
        "Deals under EUR 10,000 need Expert certification in the product"
    )
    assert describe_segment(seg(500, basis=DEAL_SIZE, cert=None), "Silver", euros) == (
        "Deals of EUR 5 or more need a Silver partner or better"
    )


def test_every_certification_level_above_none_has_words():
    assert set(CERTIFICATION_PHRASES) == set(CERTIFICATION_LEVELS) - {0}
    for level in CERTIFICATION_PHRASES:
        stem = CERTIFICATION_LEVELS[level].lower()[:7]  # 'Certified' reads as 'certification'
        assert stem in CERTIFICATION_PHRASES[level].lower()


# Weights ----------------------------------------------------------------------------------


def test_the_default_weights_share_out_as_given():
    weights = {"territory": 40, "tier": 20, "quality": 20, "capacity": 10, "fairness": 10}
    assert weight_shares(weights) == {k: float(v) for k, v in weights.items()}


def test_all_zero_weights_have_no_shares():
    assert weight_shares({"a": 0, "b": 0}) == {"a": 0.0, "b": 0.0}


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(0, 100), max_size=6))
def test_shares_sum_to_one_hundred_unless_all_weights_are_zero(weights):
    shares = weight_shares(weights)
    assert shares.keys() == weights.keys()
    if any(weights.values()):
        assert sum(shares.values()) == pytest.approx(100.0)
    else:
        assert all(share == 0 for share in shares.values())


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(0, 100), min_size=2))
def test_a_larger_weight_never_gets_a_smaller_share(weights):
    shares = weight_shares(weights)
    for a in weights:
        for b in weights:
            if weights[a] > weights[b]:
                assert shares[a] > shares[b]


# Money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("50000", "EUR", 5_000_000),
        ("50,000.50", "EUR", 5_000_050),
        (" 1,000,000 ", "USD", 100_000_000),
        ("50000", "JPY", 50_000),
        ("1.234", "BHD", 1234),
        ("0", "EUR", 0),
    ],
)
def test_typed_major_units_become_integer_minor_units(typed, currency, minor):
    assert money.parse_major(typed, currency) == minor


@pytest.mark.parametrize(
    ("typed", "currency", "message"),
    [
        ("-5", "EUR", "cannot be negative"),
        ("abc", "EUR", "in digits"),
        ("1.5e3", "EUR", "in digits"),
        ("50,00", "EUR", "in digits"),
        ("", "EUR", "Give an amount"),
        ("10.001", "EUR", "at most 2 decimal places"),
        ("10.5", "JPY", "no minor unit"),
        ("99999999999999999", "EUR", "too large"),
    ],
)
def test_bad_amounts_are_refused_with_a_reason(typed, currency, message):
    with pytest.raises(InvalidValue, match=message):
        money.parse_major(typed, currency)


def test_currency_codes_are_checked_against_iso_4217():
    assert money.currency_code(" eur ") == "EUR"
    with pytest.raises(InvalidValue, match="not an ISO 4217"):
        money.currency_code("ABC")
    with pytest.raises(InvalidValue, match="Give the currency"):
        money.currency_code("")


def test_money_reads_in_major_units_with_its_currency():
    assert money.format_money(5_000_000, "EUR") == "€50,000"
    assert money.format_money(5_000_050, "EUR") == "€50,000.50"
    assert money.format_money(5000, "JPY") == "JP¥5,000"
    assert money.to_major(5_000_050, "EUR") == Decimal("50000.50")
    assert money.major_text(5_000_050, "EUR") == "50000.50"
    assert money.major_text(5_000_000, "EUR") == "50000"


@given(st.integers(min_value=0, max_value=money.MAX_MINOR), st.sampled_from(["EUR", "JPY", "BHD"]))
def test_minor_units_survive_the_trip_through_the_form_text(minor, currency):
    assert money.parse_major(money.major_text(minor, currency), currency) == minor


@given(st.integers(min_value=0, max_value=10**12))
def test_grouped_and_plain_typing_mean_the_same(minor):
    grouped = f"{minor // 100:,}.{minor % 100:02d}"
    assert money.parse_major(grouped, "EUR") == minor
