"""What a routing decision says about each partner: score terms, or the reasons it was left out.

The engine ranks partners on bare tuples; these values are built from them only when a
decision is asked to explain itself. Pure Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from portal.routing.facts import (
    ACTIVE,
    MAX_QUALITY,
    MAX_TIER_WEIGHT,
    NO_LOAD,
    LeadFacts,
    Load,
    PartnerConfig,
)
from portal.routing.index import TERRITORY_ID, Entry, RoutingIndex, territory_fit
from portal.routing.segments import Segment

# What routing keeps of an eligible partner: its sort key first (minus its score, minus the
# time since its last offer, partner id), then what its breakdown is worked out from: the
# index entry it matched through, its load, its last offer and its fairness term.
Ranked = tuple[float, float, int, Entry, int, "datetime | None", float]

TERMS = ("territory", "tier", "quality", "capacity", "fairness")


class Reason(StrEnum):
    """Why a considered partner is not eligible, in the order they are listed."""

    INACTIVE = "inactive"
    WRONG_PRODUCT = "wrong_product"
    NO_TERRITORY = "no_territory"
    ALREADY_HAD = "already_had"
    TIER_BELOW_SEGMENT = "tier_below_segment"
    CERTIFICATION_BELOW_SEGMENT = "certification_below_segment"
    AT_CAPACITY = "at_capacity"
    OVER_FAIRNESS_CAP = "over_fairness_cap"


@dataclass(frozen=True)
class Term:
    """One part of a candidate's score."""

    name: str  # one of TERMS
    value: float  # 0 to 1
    max_points: float  # the term's share of 100 points under the tenant's weights
    facts: dict[str, Any]

    @property
    def points(self) -> float:
        return self.value * self.max_points

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(self.value, 4),
            "points": round(self.points, 2),
            "max_points": round(self.max_points, 2),
            "facts": self.facts,
        }


@dataclass(frozen=True)
class Candidate:
    """An eligible partner, its place in the ranking (1 is first) and its score by term."""

    position: int
    partner_id: int
    partner_name: str
    score: float  # 0 to 100
    terms: tuple[Term, ...]

    def term(self, name: str) -> Term:
        return next(t for t in self.terms if t.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "partner_id": self.partner_id,
            "partner_name": self.partner_name,
            "score": round(self.score, 2),
            "terms": [t.to_dict() for t in self.terms],
        }


@dataclass(frozen=True)
class Exclusion:
    """A partner that was considered for the lead and is not eligible, and every reason."""

    partner_id: int
    partner_name: str
    reasons: tuple[Reason, ...]
    facts: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "partner_id": self.partner_id,
            "partner_name": self.partner_name,
            "reasons": [str(r) for r in self.reasons],
            "facts": self.facts,
        }


def territory_facts(index: RoutingIndex, territory_id: int) -> dict[str, Any]:
    """A territory as JSON-ready values: a copy, so callers may change it."""
    return dict(index.territory_facts[territory_id])


def candidate(index: RoutingIndex, position: int, item: Ranked) -> Candidate:
    """The breakdown of an eligible partner's score."""
    neg_score, order, pid, entry, busy, last, fairness = item
    partner = index.partners[pid]
    points = index.points
    tier = {"tier": partner.tier_name, "rank": partner.tier_rank, "weight": partner.tier_weight}
    quality = {"quality": partner.quality_or_neutral, "scorecard": partner.quality is not None}
    terms = (
        Term(
            "territory",
            territory_fit(index.territories[entry[TERRITORY_ID]]),
            points["territory"],
            territory_facts(index, entry[TERRITORY_ID]),
        ),
        Term("tier", partner.tier_weight / MAX_TIER_WEIGHT, points["tier"], tier),
        Term("quality", partner.quality_or_neutral / MAX_QUALITY, points["quality"], quality),
        Term(
            "capacity",
            (partner.capacity - busy) / partner.capacity,
            points["capacity"],
            {"busy": busy, "capacity": partner.capacity},
        ),
        Term(
            "fairness",
            fairness,
            points["fairness"],
            {
                "last_offered_at": last.isoformat() if last else None,
                "hours_since": None if last is None else round(-order / 3600, 1),
            },
        ),
    )
    return Candidate(position, pid, partner.name, -neg_score, terms)


def considered(index: RoutingIndex, lead: LeadFacts) -> tuple[dict[int, int], set[int]]:
    """Partners covering a place that holds the lead, each with its most specific territory
    there, and partners covering the lead's product."""
    in_place: dict[int, int] = {}
    for group in index.any_product.matching(lead.place):
        for pid, tid in group:
            in_place.setdefault(pid, tid)
    selling: set[int] = set()
    if lead.product_id is not None:
        selling = set(index.product_partners.get(lead.product_id, ()))
    return in_place, selling


def exclusions(
    index: RoutingIndex,
    lead: LeadFacts,
    load: Load,
    segment: Segment | None,
    eligible: Collection[int],
    capped: Collection[int],
    near_only: bool = False,
    limit: int | None = None,
) -> tuple[Exclusion, ...]:
    """Every considered partner that is not eligible, by partner id, with all its reasons.

    near_only keeps the near misses: partners that offer the product and cover the lead's
    place, left out for another reason. In a large network the others are many, and
    each is out for the same plain reason. limit keeps the first so many, by partner id.
    """
    in_place, selling = considered(index, lead)
    pool = in_place.keys() & selling if near_only else in_place.keys() | selling
    out = []
    for pid in sorted(pool - set(eligible))[:limit]:
        partner = index.partners[pid]
        territory_id = in_place.get(pid)
        reasons = _reasons(partner, lead, load, segment, territory_id, pid in capped)
        facts = _exclusion_facts(index, partner, lead, load, segment, territory_id, pid in capped)
        out.append(Exclusion(pid, partner.name, reasons, facts))
    return tuple(out)


def reason_counts(
    index: RoutingIndex,
    lead: LeadFacts,
    load: Load,
    segment: Segment | None,
    eligible: Collection[int],
    capped: Collection[int],
) -> tuple[int, dict[str, int]]:
    """How many considered partners are not eligible, and how many each reason kept out;
    the reasons alone, without the facts behind them, as a summary of many needs."""
    in_place, selling = considered(index, lead)
    excluded = (in_place.keys() | selling) - set(eligible)
    counts: Counter[Reason] = Counter()
    partners, territory_of = index.partners, in_place.get
    for pid in excluded:
        counts.update(
            _reasons(partners[pid], lead, load, segment, territory_of(pid), pid in capped)
        )
    return len(excluded), {str(reason): count for reason, count in counts.items()}


def _reasons(
    partner: PartnerConfig,
    lead: LeadFacts,
    load: Load,
    segment: Segment | None,
    territory_id: int | None,
    capped: bool,
) -> tuple[Reason, ...]:
    certification = partner.products.get(lead.product_id) if lead.product_id is not None else None
    reasons = []
    if partner.status != ACTIVE:
        reasons.append(Reason.INACTIVE)
    if certification is None:
        reasons.append(Reason.WRONG_PRODUCT)
    if territory_id is None:
        reasons.append(Reason.NO_TERRITORY)
    if partner.id in lead.partners_had:
        reasons.append(Reason.ALREADY_HAD)
    if segment is not None:
        if segment.min_tier_rank is not None and partner.tier_rank > segment.min_tier_rank:
            reasons.append(Reason.TIER_BELOW_SEGMENT)
        if certification is not None and certification < (segment.min_certification or 0):
            reasons.append(Reason.CERTIFICATION_BELOW_SEGMENT)
    if load.partners.get(partner.id, NO_LOAD).busy >= partner.capacity:
        reasons.append(Reason.AT_CAPACITY)
    if capped:
        reasons.append(Reason.OVER_FAIRNESS_CAP)
    return tuple(reasons)


def _exclusion_facts(
    index: RoutingIndex,
    partner: PartnerConfig,
    lead: LeadFacts,
    load: Load,
    segment: Segment | None,
    territory_id: int | None,
    capped: bool,
) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "status": partner.status,
        "territory": territory_facts(index, territory_id) if territory_id is not None else None,
        "tier": partner.tier_name,
        "rank": partner.tier_rank,
        "certification": (
            partner.products.get(lead.product_id) if lead.product_id is not None else None
        ),
        "busy": load.partners.get(partner.id, NO_LOAD).busy,
        "capacity": partner.capacity,
    }
    if segment is not None:
        facts["needs_rank"] = segment.min_tier_rank
        facts["needs_tier"] = index.tier_name(segment.min_tier_rank) or None
        facts["needs_certification"] = segment.min_certification
    cap = index.config.fairness_cap
    if capped and territory_id is not None and cap is not None:
        offers = load.territory_offers[territory_id]
        facts["share"] = round(offers.share(partner.id), 4)
        facts["territory_offers"] = offers.total
        facts["max_share"] = cap.max_share
    return facts
