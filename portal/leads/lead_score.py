"""Lead scoring: a pure function of the lead, its activities and the tenant's criteria.

It returns the score and a breakdown in words for the lead page. At or above the
threshold and with every required field, the lead becomes an MQL and is handed to
routing; otherwise it goes to nurture and is re-scored when new activity arrives.

Pure: imports only the standard library and the other pure lead modules. Points are
added as exact fractions, so the order of the activities never changes the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from portal.leads.lifecycle import Action
from portal.leads.scoring import (
    BANT_FIELDS,
    REQUIRABLE_FIELDS,
    EngagementRuleSpec,
    ProfileRule,
    activity_label,
    describe_condition,
    rule_matcher,
)

PROFILE, ENGAGEMENT = "profile", "engagement"
TIMES = "\u00d7"
_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Activity:
    """Something the lead did, of a type the engagement rules name, at a UTC time."""

    activity_type: str
    occurred_at: datetime


@dataclass(frozen=True)
class Criteria:
    """A tenant's qualification criteria, as the services read them from its settings."""

    profile_rules: tuple[ProfileRule, ...]
    engagement_rules: tuple[EngagementRuleSpec, ...]
    threshold: int
    required_fields: tuple[str, ...]


@dataclass(frozen=True)
class Contribution:
    """The points one rule gave, and why in plain words."""

    source: str
    reason: str
    points: int


@dataclass(frozen=True)
class Score:
    """A lead's score, the rules that made it, and the required fields it lacks."""

    total: int
    contributions: tuple[Contribution, ...]
    missing_fields: tuple[str, ...]
    threshold: int

    @property
    def qualifies(self) -> bool:
        """Whether the lead is an MQL: enough points and nothing required missing."""
        return self.total >= self.threshold and not self.missing_fields

    def breakdown(self) -> list[dict[str, object]]:
        """The contributions as JSON-safe dicts, to store on the lead."""
        return [
            {"source": c.source, "reason": c.reason, "points": c.points} for c in self.contributions
        ]

    def verdict(self) -> str:
        """The score and what happens next, in one sentence."""
        if self.qualifies:
            return f"{self._points_of_needed()}: a marketing qualified lead."
        if not self.missing_fields:
            return f"{self._points_of_needed()}: nurture until more activity."
        missing, pronoun = _missing_words(self.missing_fields)
        if self.total >= self.threshold:
            return f"{_points(self.total)}, but {missing}: nurture until {pronoun} known."
        return (
            f"{self._points_of_needed()}, and {missing}: "
            f"nurture until more activity and until {pronoun} known."
        )

    def _points_of_needed(self) -> str:
        return f"{_points(self.total)} of {self.threshold} needed"


def score_lead(
    lead: Mapping[str, object],
    activities: Iterable[Activity],
    criteria: Criteria,
    now: datetime,
    *,
    country_label: Callable[[str], str] = str,
) -> Score:
    """Score a lead against the criteria at `now`; the total never goes below 0."""
    return Scorer(criteria, country_label=country_label).score(lead, activities, now)


class Scorer:
    """score_lead for many leads on the same criteria, each rule's test and words made once.

    Leads without activities that meet the same rules and lack the same fields get one
    shared Score: at intake, a batch of leads has only a handful of different scores.
    """

    def __init__(self, criteria: Criteria, *, country_label: Callable[[str], str] = str) -> None:
        self.criteria = criteria
        self._profile = [
            (
                rule_matcher(rule),
                Contribution(PROFILE, describe_condition(rule, country_label), rule.points),
            )
            for rule in criteria.profile_rules
            if rule.points
        ]
        self._matchers = [(i, matches) for i, (matches, _) in enumerate(self._profile)]
        self._required = [(name, field_test(name)) for name in criteria.required_fields]
        self._without_activities: dict[tuple[tuple[int, ...], tuple[str, ...]], Score] = {}

    def score(
        self, lead: Mapping[str, object], activities: Iterable[Activity], now: datetime
    ) -> Score:
        """Score one lead at `now`, as score_lead does."""
        _require_aware(now, "now")
        done = [a for a in activities if _require_aware(a.occurred_at, "occurred_at") <= now]
        met = tuple([i for i, matches in self._matchers if matches(lead)])
        missing = tuple([name for name, present in self._required if not present(lead)])
        if done:
            return self._score(met, missing, done, now)
        key = (met, missing)
        known = self._without_activities.get(key)
        if known is None:
            known = self._without_activities[key] = self._score(met, missing, done, now)
        return known

    def _score(
        self, met: tuple[int, ...], missing: tuple[str, ...], done: list[Activity], now: datetime
    ) -> Score:
        contributions = [
            *(self._profile[i][1] for i in met),
            *_engagement_contributions(done, self.criteria.engagement_rules, now),
        ]
        return Score(
            total=max(0, sum(c.points for c in contributions)),
            contributions=tuple(contributions),
            missing_fields=missing,
            threshold=self.criteria.threshold,
        )


def scoring_action(score: Score) -> Action:
    """The life-cycle action a score leads to: above (MQL) or below (nurture)."""
    return Action.SCORE_ABOVE if score.qualifies else Action.SCORE_BELOW


def has_field(lead: Mapping[str, object], name: str) -> bool:
    """Whether the lead has a value for a required field; see field_test."""
    return field_test(name)(lead)


def field_test(name: str) -> Callable[[Mapping[str, object]], bool]:
    """The test of whether a lead has a value for a required field.

    BANT fields (budget, authority, need, timeline) are read from ``lead["bant"]`` and
    count as answered when the answer is not None and not blank text: an explicit
    False ("no budget") is an answer, and a known one. Every other field is read from
    the lead itself and is present when it is not None, not False and not blank text;
    False there means "none" (for example ``product``), while 0 is a real value (an
    employee count of 0). Made once per field, to test many leads.
    """
    if name in BANT_FIELDS:

        def answered(lead: Mapping[str, object]) -> bool:
            bant = lead.get("bant")
            value = bant.get(name) if isinstance(bant, dict | Mapping) else None
            return value is not None and not _blank(value)

        return answered

    def present(lead: Mapping[str, object]) -> bool:
        value = lead.get(name)
        return value is not None and value is not False and not _blank(value)

    return present


# Profile and engagement points --------------------------------------------------------------


def _engagement_contributions(
    done: Sequence[Activity], rules: Sequence[EngagementRuleSpec], now: datetime
) -> list[Contribution]:
    contributions = []
    for rule in rules:
        weights = [_weight(a, rule.decay_days, now) for a in done if _is_for(a, rule)]
        counted = [w for w in weights if w]  # faded-out activities are not counted in words
        points = _round_half_away_from_zero(rule.points * sum(counted, Fraction(0)))
        if points:
            contributions.append(
                Contribution(ENGAGEMENT, _engagement_reason(rule, len(counted)), points)
            )
    return contributions


def _is_for(activity: Activity, rule: EngagementRuleSpec) -> bool:
    return activity.activity_type == rule.activity_type


def _weight(activity: Activity, decay_days: int | None, now: datetime) -> Fraction:
    """1 without decay, else fading linearly from 1 (now) to 0 (decay_days old)."""
    if decay_days is None:
        return Fraction(1)
    # Whole microseconds keep the fade exact: no float drift, no order dependence.
    age = (now - activity.occurred_at) // _MICROSECOND
    span = (decay_days * _DAY) // _MICROSECOND
    return Fraction(max(0, span - age), span)


def _round_half_away_from_zero(value: Fraction) -> int:
    # round() on a Fraction rounds half to even; the score must round 2.5 up to 3.
    magnitude = int(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def _engagement_reason(rule: EngagementRuleSpec, count: int) -> str:
    words = f"{count} {TIMES} {activity_label(rule.activity_type)}"
    if rule.decay_days is None:
        return words
    return f"{words} (fading over {rule.decay_days} day{'' if rule.decay_days == 1 else 's'})"


# Small helpers -----------------------------------------------------------------------------


def _require_aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got {moment!r}")
    return moment


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _points(total: int) -> str:
    return f"{total} point{'' if total == 1 else 's'}"


def _missing_words(fields: Sequence[str]) -> tuple[str, str]:
    """'budget and timeline are missing' and 'they are', or 'budget is missing' and 'it is'."""
    names = [REQUIRABLE_FIELDS.get(f, f.replace("_", " ")) for f in fields]
    if len(names) == 1:
        return f"{names[0]} is missing", "it is"
    return f"{', '.join(names[:-1])} and {names[-1]} are missing", "they are"
