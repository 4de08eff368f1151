"""The routing engine: which partner a lead goes to, and why.

Pure Python over plain values, so live routing, bulk import and what-if simulation share
it. The interface:

    config = RoutingConfig(version, partners, territories, segments, weights,
                           fallback, fairness_cap)          # portal.routing.facts
    index = build_index(config)        # portal.routing.index; once per config version
    index = cache.get(tenant_id, version, load_config)     # IndexCache does that per tenant
    decision = route(index, LeadFacts(...), Load(...), now)

Inputs (frozen dataclasses of portal.routing.facts):
- RoutingConfig: PartnerConfig (id, name, status, capacity, tier rank, tier routing
  weight 0-100 and name, quality 0-100 or None for neutral, territory ids, product id ->
  certification 0-3); TerritoryConfig (id, kind global/region/country/subdivision/postal,
  code, name, country, subdivision, postal prefix, region countries); Segment rules
  (portal.routing.segments); Weights; Fallback (none, a partner, or direct sales);
  FairnessCap or None; the fairness midpoint; product names.
- LeadFacts: product id, country, subdivision, postal code, employees, deal size in minor
  units and currency, ids of the partners that already had the lead.
- Load: per partner id a PartnerLoad (open offers, accepted leads not yet closed, last
  offered time); per territory id the fairness window's TerritoryOffers (total and by
  partner), needed only with a fairness cap: index.territories_holding(lead) says which.

Output, a Decision:
- outcome (Outcome): ROUTED; or, when nobody is eligible, the tenant's fallback:
  FALLBACK_PARTNER, DIRECT_SALES or UNROUTABLE (fallback_refused says why a fallback
  partner could not take it); partner_id: who gets the lead; segment: the rule applied;
- winner: a Candidate: position, partner, score (0-100) and five Terms (territory, tier,
  quality, capacity, fairness), each with its value 0-1, its points, the most points the
  tenant's weights give it, and the facts it came from;
- ranking / candidates: every eligible partner, best first, by id / with its breakdown;
- exclusions: every partner considered (it covers the product, or a place holding the
  lead) but not eligible, with all its Reasons and facts; near_misses: those of them
  that offer the product and cover the lead's place, left out for another reason;
- to_dict(max_candidates, exclusions=Shown.ALL | NEAR | NONE): JSON-ready values.
portal.routing.explain words candidates, exclusions and outcomes in plain English.

route() finds only the winner; the ranking, breakdowns and exclusions are worked out when
first read, from the same inputs, so leave the Load unchanged until then. The winner is
always the first of the ranking.

The rules (DESIGN.md, Routing):
- Eligible: active; covers the product; covers a territory holding the lead; below
  capacity (open offers plus accepted leads not yet closed); meets the minimum tier and
  the minimum certification in the product of the lead's segment rule; never had the lead.
- A partner is matched through its most specific territory holding the lead: postal
  prefix (a longer one first) > subdivision > country > region > global.
- Score, each term from 0 to 1 times its share of 100 points: territory fit (global 0,
  region 0.25, country 0.5, subdivision 0.75, postal 0.8 plus 0.05 a character after the
  first, up to 1); tier routing weight / 100; quality / 100 (50 without a scorecard);
  spare share of capacity; fairness age / (age + midpoint), age being the time since the
  partner's last offer (1 if it never had one).
- Order: higher score, then least recently offered, then lower partner id: a total order.
- Fairness cap (optional): a partner with at least max_share of the window's offers in
  the territory it matched through (once that territory had min_offers) is left out, but
  only while an eligible partner under the cap remains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from portal.routing import breakdown
from portal.routing.breakdown import Candidate, Exclusion, Ranked, Reason
from portal.routing.facts import ACTIVE, NO_LOAD, FallbackKind, LeadFacts, Load
from portal.routing.index import TERRITORY_ID, Entry, RoutingIndex
from portal.routing.segments import Segment

__all__ = ["Candidate", "Decision", "Exclusion", "Outcome", "Reason", "route"]

NEVER = float("-inf")  # the fairness order of a partner never offered a lead: first
NO_LIMIT = 1 << 30
_FAR = frozenset({Reason.WRONG_PRODUCT, Reason.NO_TERRITORY})


class Outcome(StrEnum):
    ROUTED = "routed"
    FALLBACK_PARTNER = "fallback_partner"
    DIRECT_SALES = "direct_sales"
    UNROUTABLE = "unroutable"


class Shown(StrEnum):
    """Which exclusions Decision.to_dict() lists."""

    ALL = "all"
    NEAR = "near"  # the near misses: offering the product and covering the lead's place
    NONE = "none"


@dataclass(slots=True, eq=False)
class Decision:
    """Where one lead goes and why; see the module docstring. Read-only by convention."""

    outcome: Outcome
    partner_id: int | None
    segment: Segment | None
    decided_at: datetime
    _index: RoutingIndex = field(repr=False)
    _lead: LeadFacts = field(repr=False)
    _load: Load = field(repr=False)
    _best: Ranked | None = field(repr=False)
    fallback_refused: Reason | None = None  # why the fallback partner could not take it
    # What is worked out on demand: the ranking, candidates and exclusions.
    _worked_out: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def version(self) -> int:
        """The configuration version the decision was made under."""
        return self._index.version

    @property
    def partner_name(self) -> str | None:
        """The name of the partner the lead goes to, routed or as the fallback."""
        partner = self._index.partners.get(self.partner_id) if self.partner_id else None
        return partner.name if partner else None

    @property
    def routed(self) -> bool:
        return self.outcome == Outcome.ROUTED

    @property
    def winner(self) -> Candidate | None:
        """The partner the lead goes to, with its score by term; None unless routed."""
        if self._best is None:
            return None
        return self._once("winner", lambda: breakdown.candidate(self._index, 1, self._best))

    @property
    def winner_territory_id(self) -> int | None:
        """The territory the winner matched the lead through; None unless routed."""
        return None if self._best is None else self._best[3][TERRITORY_ID]

    @property
    def ranking(self) -> tuple[int, ...]:
        """The eligible partners' ids, best first."""
        return tuple(item[2] for item in self._ranking()[0])

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        """The eligible partners, best first, each with its score by term."""
        return self._once(
            "candidates",
            lambda: tuple(
                breakdown.candidate(self._index, position, item)
                for position, item in enumerate(self._ranking()[0], start=1)
            ),
        )

    @property
    def exclusions(self) -> tuple[Exclusion, ...]:
        """Every considered partner that is not eligible, by partner id, with its reasons."""
        return self._once("exclusions", lambda: self._excluded(near_only=False))

    @property
    def near_misses(self) -> tuple[Exclusion, ...]:
        """The exclusions of partners offering the product and covering the lead's place."""
        if self._worked_out and "exclusions" in self._worked_out:
            return tuple(e for e in self.exclusions if not _FAR.intersection(e.reasons))
        return self._once("near_misses", lambda: self._excluded(near_only=True))

    def first_exclusions(self, count: int, near_only: bool = False) -> tuple[Exclusion, ...]:
        """The first exclusions by partner id, worked out for those only."""
        return self._excluded(near_only, limit=count)

    def reason_counts(self) -> tuple[int, dict[str, int]]:
        """How many considered partners are not eligible, and the count of each reason."""
        return self._once(
            "reason_counts",
            lambda: breakdown.reason_counts(
                self._index, self._lead, self._load, self.segment, *self._chosen()
            ),
        )

    def _once(self, name: str, work: Callable[[], Any]) -> Any:
        if self._worked_out is None:
            self._worked_out = {}
        if name not in self._worked_out:
            self._worked_out[name] = work()
        return self._worked_out[name]

    def _excluded(self, near_only: bool, limit: int | None = None) -> tuple[Exclusion, ...]:
        return breakdown.exclusions(
            self._index,
            self._lead,
            self._load,
            self.segment,
            *self._chosen(),
            near_only=near_only,
            limit=limit,
        )

    def _chosen(self) -> tuple[set[int], set[int]]:
        """The ids of the eligible partners, and of those the fairness cap left out."""
        ranked, capped = self._ranking()
        return {item[2] for item in ranked}, {item[2] for item in capped}

    def _ranking(self) -> tuple[list[Ranked], list[Ranked]]:
        """The eligible partners in order, and those the fairness cap left out."""
        return self._once(
            "ranking",
            lambda: _rank(self._index, self._lead, self._load, self.decided_at, self.segment),
        )

    def to_dict(
        self, max_candidates: int | None = None, exclusions: Shown = Shown.ALL
    ) -> dict[str, Any]:
        """The decision as JSON-ready values, as an offer stores it."""
        fallback = self._index.config.fallback
        out: dict[str, Any] = {
            "version": self.version,
            "decided_at": self.decided_at.isoformat(),
            "outcome": str(self.outcome),
            "partner_id": self.partner_id,
            "segment": _segment_dict(self.segment, self._index),
            "fallback": {"kind": str(fallback.kind), "partner_id": fallback.partner_id},
        }
        if self.fallback_refused is not None:
            out["fallback"]["refused"] = str(self.fallback_refused)
        ranked = self._ranking()[0]
        shown = ranked if max_candidates is None else ranked[:max_candidates]
        out["eligible"] = len(ranked)
        out["candidates"] = [
            breakdown.candidate(self._index, n, item).to_dict()
            for n, item in enumerate(shown, start=1)
        ]
        if exclusions != Shown.NONE:
            shown_out = self.exclusions if exclusions == Shown.ALL else self.near_misses
            out["exclusions"] = [e.to_dict() for e in shown_out]
        return out


def route(index: RoutingIndex, lead: LeadFacts, load: Load, now: datetime) -> Decision:
    """Finds the partner a lead goes to, or where it goes when no partner is eligible.

    Only the winner is worked out here; the decision ranks the others when asked.
    """
    segment = index.segment(lead) if index.segments else None
    best = _best(index, index.groups(lead), segment, lead.partners_had, load, now)
    if best is not None:
        return Decision(Outcome.ROUTED, best[2], segment, now, index, lead, load, best)
    outcome, partner_id, refused = _fallback(index, lead)
    return Decision(outcome, partner_id, segment, now, index, lead, load, None, refused)


def _requirement(segment: Segment | None) -> tuple[int, int]:
    """The worst tier rank and the least certification a segment accepts."""
    if segment is None:
        return NO_LIMIT, 0
    max_rank = NO_LIMIT if segment.min_tier_rank is None else segment.min_tier_rank
    return max_rank, segment.min_certification or 0


def _best(
    index: RoutingIndex,
    groups: Iterable[Sequence[Entry]],
    segment: Segment | None,
    had: frozenset[int],
    load: Load,
    now: datetime,
) -> Ranked | None:
    """The first of the ranking, found without ranking everyone.

    Each place lists its partners by the points they would score idle and never offered
    a lead, an upper bound of their score; once that bound falls below the best score
    found, nobody further in the place can win.

    A partner met again through a broader territory scores no more than through its most
    specific one, met first, and is eligible or not alike, so without a fairness cap it
    needs no tracking: it cannot win again, and on a tie with itself the first one stays.
    The cap depends on the territory, so with one each partner counts once, as in _rank.
    """
    # The hot loop of routing: kept flat, with locals, because it runs for every lead.
    max_rank, min_cert = _requirement(segment)
    loads = load.partners
    midpoint = index.fairness_midpoint_s
    fairness_points = index.fairness_points
    capping = index.config.fairness_cap is not None
    best: Ranked | None = None
    best_capped: Ranked | None = None
    bar = NEVER  # the best score found, among partners under the cap
    seen: set[int] = set()
    for group in groups:
        for entry in group:
            pid, bound, fixed, per_unit, rank, cert, capacity, _ = entry
            if bound < bar:
                break
            if capping:
                if pid in seen:
                    continue
                seen.add(pid)
            if rank > max_rank or cert < min_cert or pid in had:
                continue
            partner_load = loads.get(pid)
            if partner_load is None:
                if capacity <= 0:
                    continue
                item = (-bound, NEVER, pid, entry, 0, None, 1.0)
            else:
                busy = partner_load.open_offers + partner_load.accepted_open
                if busy >= capacity:
                    continue
                last = partner_load.last_offered_at
                if last is None:
                    fairness, order = 1.0, NEVER
                else:
                    age = (now - last).total_seconds()
                    if age < 0.0:
                        age = 0.0
                    fairness, order = age / (age + midpoint), -age
                score = fixed - per_unit * busy + fairness_points * fairness
                item = (-score, order, pid, entry, busy, last, fairness)
            if capping and _over_cap(index, item, load):
                if best_capped is None or item < best_capped:
                    best_capped = item
            elif best is None or (item < best and pid != best[2]):
                best = item
                bar = -item[0]
    return best if best is not None else best_capped


def _rank(
    index: RoutingIndex, lead: LeadFacts, load: Load, now: datetime, segment: Segment | None
) -> tuple[list[Ranked], list[Ranked]]:
    """Every eligible partner in order, and those left out by the fairness cap."""
    ranked = _eligible(index, index.groups(lead), segment, lead.partners_had, load, now)
    capped: list[Ranked] = []
    if index.config.fairness_cap is not None:
        ranked, capped = _apply_cap(index, ranked, load)
    ranked.sort()
    capped.sort()
    return ranked, capped


def _eligible(
    index: RoutingIndex,
    groups: Iterable[Sequence[Entry]],
    segment: Segment | None,
    had: frozenset[int],
    load: Load,
    now: datetime,
) -> list[Ranked]:
    """Every eligible partner, each judged on its most specific territory, unsorted."""
    max_rank, min_cert = _requirement(segment)
    midpoint = index.fairness_midpoint_s
    ranked: list[Ranked] = []
    seen: set[int] = set()
    for group in groups:
        for entry in group:
            pid, _, fixed, per_unit, rank, cert, capacity, _ = entry
            if pid in seen:
                continue
            seen.add(pid)
            if rank > max_rank or cert < min_cert or pid in had:
                continue
            partner_load = load.partners.get(pid, NO_LOAD)
            busy = partner_load.busy
            if busy >= capacity:
                continue
            last = partner_load.last_offered_at
            if last is None:
                fairness, order = 1.0, NEVER
            else:
                age = max((now - last).total_seconds(), 0.0)
                fairness, order = age / (age + midpoint), -age
            score = fixed - per_unit * busy + index.fairness_points * fairness
            ranked.append((-score, order, pid, entry, busy, last, fairness))
    return ranked


def _over_cap(index: RoutingIndex, item: Ranked, load: Load) -> bool:
    cap = index.config.fairness_cap
    offers = load.territory_offers.get(item[3][TERRITORY_ID])
    if cap is None or offers is None or offers.total <= 0 or offers.total < cap.min_offers:
        return False
    return offers.by_partner.get(item[2], 0) >= cap.max_share * offers.total


def _apply_cap(
    index: RoutingIndex, ranked: list[Ranked], load: Load
) -> tuple[list[Ranked], list[Ranked]]:
    """Leaves out the partners over the fairness cap, unless that would leave nobody."""
    under, over = [], []
    for item in ranked:
        (over if _over_cap(index, item, load) else under).append(item)
    if not over or not under:
        return ranked, []
    return under, over


def _fallback(index: RoutingIndex, lead: LeadFacts) -> tuple[Outcome, int | None, Reason | None]:
    fallback = index.config.fallback
    if fallback.kind == FallbackKind.DIRECT_SALES:
        return Outcome.DIRECT_SALES, None, None
    if fallback.kind != FallbackKind.PARTNER or fallback.partner_id is None:
        return Outcome.UNROUTABLE, None, None
    partner = index.partners.get(fallback.partner_id)
    # The fallback partner takes the lead whatever its load, territory or products: it is
    # the tenant's own choice for what nobody else can take. It must be able to answer,
    # and an offer goes to a partner at most once.
    if partner is None or partner.status != ACTIVE:
        return Outcome.UNROUTABLE, None, Reason.INACTIVE
    if partner.id in lead.partners_had:
        return Outcome.UNROUTABLE, None, Reason.ALREADY_HAD
    return Outcome.FALLBACK_PARTNER, partner.id, None


def _segment_dict(segment: Segment | None, index: RoutingIndex) -> dict[str, Any] | None:
    if segment is None:
        return None
    return {
        "name": segment.name,
        "basis": segment.basis,
        "min_value": segment.min_value,
        "max_value": segment.max_value,
        "currency": segment.currency,
        "min_tier_rank": segment.min_tier_rank,
        "min_tier": index.tier_name(segment.min_tier_rank) or None,
        "min_certification": segment.min_certification,
    }
