"""What-if routing: a drafted configuration change, applied to a snapshot and run over past leads.

A Draft names what changes (weights, fallback, partners' capacity, status, coverage and
certifications, segment rules); apply_draft() gives the configuration it would make.
simulate() routes a period's leads through the engine in time order, as if each had been
routed when it actually was, with a load the simulation keeps itself: every offer holds a
slot of its partner for the partner's hold time (its SLA response time, say), and counts
for fairness and the fairness cap. Partners start the period with no open offers, and a
lead is routed once (its first routing), so results are comparisons, not forecasts.

Pure: standard library and the routing engine only.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from portal.routing.engine import Outcome, route
from portal.routing.facts import (
    Fallback,
    FallbackKind,
    LeadFacts,
    Load,
    PartnerConfig,
    PartnerLoad,
    RoutingConfig,
    TerritoryOffers,
    Weights,
)
from portal.routing.index import RoutingIndex
from portal.routing.segments import Segment

# When a partner's hold time is not given: the live default SLA (portal.routing.dispatch).
DEFAULT_HOLD = timedelta(hours=48)


@dataclass(frozen=True)
class PartnerChange:
    """What changes of one partner; None or empty: unchanged."""

    partner_id: int
    capacity: int | None = None
    status: str | None = None
    territories_added: frozenset[int] = frozenset()
    territories_removed: frozenset[int] = frozenset()
    # product id -> certification (0-3) the partner would hold in it
    products_added: Mapping[int, int] = field(default_factory=dict)
    products_removed: frozenset[int] = frozenset()


@dataclass(frozen=True)
class SegmentChange:
    """A segment rule set (added, or replaced by name) or, with segment None, removed."""

    name: str
    segment: Segment | None


@dataclass(frozen=True)
class Draft:
    """A configuration change that is only tried, never saved."""

    weights: Weights | None = None
    fallback: Fallback | None = None
    partners: tuple[PartnerChange, ...] = ()
    segments: tuple[SegmentChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self == Draft()

    def to_dict(self) -> dict[str, Any]:
        """The draft as JSON-ready values; from_dict() reads them back."""
        return {
            "weights": asdict(self.weights) if self.weights is not None else None,
            "fallback": (
                {"kind": str(self.fallback.kind), "partner_id": self.fallback.partner_id}
                if self.fallback is not None
                else None
            ),
            "partners": [_partner_change_dict(c) for c in self.partners],
            "segments": [
                {"name": c.name, "segment": asdict(c.segment) if c.segment else None}
                for c in self.segments
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Draft:
        fallback = data.get("fallback")
        return cls(
            weights=Weights(**data["weights"]) if data.get("weights") else None,
            fallback=(
                Fallback(FallbackKind(fallback["kind"]), fallback["partner_id"])
                if fallback
                else None
            ),
            partners=tuple(_partner_change(c) for c in data.get("partners", ())),
            segments=tuple(
                SegmentChange(c["name"], Segment(**c["segment"]) if c["segment"] else None)
                for c in data.get("segments", ())
            ),
        )


def _partner_change_dict(change: PartnerChange) -> dict[str, Any]:
    return {
        "partner_id": change.partner_id,
        "capacity": change.capacity,
        "status": change.status,
        "territories_added": sorted(change.territories_added),
        "territories_removed": sorted(change.territories_removed),
        "products_added": {str(k): v for k, v in sorted(change.products_added.items())},
        "products_removed": sorted(change.products_removed),
    }


def _partner_change(data: Mapping[str, Any]) -> PartnerChange:
    return PartnerChange(
        partner_id=data["partner_id"],
        capacity=data.get("capacity"),
        status=data.get("status"),
        territories_added=frozenset(data.get("territories_added", ())),
        territories_removed=frozenset(data.get("territories_removed", ())),
        products_added={int(k): v for k, v in data.get("products_added", {}).items()},
        products_removed=frozenset(data.get("products_removed", ())),
    )


def _changed_partner(partner: PartnerConfig, change: PartnerChange) -> PartnerConfig:
    territories = [t for t in partner.territory_ids if t not in change.territories_removed]
    territories += sorted(set(change.territories_added) - set(territories))
    products = {
        pid: cert for pid, cert in partner.products.items() if pid not in change.products_removed
    }
    products.update(change.products_added)
    return replace(
        partner,
        capacity=partner.capacity if change.capacity is None else change.capacity,
        status=partner.status if change.status is None else change.status,
        territory_ids=tuple(territories),
        products=products,
    )


def _changed_segments(
    segments: Sequence[Segment], changes: Iterable[SegmentChange]
) -> tuple[Segment, ...]:
    by_name = {s.name.lower(): s for s in segments}
    for change in changes:
        by_name.pop(change.name.lower(), None)
        if change.segment is not None:
            by_name[change.segment.name.lower()] = change.segment
    return tuple(by_name.values())


def apply_draft(config: RoutingConfig, draft: Draft) -> RoutingConfig:
    """The configuration the draft would make of config (same version: it is never saved)."""
    changes = {change.partner_id: change for change in draft.partners}
    partners = tuple(
        _changed_partner(p, changes[p.id]) if p.id in changes else p for p in config.partners
    )
    return replace(
        config,
        partners=partners,
        segments=_changed_segments(config.segments, draft.segments),
        weights=draft.weights if draft.weights is not None else config.weights,
        fallback=draft.fallback if draft.fallback is not None else config.fallback,
    )


# Simulation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PastLead:
    """A lead as routing first saw it, and when."""

    at: datetime  # timezone-aware UTC
    facts: LeadFacts


@dataclass(frozen=True)
class SimulationResult:
    """Where the leads went: offers per partner (fallback offers included), and the rest.

    peak_busy: the most offers each partner held at once, for checking capacity.
    """

    leads: int
    offered: Mapping[int, int]
    fallback: int
    direct_sales: int
    unroutable: int
    peak_busy: Mapping[int, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "leads": self.leads,
            "offered": {str(k): v for k, v in sorted(self.offered.items())},
            "fallback": self.fallback,
            "direct_sales": self.direct_sales,
            "unroutable": self.unroutable,
        }


class _SimulatedLoad:
    """Offers held by partners, released when their hold time is up; the fairness window."""

    def __init__(self, index: RoutingIndex, hold: Mapping[int, timedelta]) -> None:
        self.index = index
        self.hold = hold
        self.partners: dict[int, PartnerLoad] = {}
        self.releases: list[tuple[datetime, int]] = []  # (when, partner id), a heap
        self.peak: dict[int, int] = {}
        cap = index.config.fairness_cap
        self.window = cap.window if cap is not None else None
        self.offers_by_territory: dict[int, deque[tuple[datetime, int]]] = {}
        # One Load over the mapping this keeps up to date: the engine reads it as it is.
        self.load = Load(partners=self.partners)

    def at(self, now: datetime, lead: LeadFacts) -> Load:
        """The load at now: releases due by then are done; the lead's territories counted."""
        while self.releases and self.releases[0][0] <= now:
            _, pid = heapq.heappop(self.releases)
            known = self.partners[pid]
            self.partners[pid] = PartnerLoad(
                known.open_offers - 1, known.accepted_open, known.last_offered_at
            )
        if self.window is None:
            return self.load
        offers = {}
        for tid in self.index.territories_holding(lead):
            window = self.offers_by_territory.get(tid)
            if not window:
                continue
            while window and window[0][0] < now - self.window:
                window.popleft()
            by: dict[int, int] = {}
            for _, pid in window:
                by[pid] = by.get(pid, 0) + 1
            offers[tid] = TerritoryOffers(len(window), by)
        return Load(partners=self.partners, territory_offers=offers)

    def offer(self, pid: int, territory_id: int | None, now: datetime) -> None:
        known = self.partners.get(pid, PartnerLoad())
        busy = known.open_offers + 1
        self.partners[pid] = PartnerLoad(busy, known.accepted_open, now)
        self.peak[pid] = max(self.peak.get(pid, 0), busy)
        heapq.heappush(self.releases, (now + self.hold.get(pid, DEFAULT_HOLD), pid))
        if self.window is not None and territory_id is not None:
            self.offers_by_territory.setdefault(territory_id, deque()).append((now, pid))


def simulate(
    index: RoutingIndex, leads: Iterable[PastLead], hold: Mapping[int, timedelta]
) -> SimulationResult:
    """Route the leads in time order through the engine under a simulated load.

    hold gives, per partner id, how long an offer keeps one of its slots (DEFAULT_HOLD if
    missing); an offer counts for fairness from the moment it is made.
    """
    ordered = sorted(leads, key=lambda lead: lead.at)
    load = _SimulatedLoad(index, hold)
    offered: dict[int, int] = {}
    counts = {Outcome.FALLBACK_PARTNER: 0, Outcome.DIRECT_SALES: 0, Outcome.UNROUTABLE: 0}
    for lead in ordered:
        decision = route(index, lead.facts, load.at(lead.at, lead.facts), lead.at)
        if decision.outcome != Outcome.ROUTED:
            counts[decision.outcome] += 1
        if decision.partner_id is None:
            continue
        territory_id = decision.winner_territory_id if load.window is not None else None
        offered[decision.partner_id] = offered.get(decision.partner_id, 0) + 1
        load.offer(decision.partner_id, territory_id, lead.at)
    return SimulationResult(
        leads=len(ordered),
        offered=offered,
        fallback=counts[Outcome.FALLBACK_PARTNER],
        direct_sales=counts[Outcome.DIRECT_SALES],
        unroutable=counts[Outcome.UNROUTABLE],
        peak_busy=dict(load.peak),
    )


# Words ----------------------------------------------------------------------------------------

FALLBACK_WORDS = {
    FallbackKind.NONE: "leads nobody can take wait in the unroutable queue",
    FallbackKind.DIRECT_SALES: "leads nobody can take go to direct sales",
}


def describe_fallback(fallback: Fallback, partner_names: Mapping[int, str]) -> str:
    if fallback.kind == FallbackKind.PARTNER:
        name = partner_names.get(fallback.partner_id or 0, f"partner {fallback.partner_id}")
        return f"leads nobody can take go to {name}"
    return FALLBACK_WORDS[fallback.kind]
