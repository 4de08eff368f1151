"""A partner's scorecard for a period: counts, rates, response times and a quality score.

Pure: plain values in, plain values out. An offer's answer time in business hours (by the
partner's SLA calendar) is kept on it when it is answered; the services add up each
partner's offers of the period with what became of their leads into a Tally, and this
module does the arithmetic. A rate with nothing to count is None (shown as
"no data"), never a division by zero, and the quality score leaves out the parts it has no
data for.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# Offer states, as the offers table keeps them.
OPEN, ACCEPTED, REJECTED, EXPIRED, RECALLED = "open", "accepted", "rejected", "expired", "recalled"
OFFER_STATES = (OPEN, ACCEPTED, REJECTED, EXPIRED, RECALLED)
# How answer times are grouped for their distribution: (label, up to so many hours).
RESPONSE_BUCKETS = (
    ("under 1 h", 1.0), ("1 to 4 h", 4.0), ("4 to 8 h", 8.0), ("8 to 24 h", 24.0),
    ("24 h or more", math.inf),
)  # fmt: skip
BUCKET_LABELS = tuple(label for label, _ in RESPONSE_BUCKETS)
# Lead states that mean an accepted lead became an opportunity (lost may come before or after).
REACHED_SQL = frozenset({"sql", "won"})


@dataclass(frozen=True)
class OfferOutcome:
    """One offer of the period and what became of it and of its lead."""

    state: str
    reason_code: str | None = None
    answered_in_time: bool | None = None  # accepted or rejected by the deadline; None if not
    response_hours: float | None = None  # business hours from offer to answer; None if none
    lead_state: str | None = None  # the lead's state now, for an accepted offer
    had_opportunity: bool = False  # the lead was moved to SQL (it has an opportunity amount)
    won_minor: int | None = None
    won_currency: str | None = None
    stale: bool = False  # accepted, and nobody has updated the lead for too long


@dataclass(frozen=True)
class QualityWeights:
    """How much each part counts in the quality score; the tenant sets them."""

    acceptance: int = 30
    sla: int = 30
    response: int = 20
    conversion: int = 20

    def __post_init__(self) -> None:
        parts = (self.acceptance, self.sla, self.response, self.conversion)
        if any(w < 0 for w in parts) or not any(parts):
            raise ValueError("quality weights are whole numbers from 0, not all 0")


@dataclass(frozen=True)
class Scorecard:
    offered: int
    accepted: int
    rejected: int
    expired: int
    recalled: int
    open: int
    rejected_by_reason: dict[str, int]
    acceptance_rate: float | None  # accepted of those answered or expired
    sla_compliance: float | None  # answered by the deadline, of those answered or expired
    response_median_h: float | None
    response_p90_h: float | None
    sal_to_sql: float | None  # accepted leads that became opportunities
    sal_to_won: float | None
    won_revenue: dict[str, int]  # minor units by currency
    stale: int
    late: int  # expired, or answered after the deadline
    reached_sql: int  # accepted leads that became opportunities
    won: int  # accepted leads won
    response_buckets: dict[str, int]  # answers by business hours taken, in RESPONSE_BUCKETS
    quality: int | None  # 0 to 100; None without any data to judge by
    quality_parts: dict[str, float] = field(default_factory=dict)  # each part, 0 to 1

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected + self.expired


@dataclass(frozen=True)
class Tally:
    """What one partner's offers of a period add up to: the sums a scorecard is made of.

    tally() adds them up from outcomes; the services get the same sums from one GROUP BY,
    so a scorecard reads a few rows per partner, not every offer.
    """

    states: Mapping[str, int] = field(default_factory=dict)  # offers by state
    rejected_by_reason: Mapping[str, int] = field(default_factory=dict)
    in_time: int = 0  # answered by the deadline
    reached_sql: int = 0
    won: int = 0
    stale: int = 0
    won_revenue: Mapping[str, int] = field(default_factory=dict)
    response_median_h: float | None = None
    response_p90_h: float | None = None
    response_buckets: Mapping[str, int] = field(default_factory=dict)


def tally(outcomes: Iterable[OfferOutcome]) -> Tally:
    rows = list(outcomes)
    accepted = [r for r in rows if r.state == ACCEPTED]
    answered = [r for r in rows if r.state in (ACCEPTED, REJECTED)]
    hours = sorted(r.response_hours for r in answered if r.response_hours is not None)
    revenue: Counter[str] = Counter()
    for r in accepted:
        if r.lead_state == "won" and r.won_minor is not None and r.won_currency:
            revenue[r.won_currency] += r.won_minor
    return Tally(
        states=Counter(r.state for r in rows),
        rejected_by_reason=Counter(r.reason_code or "none" for r in rows if r.state == REJECTED),
        in_time=sum(1 for r in answered if r.answered_in_time),
        reached_sql=sum(1 for r in accepted if r.had_opportunity or r.lead_state in REACHED_SQL),
        won=sum(1 for r in accepted if r.lead_state == "won"),
        stale=sum(1 for r in accepted if r.stale),
        won_revenue=revenue,
        response_median_h=percentile(hours, 0.5),
        response_p90_h=percentile(hours, 0.9),
        response_buckets=bucket_counts(hours),
    )


def scorecard(
    outcomes: Iterable[OfferOutcome],
    weights: QualityWeights = QualityWeights(),
    window_hours: float | None = None,
) -> Scorecard:
    """The scorecard of one partner's offers; window_hours is its SLA's time to answer,
    against which the response time counts in the quality score."""
    return card_of(tally(outcomes), weights, window_hours)


def card_of(
    sums: Tally, weights: QualityWeights = QualityWeights(), window_hours: float | None = None
) -> Scorecard:
    states = sums.states
    accepted = states.get(ACCEPTED, 0)
    decided = accepted + states.get(REJECTED, 0) + states.get(EXPIRED, 0)
    card = Scorecard(
        offered=sum(states.values()),
        accepted=accepted,
        rejected=states.get(REJECTED, 0),
        expired=states.get(EXPIRED, 0),
        recalled=states.get(RECALLED, 0),
        open=states.get(OPEN, 0),
        rejected_by_reason=dict(Counter(sums.rejected_by_reason).most_common()),
        acceptance_rate=_share(accepted, decided),
        sla_compliance=_share(sums.in_time, decided),
        response_median_h=sums.response_median_h,
        response_p90_h=sums.response_p90_h,
        sal_to_sql=_share(sums.reached_sql, accepted),
        sal_to_won=_share(sums.won, accepted),
        won_revenue=dict(sorted((c, v) for c, v in sums.won_revenue.items() if v)),
        stale=sums.stale,
        late=decided - sums.in_time,
        reached_sql=sums.reached_sql,
        won=sums.won,
        response_buckets={**dict.fromkeys(BUCKET_LABELS, 0), **sums.response_buckets},
        quality=None,
    )
    parts = quality_parts(card, window_hours)
    return _with_quality(card, parts, weights)


def quality_parts(card: Scorecard, window_hours: float | None) -> dict[str, float]:
    """The parts of the quality score the scorecard has data for, each from 0 to 1.

    Response counts fully for an answer at once and not at all for one that took the whole
    window; without a known window it is left out.
    """
    parts: dict[str, float] = {}
    if card.acceptance_rate is not None:
        parts["acceptance"] = card.acceptance_rate
    if card.sla_compliance is not None:
        parts["sla"] = card.sla_compliance
    if card.response_median_h is not None and window_hours:
        parts["response"] = max(0.0, 1.0 - card.response_median_h / window_hours)
    if card.sal_to_sql is not None:
        parts["conversion"] = card.sal_to_sql
    return parts


def _with_quality(card: Scorecard, parts: dict[str, float], weights: QualityWeights) -> Scorecard:
    weight = {name: getattr(weights, name) for name in parts}
    total = sum(weight.values())
    quality = None
    if total:
        quality = round_half_up(100 * sum(parts[n] * weight[n] for n in parts) / total)
    return Scorecard(**{**card.__dict__, "quality": quality, "quality_parts": parts})


def percentile(sorted_values: Sequence[float], share: float) -> float | None:
    """The value below which the share of the values lies (nearest rank); None if none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def bucket_counts(hours: Iterable[float]) -> dict[str, int]:
    counts = dict.fromkeys(BUCKET_LABELS, 0)
    for value in hours:
        label = next(label for label, limit in RESPONSE_BUCKETS if value < limit)
        counts[label] += 1
    return counts


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
