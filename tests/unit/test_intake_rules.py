"""Intake rules: the quick path for plain e-mail addresses answers exactly as email_validator,
and text a database cannot hold is refused."""

import re
import string

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portal.leads.intake_rules import (
    NUL_MESSAGE,
    TEXT_LIMITS,
    LeadProblems,
    clean_lead,
    plain_email,
)

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
HOST = string.ascii_letters + string.digits + "-"
# Characters just outside the plain forms: each sends an address to the full check.
ODD = ' ."@<>()[]\\,;:\u00fc\u00df\u0130\u212a\uff0e\u3002\n\t'


def expected(address: str) -> str | None:
    """What email_validator alone makes of the address: its normalised form or None."""
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def _mostly(alphabet: str, max_size: int) -> st.SearchStrategy[str]:
    """Text of the alphabet, now and then with an odd character or empty."""
    characters = st.sampled_from(list(alphabet) * 20 + list(ODD))
    return st.text(characters, min_size=0, max_size=max_size)


# Plain pieces, near misses (odd characters, edge lengths, special names) and plain noise.
plain_locals = st.lists(st.from_regex(f"[{re.escape(ATEXT)}]{{1,10}}", fullmatch=True), min_size=1)
plain_labels = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)
plain_tlds = st.from_regex(r"(?:[A-Za-z0-9][A-Za-z0-9-]{0,4})?[A-Za-z]", fullmatch=True)
labels = st.one_of(
    plain_labels,
    _mostly(HOST, 12),
    st.sampled_from(["xn--bcher-kva", "ab--cd", "a-", "-a", "1", "x" * 63, "x" * 64, "Q"]),
    st.integers(1, 70).map(lambda n: "d" * n),
)
tlds = st.one_of(
    plain_tlds,
    _mostly(string.ascii_letters, 6),
    st.sampled_from(["test", "local", "localhost", "invalid", "onion", "arpa", "123", "c0m"]),
    st.sampled_from(["Example", "COM", "de", "xn--p1ai", "a" * 63]),
)
domains = st.builds(lambda parts, tld: ".".join([*parts, tld]), st.lists(labels, max_size=5), tlds)
locals_ = st.one_of(
    plain_locals.map(".".join),
    _mostly(ATEXT + ".", 20),
    st.integers(60, 260).map(lambda n: "l" * n),
    st.sampled_from(["info", "Sales", '"quoted"', "a..b", ".a", "a."]),
)
addresses = st.one_of(
    st.builds(lambda local, domain: f"{local}@{domain}", locals_, domains),
    st.builds(lambda domain, n: "x" * n + "@" + domain, domains, st.integers(200, 260)),
    st.text(st.sampled_from(ATEXT + ODD + "@"), max_size=40),
)


@settings(max_examples=600)
@given(addresses)
@example("Eva.Storm+crm@Nordbank.Example")
@example("eva@mail.test")
@example("eva@xn--bcher-kva.example")
@example("Eva Storm <eva@nordbank.example>")
@example("eva@nordbank.example\n")
@example("eva@1.2.3.4")
def test_a_plain_address_is_normalised_exactly_as_email_validator_does(address):
    quick = plain_email(address)
    assert quick is None or quick == expected(address)


@given(addresses)
def test_clean_lead_takes_or_refuses_every_address_as_email_validator_does(address):
    data = {"company_name": "Nordbank AG", "contact_email": address}
    try:
        found = clean_lead(data)["contact_email"]
    except LeadProblems as exc:
        assert set(exc.errors) == {"contact_email"}
        found = None
    value = " ".join(address.split())
    assert found == (expected(value) if value else None)


def test_everyday_addresses_take_the_quick_path_and_unusual_ones_do_not():
    assert plain_email("Eva.Storm+crm@Nordbank.Example") == "eva.storm+crm@nordbank.example"
    assert plain_email("o'brien@mail.example.co.uk") == "o'brien@mail.example.co.uk"
    for unusual in (
        "eva@xn--bcher-kva.example",  # Punycode comes back as Unicode
        "j\u00fcrgen@nordbank.example",
        '"eva storm"@nordbank.example',
        "Eva <eva@nordbank.example>",
        "eva@mail.test",
        "eva@nordbank",
        "eva@nordbank.123",
        "not an e-mail",
    ):
        assert plain_email(unusual) is None, unusual


LEAD_TEXT_FIELDS = [*TEXT_LIMITS, "contact_email", "company_domain", "country", "subdivision",
                    "postal_code", "product", "deal_size", "currency"]  # fmt: skip


@given(st.sampled_from(LEAD_TEXT_FIELDS), st.text(max_size=20), st.text(max_size=20))
def test_a_nul_character_in_any_field_refuses_the_lead_naming_that_field(field, before, after):
    text = before + "\x00" + after

    with pytest.raises(LeadProblems) as refused:
        clean_lead({"company_name": "Nordbank AG", field: text})
    with pytest.raises(LeadProblems) as in_bant:
        clean_lead({"company_name": "Nordbank AG", "bant": {"need": text}})

    assert refused.value.errors[field] == NUL_MESSAGE
    assert in_bant.value.errors == {"bant": NUL_MESSAGE}
