"""An index of one tenant's routing configuration, built once per configuration version.

Coverage is filed by product and by place, so routing one lead reads only the partners
that cover its product in one of the places that contain it: the postal prefixes of its
postal code (longest first), its subdivision, its country, the regions its country
belongs to, and global. Within each place, partners are in order of the points they
would score with no load, so routing can stop reading a place once nobody left in it
could beat the best partner found. Pure Python.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from portal.partners.territory_rules import KINDS
from portal.routing.facts import (
    ACTIVE,
    MAX_QUALITY,
    MAX_TIER_WEIGHT,
    LeadFacts,
    PartnerConfig,
    RoutingConfig,
    TerritoryConfig,
    postal_key,
)
from portal.routing.segments import DEAL_SIZE, EMPLOYEES, Segment, segment_for

# The territory term: how well a kind of territory fits a lead, in steps of a quarter from
# global (0) to a postal prefix; a one-character prefix fits 0.8, each further character
# adds 0.05, up to 1 for five.
KIND_FIT = {kind: step / 4 for step, kind in enumerate(KINDS)} | {"postal": 0.8}
POSTAL_FIT_PER_CHARACTER = 0.05
POSTAL_FIT_CHARACTERS = 5

# The fields of an entry of the routing fast path, a plain tuple because one decision reads
# dozens of them: partner id; the most points it could score (idle and never offered a
# lead); the points that do not depend on load (its territory, tier and quality terms, plus
# the capacity term of an idle partner); the points one unit of load costs; tier rank;
# certification in the product; capacity; territory id.
Entry = tuple[int, float, float, float, int, int, int, int]
TERRITORY_ID = 7


def territory_fit(territory: TerritoryConfig) -> float:
    """The territory term of a partner matched through this territory, from 0 to 1."""
    fit = KIND_FIT.get(territory.kind, 0.0)
    if territory.kind == "postal":
        length = min(len(postal_key(territory.postal_prefix)), POSTAL_FIT_CHARACTERS)
        fit += POSTAL_FIT_PER_CHARACTER * (length - 1)
    return fit


def _facts(territory: TerritoryConfig) -> dict[str, Any]:
    return {
        "territory_id": territory.id,
        "code": territory.code,
        "name": territory.name,
        "kind": territory.kind,
        "country": territory.country,
        "subdivision": territory.subdivision,
        "postal_prefix": territory.postal_prefix,
        "region_countries": list(territory.region_countries),
    }


class Places:
    """Items filed by the places that contain them; matching() gives the most specific first."""

    __slots__ = ("by_prefix", "country", "everywhere", "postal", "region", "subdivision")

    def __init__(self) -> None:
        self.by_prefix: dict[str, dict[str, Any]] = {}  # country -> prefix -> items
        # country -> (prefix lengths, longest first; prefix -> items)
        self.postal: dict[str, tuple[tuple[int, ...], dict[str, Any]]] = {}
        self.subdivision: dict[str, Any] = {}
        self.country: dict[str, Any] = {}
        self.region: dict[str, Any] = {}  # member country -> items of every region holding it
        self.everywhere: Any = []

    def add(self, territory: TerritoryConfig, item: Any) -> None:
        kind = territory.kind
        if kind == "global":
            self.everywhere.append(item)
        elif kind == "region":
            for member in set(territory.region_countries):
                self.region.setdefault(member, []).append(item)
        elif kind == "country" and territory.country:
            self.country.setdefault(territory.country, []).append(item)
        elif kind == "subdivision" and territory.subdivision:
            self.subdivision.setdefault(territory.subdivision, []).append(item)
        elif kind == "postal" and territory.country and postal_key(territory.postal_prefix):
            by_prefix = self.by_prefix.setdefault(territory.country, {})
            by_prefix.setdefault(postal_key(territory.postal_prefix), []).append(item)

    def freeze(self, order: Callable[[Any], Any]) -> None:
        """Sorts each place's items and makes them tuples; no add() after this."""

        def frozen(items: list[Any]) -> tuple[Any, ...]:
            return tuple(sorted(items, key=order))

        for country, by_prefix in self.by_prefix.items():
            for prefix, items in by_prefix.items():
                by_prefix[prefix] = frozen(items)
            lengths = tuple(sorted({len(p) for p in by_prefix}, reverse=True))
            self.postal[country] = (lengths, by_prefix)
        for table in (self.subdivision, self.country, self.region):
            for key, items in table.items():
                table[key] = frozen(items)
        self.everywhere = frozen(self.everywhere)

    def matching(self, place: tuple[str, str, str]) -> list[Sequence[Any]]:
        """The item groups of every place holding a lead's place (LeadFacts.place), the most
        specific first."""
        country, subdivision, postal = place
        groups: list[Sequence[Any]] = []
        if postal:
            postal_places = self.postal.get(country)
            if postal_places is not None:
                lengths, by_prefix = postal_places
                size = len(postal)
                for length in lengths:
                    if length <= size:
                        found = by_prefix.get(postal[:length])
                        if found:
                            groups.append(found)
        found = self.subdivision.get(subdivision)
        if found:
            groups.append(found)
        found = self.country.get(country)
        if found:
            groups.append(found)
        found = self.region.get(country)
        if found:
            groups.append(found)
        if self.everywhere:
            groups.append(self.everywhere)
        return groups


class SegmentTable:
    """segment_for over one basis (and currency), as a lookup by bisection.

    The bounds of the rules cut the number line into intervals in which the same rules
    match; segment_for picks each interval's rule once, at build time.
    """

    def __init__(self, segments: Sequence[Segment], basis: str, currency: str | None) -> None:
        own = [s for s in segments if s.basis == basis and s.currency == currency]
        bounds = sorted(
            {0} | {s.min_value for s in own} | {s.max_value for s in own if s.max_value}
        )
        self.starts = bounds
        if basis == EMPLOYEES:
            self.found = [segment_for(own, value, None, None) for value in bounds]
        else:
            self.found = [segment_for(own, None, value, currency) for value in bounds]

    def find(self, value: int) -> Segment | None:
        if value < 0:
            return None
        return self.found[bisect_right(self.starts, value) - 1]


class RoutingIndex:
    """A tenant's configuration arranged for routing; read-only once built."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.version = config.version
        self.partners: dict[int, PartnerConfig] = {p.id: p for p in config.partners}
        # What explanations call partners, made once rather than per decision.
        self.partner_names: dict[int, str] = {p.id: p.name for p in config.partners}
        self.territories: dict[int, TerritoryConfig] = {t.id: t for t in config.territories}
        self.segments: tuple[Segment, ...] = tuple(config.segments)
        self.points = config.weights.points()
        self.fairness_points = self.points["fairness"]
        self.fairness_midpoint_s = max(config.fairness_midpoint.total_seconds(), 1.0)
        self.tier_names = {p.tier_rank: p.tier_name for p in config.partners if p.tier_name}
        # Active partners covering a product, by place: the fast path of route().
        self.by_product: dict[int, Places] = {}
        # Every partner by place whatever it sells, and by product wherever it is: who was
        # considered, for the explanation of who was left out.
        self.any_product = Places()
        self.product_partners: dict[int, tuple[int, ...]] = {}
        self._file_coverage()
        self._territory_places = Places()
        for territory in config.territories:
            self._territory_places.add(territory, territory.id)
        self._territory_places.freeze(order=lambda tid: tid)
        # What explanations say of a territory, made once rather than per decision.
        self.territory_facts = {t.id: _facts(t) for t in config.territories}
        self._employee_table = SegmentTable(self.segments, EMPLOYEES, None)
        self._deal_tables = {
            currency: SegmentTable(self.segments, DEAL_SIZE, currency)
            for currency in {
                s.currency for s in self.segments if s.basis == DEAL_SIZE and s.currency
            }
        }

    def _file_coverage(self) -> None:
        product_partners: dict[int, set[int]] = {}
        for partner in self.config.partners:
            territories = [
                self.territories[t] for t in partner.territory_ids if t in self.territories
            ]
            for territory in territories:
                self.any_product.add(territory, (partner.id, territory.id))
            for product_id, certification in partner.products.items():
                product_partners.setdefault(product_id, set()).add(partner.id)
                if partner.status != ACTIVE:
                    continue
                places = self.by_product.setdefault(product_id, Places())
                for territory in territories:
                    places.add(territory, self._entry(partner, territory, certification))
        self.any_product.freeze(order=lambda item: item)
        for places in self.by_product.values():
            places.freeze(order=lambda entry: (-entry[1], entry[0], entry[TERRITORY_ID]))
        self.product_partners = {k: tuple(sorted(v)) for k, v in product_partners.items()}

    def _entry(
        self, partner: PartnerConfig, territory: TerritoryConfig, certification: int
    ) -> Entry:
        points = self.points
        fixed = (
            points["territory"] * territory_fit(territory)
            + points["tier"] * partner.tier_weight / MAX_TIER_WEIGHT
            + points["quality"] * partner.quality_or_neutral / MAX_QUALITY
            + points["capacity"]
        )
        per_unit = points["capacity"] / partner.capacity if partner.capacity > 0 else 0.0
        return (
            partner.id,
            fixed + self.fairness_points,
            fixed,
            per_unit,
            partner.tier_rank,
            certification,
            partner.capacity,
            territory.id,
        )

    def segment(self, lead: LeadFacts) -> Segment | None:
        """The segment rule that applies to the lead, if any (as segments.segment_for says)."""
        if not self.segments:
            return None
        if lead.deal_size_minor is not None and lead.currency:
            table = self._deal_tables.get(lead.currency.upper())
            found = table.find(lead.deal_size_minor) if table else None
            if found is not None:
                return found
        if lead.employees is not None:
            return self._employee_table.find(lead.employees)
        return None

    def groups(self, lead: LeadFacts) -> list[Sequence[Entry]]:
        """The entries of the active partners selling the lead's product, by place, most
        specific place first."""
        places = self.by_product.get(lead.product_id)  # type: ignore[arg-type]
        return places.matching(lead.place) if places is not None else []

    def territories_holding(self, lead: LeadFacts) -> tuple[int, ...]:
        """The ids of every territory holding the lead's place, the most specific first.

        Callers count the fairness window's offers of these territories (Load.territory_offers).
        """
        groups = self._territory_places.matching(lead.place)
        return tuple(tid for group in groups for tid in group)

    def tier_name(self, rank: int | None) -> str:
        if rank is None:
            return ""
        return self.tier_names.get(rank) or f"tier rank {rank}"


def build_index(config: RoutingConfig) -> RoutingIndex:
    """The routing index of a configuration snapshot."""
    return RoutingIndex(config)


class IndexCache:
    """The latest index per tenant, rebuilt when the caller's configuration version moves on.

    load_config is called only on a miss, so the caller reads its rows only then. Safe to
    share between threads: a miss builds under a lock, so one build serves them all.
    """

    def __init__(self) -> None:
        self._indexes: dict[Hashable, RoutingIndex] = {}
        self._lock = threading.Lock()

    def get(
        self, key: Hashable, version: int, load_config: Callable[[], RoutingConfig]
    ) -> RoutingIndex:
        """The index of key at version, built from load_config() if not already held."""
        index = self._indexes.get(key)
        if index is not None and index.version == version:
            return index
        with self._lock:
            index = self._indexes.get(key)
            if index is None or index.version != version:
                index = build_index(load_config())
                self._indexes[key] = index
        return index

    def forget(self, keys: Iterable[Hashable]) -> None:
        for key in keys:
            self._indexes.pop(key, None)
