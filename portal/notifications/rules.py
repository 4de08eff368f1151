"""Who hears of which lead event, and how: the mapping table, the webhook signature and the
retry schedule. Pure: plain values in and out."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Audience(StrEnum):
    PARTNER = "partner"  # the users of the partner the event's offer went to
    MANAGERS = "managers"  # the tenant's channel managers


@dataclass(frozen=True)
class Rule:
    audience: Audience | None
    # The webhook event type, or None when endpoints are not told of this action.
    webhook: str | None
    # The subject of the message; {company} and {partner} are filled in.
    subject: str


# Keyed by lead event action. An action not listed makes nothing (intake, scoring, opening).
RULES: dict[str, Rule] = {
    "route": Rule(Audience.PARTNER, "offered", "New lead offered: {company}"),
    "assign": Rule(Audience.PARTNER, "offered", "New lead offered: {company}"),
    "remind": Rule(Audience.PARTNER, None, "Reminder: answer the offer of {company}"),
    "recall": Rule(Audience.PARTNER, None, "Lead recalled: {company}"),
    "accept": Rule(None, "accepted", "{partner} accepted {company}"),
    "reject": Rule(Audience.MANAGERS, "rejected", "{partner} rejected {company}"),
    "expire": Rule(Audience.MANAGERS, "expired", "{partner} let the offer of {company} expire"),
    "win": Rule(Audience.MANAGERS, "won", "{partner} won {company}"),
    "lose": Rule(Audience.MANAGERS, "lost", "{partner} lost {company}"),
    "stale": Rule(Audience.MANAGERS, None, "Stale lead: {company} at {partner}"),
}

ACTIONS = frozenset(RULES)
WEBHOOK_EVENTS = ("offered", "accepted", "rejected", "expired", "won", "lost")
TEST_EVENT = "test"


def rule_for(action: str) -> Rule | None:
    """The rule of a lead event action, or None if the action makes nothing."""
    return RULES.get(action)


def subject(rule: Rule, company: str, partner: str) -> str:
    return rule.subject.format(company=company, partner=partner or "A partner")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Portal-Signature value: HMAC-SHA256 over "<timestamp>.<body>" with the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


# Attempts spread over about a day before a delivery or e-mail is given up as failed.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
MAX_ATTEMPTS = 8


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the given number of failed attempts: doubling, capped."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def gives_up(attempts: int, max_attempts: int = MAX_ATTEMPTS) -> bool:
    """Whether a message that failed this many times is failed for good."""
    return attempts >= max_attempts
