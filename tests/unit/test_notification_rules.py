"""The pure rules of notifications: who hears of what, the signature, the retry delays."""

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from portal.notifications import rules


def test_intake_and_scoring_events_make_nothing():
    for action in ("intake", "score_above", "score_below", "open_offer", "merge"):
        assert rules.rule_for(action) is None


def test_partners_hear_of_offers_reminders_and_recalls_managers_of_outcomes():
    partner = {a for a, r in rules.RULES.items() if r.audience is rules.Audience.PARTNER}
    managers = {a for a, r in rules.RULES.items() if r.audience is rules.Audience.MANAGERS}
    assert partner == {"route", "assign", "remind", "recall"}
    assert managers == {"reject", "expire", "win", "lose", "stale"}


def test_every_webhook_event_type_comes_from_some_action():
    assert {r.webhook for r in rules.RULES.values() if r.webhook} == set(rules.WEBHOOK_EVENTS)


@given(st.text(min_size=1), st.integers(0, 2**40).map(str), st.binary())
def test_the_signature_is_hmac_sha256_over_timestamp_dot_body(secret, timestamp, body):
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert rules.signature(secret, timestamp, body) == "sha256=" + expected.hexdigest()


def test_retries_wait_twice_as_long_each_time_up_to_the_cap():
    delays = [rules.retry_delay(n).total_seconds() for n in range(1, 12)]
    assert delays[:4] == [30, 60, 120, 240]
    assert delays == sorted(delays) and max(delays) == rules.BACKOFF_CAP.total_seconds()
    assert not rules.gives_up(rules.MAX_ATTEMPTS - 1) and rules.gives_up(rules.MAX_ATTEMPTS)
