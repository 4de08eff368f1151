"""Password policy and hashing."""

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.tenancy.passwords import hash_password, password_problems, verify_password


def test_a_long_uncommon_password_is_accepted():
    assert password_problems("violet-harbour-engine") == []


def test_seven_characters_are_too_few_and_sixty_five_too_many():
    assert "at least 8" in password_problems("abc1234")[0]
    assert "at most 64" in password_problems("x" * 65)[0]


def test_sixty_four_characters_are_allowed():
    assert password_problems("k7-" * 21 + "z") == []


def test_the_most_common_passwords_are_refused_in_any_case():
    for common in ("password", "12345678", "Qwertyuiop", "iloveyou"):
        assert any("most common" in p for p in password_problems(common))


def test_the_email_name_is_refused_as_a_password():
    assert password_problems("nora.field", email="nora.field@acme.example")


def test_hashes_are_argon2id_and_salted():
    first, second = (
        hash_password("violet-harbour-engine", "fast"),
        hash_password("violet-harbour-engine", "fast"),
    )
    assert first.startswith("$argon2id$") and first != second


@settings(max_examples=15, deadline=None)
@given(st.text(min_size=1, max_size=64))
def test_a_password_verifies_against_its_own_hash_only(password):
    stored = hash_password(password, "fast")
    assert verify_password(stored, password)
    assert not verify_password(stored, password + "x")


def test_a_malformed_hash_is_a_failed_check_not_an_error():
    assert verify_password("not-a-hash", "anything") is False
