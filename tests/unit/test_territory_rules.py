"""Territory rules in plain Python: codes and places, defaults, and territories in words."""

import re

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.partners import territory_rules as rules
from portal.partners import validation
from portal.partners.validation import InvalidValue

# The validators the territory and product pages use ------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [("dach", "DACH"), (" de-pc-80 ", "DE-PC-80"), ("p_1", "P_1")]
)
def test_a_code_is_normalised_to_upper_case(raw, expected):
    assert validation.code(raw) == expected


@pytest.mark.parametrize("raw", ["", "  ", "-DE", "DE 80", "a" * 41, "DÄ"])
def test_a_code_with_illegal_characters_or_length_is_refused(raw):
    with pytest.raises(InvalidValue):
        validation.code(raw)


def test_a_name_is_trimmed_and_a_blank_or_long_one_refused():
    assert validation.name("  Bavaria   North ") == "Bavaria North"
    with pytest.raises(InvalidValue, match="Enter a name"):
        validation.name("   ")
    with pytest.raises(InvalidValue, match="at most 120"):
        validation.name("x" * 121, 120)


def test_a_known_country_code_is_accepted_in_any_case():
    assert validation.country(" de ") == "DE"


@pytest.mark.parametrize("raw", ["XX", "DEU", "", "D"])
def test_an_unknown_country_is_refused(raw):
    with pytest.raises(InvalidValue, match="ISO 3166-1"):
        validation.country(raw)


def test_a_subdivision_must_exist_and_lie_in_the_chosen_country():
    assert validation.subdivision("de-by") == "DE-BY"
    assert validation.subdivision("DE-BY", "DE") == "DE-BY"
    with pytest.raises(InvalidValue, match="is not in AT"):
        validation.subdivision("DE-BY", "AT")
    for raw in ("DE-XX", "BY", ""):
        with pytest.raises(InvalidValue, match="ISO 3166-2"):
            validation.subdivision(raw)


def test_a_postal_prefix_is_upper_cased_and_its_spaces_squeezed():
    assert validation.postal_prefix(" sw1a  1 ") == "SW1A 1"
    assert validation.postal_prefix("80") == "80"


@pytest.mark.parametrize("raw", ["", "8*", "80/1", "12345678901", "-80"])
def test_a_postal_prefix_with_illegal_characters_is_refused(raw):
    with pytest.raises(InvalidValue):
        validation.postal_prefix(raw)


def test_a_country_list_is_sorted_without_repeats_and_accepts_commas_or_spaces():
    assert validation.country_list("de, at ch;DE") == ["AT", "CH", "DE"]
    assert validation.country_list(["FR", "be"]) == ["BE", "FR"]


def test_a_country_list_must_name_known_countries_and_at_least_one():
    with pytest.raises(InvalidValue, match="at least one"):
        validation.country_list(" , ")
    with pytest.raises(InvalidValue, match="'XX'"):
        validation.country_list("DE, XX")


def test_country_and_subdivision_names_come_from_iso_3166():
    assert validation.country_name("DE") == "Germany"
    assert validation.subdivision_name("DE-BY") == "Bayern"


# Order and defaults ----------------------------------------------------------------------------


def test_kinds_run_from_global_to_postal_and_unknown_kinds_sort_last():
    order = sorted(
        ["postal", "country", "odd", "global", "subdivision", "region"], key=rules.specificity
    )
    assert order == ["global", "region", "country", "subdivision", "postal", "odd"]


@pytest.mark.parametrize(
    ("kind", "country", "subdivision", "prefix", "expected"),
    [
        ("global", None, None, None, "GLOBAL"),
        ("country", "DE", None, None, "DE"),
        ("subdivision", "DE", "DE-BY", None, "DE-BY"),
        ("postal", "DE", None, "80", "DE-PC-80"),
        ("postal", "GB", None, "SW1A 1", "GB-PC-SW1A-1"),
        ("postal", "FR", None, "69", "FR-PC-69"),
        ("postal", "PL", None, "00-950", "PL-PC-00-950"),
        ("postal", None, None, "80", None),
        ("region", None, None, None, None),
    ],
)
def test_default_codes_follow_iso_3166(kind, country, subdivision, prefix, expected):
    assert rules.default_code(kind, country, subdivision, prefix) == expected


def test_default_codes_are_valid_codes():
    assert validation.code(rules.default_code("postal", "GB", None, "SW1A 1")) == "GB-PC-SW1A-1"


ISO_3166_2 = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
SUBDIVISION_CODES = frozenset(s.code for s in pycountry.subdivisions)


def test_every_iso_3166_2_code_has_the_shape_postal_codes_stay_out_of():
    assert all(ISO_3166_2.match(code) for code in SUBDIVISION_CODES)
    # A letter and digits will not do: Nepal's provinces are NP-P1 to NP-P7.
    assert "NP-P1" in SUBDIVISION_CODES


@given(
    st.sampled_from(sorted(c.alpha_2 for c in pycountry.countries)),
    st.from_regex(r"[A-Z0-9][A-Z0-9 -]{0,9}", fullmatch=True),
)
def test_no_postal_default_code_has_the_shape_of_a_subdivision_code(country, raw_prefix):
    prefix = validation.postal_prefix(raw_prefix)
    code = rules.default_code("postal", country, None, prefix)
    assert validation.code(code) == code and len(code) <= 40
    assert not ISO_3166_2.match(code)
    assert rules.code_clash("postal", code, country, None, prefix) is None


def test_postal_prefixes_spelt_like_every_subdivision_get_codes_apart_from_them():
    for code in SUBDIVISION_CODES:
        country, suffix = code.split("-")
        postal = rules.default_code("postal", country, None, suffix)
        assert postal == f"{country}-PC-{suffix}" and postal not in SUBDIVISION_CODES


@pytest.mark.parametrize(
    ("subdivision", "prefix"), [("FR-69", "69"), ("JP-13", "13"), ("NP-P1", "P1")]
)
def test_a_subdivision_and_a_postal_prefix_spelt_alike_get_different_codes(subdivision, prefix):
    country = subdivision[:2]
    as_subdivision = rules.default_code("subdivision", country, subdivision, None)
    as_postal = rules.default_code("postal", country, None, prefix)
    assert as_subdivision == subdivision and as_postal == f"{country}-PC-{prefix}"
    assert rules.code_clash("subdivision", as_subdivision, country, subdivision, None) is None
    assert rules.code_clash("postal", as_postal, country, None, prefix) is None


def test_the_old_postal_code_is_country_dash_prefix():
    assert rules.legacy_postal_code("GB", "SW1A 1") == "GB-SW1A-1"
    assert rules.legacy_postal_code("DE", "80") == "DE-80"


# Codes that read as another territory ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "country", "subdivision", "prefix"),
    [
        ("global", None, None, None),
        ("country", "DE", None, None),
        ("subdivision", "FR", "FR-69", None),
        ("postal", "FR", None, "69"),
        ("postal", "GB", None, "SW1A 1"),
    ],
)
def test_every_default_code_reads_as_its_own_territory(kind, country, subdivision, prefix):
    code = rules.default_code(kind, country, subdivision, prefix)
    assert rules.code_clash(kind, code, country, subdivision, prefix) is None


@pytest.mark.parametrize(
    ("kind", "code", "country", "subdivision", "prefix"),
    [
        ("region", "DACH", None, None, None),
        ("region", "EU-N", None, None, None),
        ("global", "WORLD", None, None, None),
        ("country", "GERMANY", "DE", None, None),
        ("subdivision", "BAVARIA", "DE", "DE-BY", None),
        ("postal", "MUNICH", "DE", None, "80"),
        ("postal", "DE-MUNICH", "DE", None, "80"),
    ],
)
def test_codes_of_no_reserved_shape_are_free(kind, code, country, subdivision, prefix):
    assert rules.code_clash(kind, code, country, subdivision, prefix) is None


@pytest.mark.parametrize(
    ("kind", "code", "country", "subdivision", "prefix", "message"),
    [
        (
            "postal",
            "FR-69",
            "FR",
            None,
            "69",
            "FR-69 is the ISO 3166-2 code of Rhône; only that subdivision can have it. "
            "Leave the code empty to use FR-PC-69, or choose another.",
        ),
        (
            "postal",
            "DE-80",
            "DE",
            None,
            "80",
            "DE-80 looks like an ISO 3166-2 code, which only a subdivision can have. "
            "Leave the code empty to use DE-PC-80, or choose another.",
        ),
        (
            "subdivision",
            "DE-BE",
            "DE",
            "DE-BY",
            None,
            "DE-BE is the ISO 3166-2 code of Berlin; only that subdivision can have it. "
            "Leave the code empty to use DE-BY, or choose another.",
        ),
        (
            "subdivision",
            "DE-PC-80",
            "DE",
            "DE-BY",
            None,
            "DE-PC-80 is the code of postal codes starting 80 in Germany; "
            "only that prefix can have it. "
            "Leave the code empty to use DE-BY, or choose another.",
        ),
        (
            "postal",
            "DE-PC-81",
            "DE",
            None,
            "80",
            "DE-PC-81 is the code of postal codes starting 81 in Germany; "
            "only that prefix can have it. "
            "Leave the code empty to use DE-PC-80, or choose another.",
        ),
        (
            "country",
            "DE",
            "AT",
            None,
            None,
            "DE is the ISO 3166-1 code of Germany; only that country can have it. "
            "Leave the code empty to use AT, or choose another.",
        ),
        (
            "region",
            "FR",
            None,
            None,
            None,
            "FR is the ISO 3166-1 code of France; only that country can have it. Choose another.",
        ),
        (
            "region",
            "DE-N",
            None,
            None,
            None,
            "DE-N looks like an ISO 3166-2 code, which only a subdivision can have. "
            "Choose another.",
        ),
    ],
)
def test_a_code_that_reads_as_another_territory_is_explained(
    kind, code, country, subdivision, prefix, message
):
    assert rules.code_clash(kind, code, country, subdivision, prefix) == message


def test_old_postal_codes_stand_for_the_default_codes_that_replaced_them():
    postal = [
        ("DE-PC-80", "DE", "80"),
        ("FR-PC-69", "FR", "69"),
        ("MUNICH", "DE", "81"),
        ("GB-PC-SW1A-1", "GB", "SW1A 1"),
    ]
    codes = {"DE-PC-80", "FR-PC-69", "MUNICH", "GB-PC-SW1A-1", "FR-69"}
    assert rules.legacy_postal_aliases(postal, codes) == {
        "DE-80": "DE-PC-80",
        "GB-SW1A-1": "GB-PC-SW1A-1",
    }


@pytest.mark.parametrize(
    ("kind", "code", "country", "subdivision", "prefix", "expected"),
    [
        ("global", "GLOBAL", None, None, None, "Global"),
        ("region", "DACH", None, None, None, "DACH"),
        ("country", "DE", "DE", None, None, "Germany"),
        ("subdivision", "DE-BY", "DE", "DE-BY", None, "Bayern"),
        ("postal", "DE-PC-80", "DE", None, "80", "Germany, postal codes 80…"),
        ("postal", None, None, None, "80", None),
    ],
)
def test_default_names_come_from_pycountry(kind, code, country, subdivision, prefix, expected):
    assert rules.default_name(kind, code, country, subdivision, prefix) == expected


def test_names_of_unknown_codes_fall_back_to_the_code():
    assert rules.country_name("XX") == "XX"
    assert rules.country_name(None) == ""
    assert rules.subdivision_name("DE-XX") == "DE-XX"


def test_a_country_with_a_common_name_uses_it():
    assert rules.country_name("TW") == "Taiwan"


# In words --------------------------------------------------------------------------------------


def test_each_kind_is_described_in_plain_words():
    assert rules.describe(kind="global", name="Global") == "Every country in the world"
    assert (
        rules.describe(kind="region", name="DACH", region_countries=["DE", "CH", "AT"])
        == "Region DACH: Austria, Germany, Switzerland"
    )
    assert rules.describe(kind="country", name="Germany", country="DE") == "All of Germany"
    assert (
        rules.describe(kind="subdivision", name="Bayern", country="DE", subdivision="DE-BY")
        == "Bayern (DE-BY) in Germany"
    )
    assert (
        rules.describe(kind="postal", name="x", country="DE", postal_prefix="80")
        == "Postal codes starting 80 in Germany"
    )


def test_a_long_region_names_its_first_countries_and_counts_the_rest():
    codes = ["AT", "BE", "CH", "CZ", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IT", "NL", "PL"]
    words = rules.countries_in_words(codes)
    assert words.startswith("Austria, Belgium")
    assert words.endswith("and 2 more")


def test_a_region_without_countries_says_so():
    assert rules.describe(kind="region", name="Empty") == "Region Empty: no countries"


def test_an_unknown_kind_is_described_by_its_name():
    assert rules.describe(kind="moon", name="Mare Tranquillitatis") == "Mare Tranquillitatis"
