"""Which fields of two duplicate leads differ, what the survivor keeps, why they were flagged."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.leads.merging import (
    COLUMNS,
    FIELD_GROUPS,
    GROUPS_BY_KEY,
    SAME_COMPANY,
    SAME_EMAIL,
    BadChoices,
    default_side,
    differs,
    flag_reasons,
    merged_values,
)

WINDOW = timedelta(days=90)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _lead(**values):
    lead = dict.fromkeys(COLUMNS)
    lead.update(bant={}, created_at=T0)
    lead.update(values)
    return lead


SURVIVOR = _lead(
    company_name="Nordbank AG", company_domain="nordbank.example",
    contact_email="eva@nordbank.example", country="DE", subdivision="DE-HH", city="Hamburg",
    product_id=1, deal_size_minor=4_800_000, currency="EUR",
)  # fmt: skip
DUPLICATE = _lead(
    company_name="Nordbank Hamburg", company_domain="nordbank.example", industry="Banking",
    contact_email="eva@nordbank.example", contact_phone="+49 40 1234", country="DE",
    subdivision="DE-HH", city="Hamburg", product_id=1, deal_size_minor=9_900, currency="USD",
    created_at=T0 + timedelta(days=3),
)  # fmt: skip


def test_by_default_the_survivor_keeps_its_values_and_fills_its_gaps_from_the_duplicate():
    values = merged_values(SURVIVOR, DUPLICATE, {})
    assert values["company_name"] == "Nordbank AG"
    assert values["industry"] == "Banking" and values["contact_phone"] == "+49 40 1234"
    assert (values["deal_size_minor"], values["currency"]) == (4_800_000, "EUR")


def test_a_chosen_side_wins_and_related_columns_move_together():
    values = merged_values(SURVIVOR, DUPLICATE, {"company_name": "duplicate", "deal": "duplicate"})
    assert values["company_name"] == "Nordbank Hamburg"
    assert (values["deal_size_minor"], values["currency"]) == (9_900, "USD")


def test_choosing_the_survivor_keeps_an_empty_value_empty():
    assert merged_values(SURVIVOR, DUPLICATE, {"industry": "survivor"})["industry"] is None


def test_unknown_fields_and_sides_are_named_in_the_error():
    with pytest.raises(BadChoices) as caught:
        merged_values(SURVIVOR, DUPLICATE, {"score": "duplicate", "industry": "both"})
    assert set(caught.value.errors) == {"score", "industry"}
    assert "no field 'score'" in caught.value.errors["score"]


def test_only_groups_with_different_values_differ():
    different = {g.key for g in FIELD_GROUPS if differs(g, SURVIVOR, DUPLICATE)}
    assert different == {"company_name", "industry", "contact_phone", "deal"}


def test_an_empty_bant_counts_as_no_value():
    group = GROUPS_BY_KEY["bant"]
    survivor = _lead(bant={"budget": None, "need": ""})
    duplicate = _lead(bant={"budget": True})
    assert default_side(group, survivor, duplicate) == "duplicate"
    assert default_side(group, duplicate, survivor) == "survivor"


def test_the_reasons_say_same_email_and_same_company_when_both_hold():
    assert flag_reasons(DUPLICATE, SURVIVOR, WINDOW) == (SAME_EMAIL, SAME_COMPANY)


def test_the_same_company_outside_the_window_is_no_reason():
    late = {**DUPLICATE, "contact_email": "max@nordbank.example", "created_at": T0 + WINDOW * 2}
    assert flag_reasons(late, SURVIVOR, WINDOW) == ()
    within = {**late, "created_at": T0 + WINDOW}
    assert flag_reasons(within, SURVIVOR, WINDOW) == (SAME_COMPANY,)


def test_a_domain_without_a_product_is_no_reason():
    flagged = {**DUPLICATE, "contact_email": None, "product_id": None}
    assert flag_reasons(flagged, {**SURVIVOR, "product_id": None}, WINDOW) == ()


@given(
    st.dictionaries(
        st.sampled_from([g.key for g in FIELD_GROUPS]), st.sampled_from(["survivor", "duplicate"])
    )
)
def test_every_column_comes_whole_from_one_side(choices):
    values = merged_values(SURVIVOR, DUPLICATE, choices)
    assert set(values) == set(COLUMNS)
    for group in FIELD_GROUPS:
        part = tuple(values[c] for c in group.columns)
        assert part in [
            tuple(SURVIVOR[c] for c in group.columns),
            tuple(DUPLICATE[c] for c in group.columns),
        ]
