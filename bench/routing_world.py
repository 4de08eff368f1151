"""The generated tenant of bench/routing.py: partners, coverage, leads and offers as rows.

Deterministic (random.Random(seed)); ids are assigned here, so the same rows can be
written to the database and compared with what routing reads back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pycountry

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# Country: weight of its share of partners and leads.
COUNTRIES = {
    "US": 20, "DE": 12, "GB": 8, "FR": 8, "JP": 8, "IT": 6, "ES": 5, "CA": 5, "BR": 5,
    "AU": 4, "MX": 4, "PL": 3, "NL": 3, "CH": 2, "AT": 2, "BE": 2, "SE": 2, "DK": 1,
    "NO": 1, "FI": 1,
}  # fmt: skip
REGIONS = {
    "DACH": ["AT", "CH", "DE"],
    "BENELUX": ["BE", "NL"],
    "NORDICS": ["DK", "FI", "NO", "SE"],
    "EU": ["AT", "BE", "DE", "DK", "ES", "FI", "FR", "IT", "NL", "PL", "SE"],
    "AMERICAS": ["BR", "CA", "MX", "US"],
    "APAC": ["AU", "JP"],
}
# (name, rank, routing weight, share of partners)
TIERS = (
    ("Platinum", 1, 30, 5),
    ("Gold", 2, 20, 15),
    ("Silver", 3, 10, 35),
    ("Registered", 4, 0, 45),
)
PRODUCTS = 20
# How a coverage row's territory is chosen: mostly local resellers, few global ones.
KIND_WEIGHTS = {"postal": 56, "subdivision": 33, "country": 10, "region": 0.8, "global": 0.2}
CERTIFICATION_WEIGHTS = (30, 35, 25, 10)
THREE_DIGIT_PREFIXES = 100  # per country, beside every two-digit prefix


@dataclass
class World:
    tiers: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    territories: list[dict[str, Any]] = field(default_factory=list)
    partners: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[int, int | None] = field(default_factory=dict)
    partner_territories: list[dict[str, Any]] = field(default_factory=list)
    partner_products: list[dict[str, Any]] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def coverage_rows(self) -> int:
        return len(self.partner_territories) + len(self.partner_products)


def _subdivisions() -> dict[str, list[str]]:
    return {
        c: sorted(s.code for s in pycountry.subdivisions.get(country_code=c) if not s.parent_code)
        for c in COUNTRIES
    }


def _territories(world: World, rng: random.Random, subdivisions: dict[str, list[str]]) -> dict:
    """Every territory, and by kind the ids a coverage row can pick from."""

    def add(kind: str, code: str, **place: Any) -> int:
        tid = len(world.territories) + 1
        row = {"id": tid, "code": code, "name": code, "kind": kind, "country": None}
        row.update({"subdivision": None, "postal_prefix": None, "region_countries": []})
        world.territories.append({**row, **place})
        return tid

    pick: dict[str, Any] = {"global": [add("global", "GLOBAL")], "region": {}, "country": {}}
    pick.update({"subdivision": {}, "postal": {}})
    for name, members in REGIONS.items():
        tid = add("region", name, region_countries=members)
        for member in members:
            pick["region"].setdefault(member, []).append(tid)
    for country in COUNTRIES:
        pick["country"][country] = [add("country", country, country=country)]
        pick["subdivision"][country] = [
            add("subdivision", code, country=country, subdivision=code)
            for code in subdivisions[country]
        ]
        prefixes = [f"{n}" for n in range(10, 100)]
        prefixes += [f"{n}" for n in rng.sample(range(100, 1000), THREE_DIGIT_PREFIXES)]
        pick["postal"][country] = [
            add("postal", f"{country}-PC{p}", country=country, postal_prefix=p) for p in prefixes
        ]
    return pick


def _partners(world: World, rng: random.Random, count: int, pick: dict) -> None:
    countries, weights = list(COUNTRIES), list(COUNTRIES.values())
    kinds, kind_weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    tier_ids = [t["id"] for t in world.tiers]
    tier_weights = [share for *_, share in TIERS]
    for pid in range(1, count + 1):
        home = rng.choices(countries, weights)[0]
        world.partners.append(
            {
                "id": pid,
                "name": f"Partner {pid:05d}",
                "tier_id": rng.choices(tier_ids, tier_weights)[0],
                "status": rng.choices(["active", "paused", "suspended"], [94, 4, 2])[0],
                "capacity": rng.randint(3, 40),
                "country": home,
            }
        )
        world.quality[pid] = None if rng.random() < 0.2 else rng.randint(20, 95)
        covered: set[int] = set()
        for _ in range(rng.randint(1, 4)):
            kind = rng.choices(kinds, kind_weights)[0]
            where = home if rng.random() < 0.8 else rng.choices(countries, weights)[0]
            options = pick[kind] if kind == "global" else pick[kind].get(where, pick["global"])
            covered.add(rng.choice(options))
        world.partner_territories += [{"partner_id": pid, "territory_id": t} for t in covered]
        for product in rng.sample(range(1, PRODUCTS + 1), rng.randint(1, 4)):
            level = rng.choices(range(4), CERTIFICATION_WEIGHTS)[0]
            world.partner_products.append(
                {"partner_id": pid, "product_id": product, "certification": level}
            )


def _leads(world: World, rng: random.Random, count: int, subdivisions: dict) -> None:
    countries, weights = list(COUNTRIES), list(COUNTRIES.values())
    for lid in range(1, count + 1):
        country = rng.choices(countries, weights)[0]
        has_deal = rng.random() < 0.5
        world.leads.append(
            {
                "id": lid,
                "company_name": f"Company {lid}",
                "country": country,
                "subdivision": rng.choice(subdivisions[country]) if rng.random() < 0.9 else None,
                "postal_code": f"{rng.randrange(10_000, 100_000)}" if rng.random() < 0.95 else None,
                "product_id": rng.randint(1, PRODUCTS),
                "employees": int(10 ** rng.uniform(0, 4.7)),
                "deal_size_minor": rng.randrange(100_000, 50_000_000) if has_deal else None,
                "currency": "EUR" if has_deal else None,
                "state": "mql",
            }
        )


def _offers(world: World, rng: random.Random) -> None:
    """A current offer for most leads and a rejected or expired one for some, within capacity."""
    capacity = {p["id"]: p["capacity"] for p in world.partners}
    busy = dict.fromkeys(capacity, 0)
    selling: dict[int, list[int]] = {}
    for row in world.partner_products:
        selling.setdefault(row["product_id"], []).append(row["partner_id"])
    active = [p["id"] for p in world.partners if p["status"] == "active"]

    def offer(lead: dict, pid: int, state: str) -> None:
        at = NOW - timedelta(seconds=rng.randrange(3_600, 60 * 86_400))
        world.offers.append(
            {
                "lead_id": lead["id"],
                "partner_id": pid,
                "state": state,
                "offered_at": at,
                "due_at": at + timedelta(days=2),
            }
        )

    for lead in world.leads:
        earlier = None
        if rng.random() < 0.15:
            earlier = rng.choice(selling[lead["product_id"]])
            offer(lead, earlier, rng.choice(["rejected", "expired"]))
        if rng.random() < 0.6:
            pid = rng.choice(active)
            if pid == earlier or busy[pid] >= capacity[pid]:
                continue
            state = "open" if rng.random() < 0.5 else "accepted"
            lead["state"] = (
                "offered" if state == "open" else rng.choice(["accepted", "sql", "won", "lost"])
            )
            if lead["state"] not in ("won", "lost"):
                busy[pid] += 1
            offer(lead, pid, state)


def generate(partners: int, leads: int, seed: int = 7) -> World:
    """A tenant with the given numbers of partners and leads, the same for the same seed."""
    rng = random.Random(seed)
    world = World()
    world.tiers = [
        {"id": n, "name": name, "rank": rank, "routing_weight": weight}
        for n, (name, rank, weight, _) in enumerate(TIERS, start=1)
    ]
    world.products = [{"id": n, "code": f"P{n:02d}"} for n in range(1, PRODUCTS + 1)]
    subdivisions = _subdivisions()
    pick = _territories(world, rng, subdivisions)
    _partners(world, rng, partners, pick)
    _leads(world, rng, leads, subdivisions)
    _offers(world, rng)
    world.segments = [
        {"name": "Enterprise", "basis": "employees", "min_value": 1000, "max_value": None,
         "currency": None, "min_tier_id": 2, "min_certification": None},
        {"name": "Mid-market", "basis": "employees", "min_value": 200, "max_value": 1000,
         "currency": None, "min_tier_id": 3, "min_certification": None},
        {"name": "Large deals", "basis": "deal_size", "min_value": 10_000_000, "max_value": None,
         "currency": "EUR", "min_tier_id": None, "min_certification": 2},
    ]  # fmt: skip
    return world
