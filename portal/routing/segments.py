"""Segment rules and routing weights as plain values: which rule applies, and in plain words.

A segment is a half-open range [min_value, max_value) of company size (employees) or of
expected deal size (minor units of one currency). Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

EMPLOYEES = "employees"
DEAL_SIZE = "deal_size"

# The words for CERTIFICATION_LEVELS of portal.partners.validation (a unit test keeps the
# two in step); level 0 asks for nothing, so it has no phrase.
CERTIFICATION_PHRASES = {
    1: "certification",
    2: "Advanced certification",
    3: "Expert certification",
}

FormatMoney = Callable[[int, str], str]


@dataclass(frozen=True)
class Segment:
    name: str
    basis: str  # EMPLOYEES or DEAL_SIZE
    min_value: int  # inclusive
    max_value: int | None  # exclusive; None: no upper bound
    currency: str | None  # ISO 4217 for DEAL_SIZE, None for EMPLOYEES
    min_tier_rank: int | None  # partners of this rank or better (1 is the top tier)
    min_certification: int | None

    @property
    def is_empty(self) -> bool:
        return self.max_value is not None and self.max_value <= self.min_value

    def contains(self, value: int) -> bool:
        """Whether a company size or deal size (in minor units) falls in this segment."""
        return self.min_value <= value and (self.max_value is None or value < self.max_value)


def _same_scale(a: Segment, b: Segment) -> bool:
    return a.basis == b.basis and (a.basis != DEAL_SIZE or a.currency == b.currency)


def overlaps(a: Segment, b: Segment) -> bool:
    """Whether some lead would fall in both segments (same basis, same currency)."""
    if not _same_scale(a, b) or a.is_empty or b.is_empty:
        return False
    a_below_b_end = b.max_value is None or a.min_value < b.max_value
    b_below_a_end = a.max_value is None or b.min_value < a.max_value
    return a_below_b_end and b_below_a_end


def first_overlap(candidate: Segment, others: Iterable[Segment]) -> Segment | None:
    """The first of others that the candidate overlaps, if any."""
    return next((other for other in others if overlaps(candidate, other)), None)


def _matching(
    segments: Iterable[Segment], basis: str, value: int, currency: str | None
) -> Segment | None:
    found = [
        s
        for s in segments
        if s.basis == basis and s.contains(value) and (basis != DEAL_SIZE or s.currency == currency)
    ]
    # Rules never overlap once saved; should they, the narrowest (highest floor) wins.
    return max(found, key=lambda s: (s.min_value, s.name), default=None)


def segment_for(
    segments: Iterable[Segment],
    employees: int | None,
    deal_size_minor: int | None,
    currency: str | None,
) -> Segment | None:
    """The rule that applies to a lead: its deal-size rule if one matches, else its size rule.

    The expected deal says most directly what is at stake, so it takes precedence over the
    size of the company. Deal sizes only match rules of the same currency.
    """
    segments = list(segments)
    if deal_size_minor is not None and currency:
        by_deal = _matching(segments, DEAL_SIZE, deal_size_minor, currency.upper())
        if by_deal is not None:
            return by_deal
    if employees is not None:
        return _matching(segments, EMPLOYEES, employees, None)
    return None


def _employees(n: int) -> str:
    return f"{n:,} employee" + ("" if n == 1 else "s")


def describe_range(seg: Segment, format_money: FormatMoney) -> str:
    """The segment's range in words: '1,000 employees or more', 'under €10,000'."""
    low, high = seg.min_value, seg.max_value
    if seg.basis == EMPLOYEES:
        if high is None:
            return "any number of employees" if low == 0 else f"{_employees(low)} or more"
        if low == 0:
            return f"fewer than {_employees(high)}"
        if high - 1 == low:
            return _employees(low)
        return f"{low:,} to {_employees(high - 1)}"
    currency = seg.currency or ""
    if high is None:
        return f"any amount in {currency}" if low == 0 else f"{format_money(low, currency)} or more"
    if low == 0:
        return f"under {format_money(high, currency)}"
    return f"{format_money(low, currency)} to under {format_money(high, currency)}"


def describe_requirement(seg: Segment, tier_name: str | None) -> str:
    """What a partner needs for leads of this segment, in words."""
    parts = []
    if tier_name:
        parts.append(f"a {tier_name} partner or better")
    phrase = CERTIFICATION_PHRASES.get(seg.min_certification or 0)
    if phrase:
        parts.append(f"{phrase} in the product")
    return " and ".join(parts) if parts else "no particular tier or certification"


def describe_segment(seg: Segment, tier_name: str | None, format_money: FormatMoney) -> str:
    """The whole rule in one sentence, as a channel manager would say it."""
    scope = describe_range(seg, format_money)
    if seg.basis == EMPLOYEES:
        subject = f"Companies with {scope}"
    else:
        subject = f"Deals {scope}" if scope.startswith("under") else f"Deals of {scope}"
    return f"{subject} need {describe_requirement(seg, tier_name)}"


def weight_shares(weights: Mapping[str, int]) -> dict[str, float]:
    """Each weight's share of the total in percent; all zero when the weights are all zero."""
    total = sum(weights.values())
    if total <= 0:
        return {key: 0.0 for key in weights}
    return {key: value * 100 / total for key, value in weights.items()}
