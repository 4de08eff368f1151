"""Routing decisions in plain English: why this partner, why not that one, where the lead went.

Works on the values of portal.routing.breakdown and the engine, or on their to_dict()
form read back from an offer. Pure Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.partners.territory_rules import describe
from portal.partners.validation import CERTIFICATION_LEVELS
from portal.routing.breakdown import Candidate, Exclusion, Reason
from portal.routing.engine import Decision, Outcome

KIND_MATCH = {
    "postal": "a postal-code match",
    "subdivision": "a subdivision match",
    "country": "a country match",
    "region": "a region match",
    "global": "global coverage",
}
ORDINALS = {1: "first", 2: "second", 3: "third"}


def ordinal(n: int) -> str:
    """'first', 'second', 'third', then '4th', '21st', '112th'."""
    if n in ORDINALS:
        return ORDINALS[n]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _points(points: float, max_points: float) -> str:
    return f"{points:.1f} of {max_points:.0f} points"


def ago(hours: float) -> str:
    """A time since, in the unit a person would use: '40 minutes', '5 hours', '3 days'."""
    if hours < 1:
        minutes = round(hours * 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if hours < 48:
        whole = round(hours)
        return f"{whole} hour{'s' if whole != 1 else ''}"
    days = round(hours / 24)
    return f"{days} days"


def territory_words(facts: Mapping[str, Any]) -> str:
    """A matched territory in words, e.g. 'postal codes starting 803 in Germany'."""
    text = describe(
        kind=facts["kind"],
        name=facts.get("name") or facts.get("code") or "",
        country=facts.get("country"),
        subdivision=facts.get("subdivision"),
        postal_prefix=facts.get("postal_prefix"),
        region_countries=facts.get("region_countries") or (),
    )
    return text[:1].lower() + text[1:]


def _term_words(name: str, facts: Mapping[str, Any], value: float) -> str:
    if name == "territory":
        return f"covers {territory_words(facts)}, {KIND_MATCH.get(facts['kind'], 'a match')}"
    if name == "tier":
        tier = facts["tier"] or f"tier rank {facts['rank']}"
        return f"{tier} tier, routing weight {facts['weight']} of 100"
    if name == "quality":
        if not facts["scorecard"]:
            return f"no scorecard yet, counted as a neutral {facts['quality']} of 100"
        return f"scorecard quality {facts['quality']} of 100"
    if name == "capacity":
        return (
            f"{facts['busy']} of {facts['capacity']} leads in hand, "
            f"{value:.0%} of its capacity free"
        )
    if facts.get("hours_since") is None:
        return "never offered a lead before"
    return f"last offered a lead {ago(facts['hours_since'])} ago"


def why(candidate: Candidate) -> str:
    """Why this partner: its place, its score, and what each term gave it, in sentences."""
    place = ordinal(candidate.position)
    lines = [f"{candidate.partner_name} ranks {place} with {candidate.score:.1f} of 100 points."]
    for term in candidate.terms:
        words = _term_words(term.name, term.facts, term.value)
        lines.append(
            f"{term.name.capitalize()}: {words} ({_points(term.points, term.max_points)})."
        )
    return "\n".join(lines)


def _certification(level: int | None) -> str:
    return CERTIFICATION_LEVELS.get(level or 0, str(level))


def _reason_words(reason: Reason, facts: Mapping[str, Any]) -> str:
    if reason == Reason.INACTIVE:
        return f"it is {facts['status']}"
    if reason == Reason.WRONG_PRODUCT:
        return "it does not offer the lead's product"
    if reason == Reason.NO_TERRITORY:
        return "none of its territories holds the lead's location"
    if reason == Reason.ALREADY_HAD:
        return "it already had this lead"
    if reason == Reason.TIER_BELOW_SEGMENT:
        return (
            f"the lead's segment needs a {facts['needs_tier']} partner or better, "
            f"and it is {facts['tier'] or 'tier rank ' + str(facts['rank'])}"
        )
    if reason == Reason.CERTIFICATION_BELOW_SEGMENT:
        return (
            f"the lead's segment needs {_certification(facts['needs_certification'])} "
            f"certification in the product, and it has {_certification(facts['certification'])}"
        )
    if reason == Reason.AT_CAPACITY:
        return f"it is at capacity, with {facts['busy']} of {facts['capacity']} leads in hand"
    return (
        f"it had {facts['share']:.0%} of the last {facts['territory_offers']} offers in "
        f"{territory_words(facts['territory'])}, at or above the fairness cap of "
        f"{facts['max_share']:.0%}, while another partner could take the lead"
    )


def why_not(exclusion: Exclusion) -> str:
    """Why a partner was left out, every reason in one sentence."""
    reasons = "; ".join(_reason_words(r, exclusion.facts) for r in exclusion.reasons)
    return f"{exclusion.partner_name} was not eligible: {reasons}."


def outcome_words(decision: Decision, partner_names: Mapping[int, str]) -> str:
    """Where the lead went, in one sentence."""
    name = partner_names.get(decision.partner_id or 0, f"partner {decision.partner_id}")
    if decision.outcome == Outcome.ROUTED:
        return f"Offered to {name}, the best of the eligible partners."
    if decision.outcome == Outcome.FALLBACK_PARTNER:
        return f"No partner was eligible; the lead goes to the default partner, {name}."
    if decision.outcome == Outcome.DIRECT_SALES:
        return "No partner was eligible; the lead goes to direct sales."
    queue = "the lead waits in the unroutable queue"
    if decision.fallback_refused == Reason.ALREADY_HAD:
        return f"No partner was eligible and the default partner already had this lead; {queue}."
    if decision.fallback_refused == Reason.INACTIVE:
        return f"No partner was eligible and the default partner is not active; {queue}."
    return f"No partner was eligible; {queue}."


# The stored form: what an offer or a routing event keeps of a decision (to_dict()).

TERM_LABELS = {
    "territory": "Territory",
    "tier": "Tier",
    "quality": "Scorecard quality",
    "capacity": "Spare capacity",
    "fairness": "Fairness",
}
REASON_HEADLINES = {
    Reason.INACTIVE: "are paused or suspended",
    Reason.WRONG_PRODUCT: "do not offer the lead's product",
    Reason.NO_TERRITORY: "do not cover the lead's location",
    Reason.ALREADY_HAD: "already had this lead",
    Reason.TIER_BELOW_SEGMENT: "are below the tier the lead's segment needs",
    Reason.CERTIFICATION_BELOW_SEGMENT: "lack the certification the lead's segment needs",
    Reason.AT_CAPACITY: "are at capacity",
    Reason.OVER_FAIRNESS_CAP: "are over the fairness cap in the territory",
}


def stored_term_words(term: Mapping[str, Any]) -> str:
    """One stored term of a candidate's score in words, e.g. 'covers ..., a country match'."""
    return _term_words(term["name"], term["facts"], term["value"])


def stored_reasons(exclusion: Mapping[str, Any]) -> list[str]:
    """Every reason a stored exclusion gives, each in words."""
    return [_reason_words(Reason(r), exclusion["facts"]) for r in exclusion["reasons"]]


def reason_summary(counts: Mapping[str, int]) -> list[str]:
    """How many partners each reason kept out, most common first: '3 partners are at capacity'."""
    lines = []
    for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        headline = REASON_HEADLINES.get(Reason(reason), reason)
        if count == 1:
            headline = singular_headline(reason)
        lines.append(f"{count} partner{'s' if count != 1 else ''} {headline}")
    return lines


def singular_headline(reason: str) -> str:
    """A reason said of one partner: 'does not offer the lead's product', 'is at capacity'."""
    return (
        REASON_HEADLINES[Reason(reason)]
        .replace("do not", "does not")
        .replace("are ", "is ")
        .replace("lack ", "lacks ")
    )
