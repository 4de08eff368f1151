"""What-if simulation: a month of leads re-routed under a simulated load, in memory.

Run: .venv/bin/python bench/whatif.py
BENCH_PARTNERS (10,000) and BENCH_LEADS (50,000, the most a simulation takes) change the
sizes. Pure: the generated tenant of bench/routing_world.py goes straight into the engine's
values, so no database is needed.
"""

from __future__ import annotations

import json
import os
import random
import time
from datetime import timedelta
from typing import Any

from routing_world import NOW, World, generate

from portal.routing.facts import LeadFacts, PartnerConfig, RoutingConfig, TerritoryConfig
from portal.routing.index import build_index
from portal.routing.segments import Segment
from portal.routing.whatif import Draft, PartnerChange, PastLead, apply_draft, simulate

PARTNERS = int(os.environ.get("BENCH_PARTNERS", "10000"))
LEADS = int(os.environ.get("BENCH_LEADS", "50000"))
PERIOD = timedelta(days=30)
# 16 business hours of a 40-hour week, as portal.routing.simulation spreads them.
HOLD = timedelta(hours=16 * 168 / 40)
# A simulation runs in its request: the largest one (both simulations and the drafted
# index) should stay well inside gunicorn's default 30-second worker timeout.
TARGET_SECONDS = 10.0


def config_of(world: World) -> RoutingConfig:
    tiers = {t["id"]: t for t in world.tiers}
    covered: dict[int, list[int]] = {}
    for row in world.partner_territories:
        covered.setdefault(row["partner_id"], []).append(row["territory_id"])
    selling: dict[int, dict[int, int]] = {}
    for row in world.partner_products:
        selling.setdefault(row["partner_id"], {})[row["product_id"]] = row["certification"]
    partners = tuple(
        PartnerConfig(
            p["id"], p["name"], p["status"], p["capacity"],
            tiers[p["tier_id"]]["rank"], tiers[p["tier_id"]]["routing_weight"],
            tiers[p["tier_id"]]["name"], world.quality[p["id"]],
            tuple(covered.get(p["id"], ())), selling.get(p["id"], {}),
        )
        for p in world.partners
    )  # fmt: skip
    territories = tuple(
        TerritoryConfig(
            t["id"], t["kind"], t["code"], t["name"], t["country"], t["subdivision"],
            t["postal_prefix"], tuple(t["region_countries"]),
        )
        for t in world.territories
    )  # fmt: skip
    segments = tuple(
        Segment(
            s["name"], s["basis"], s["min_value"], s["max_value"], s["currency"],
            tiers[s["min_tier_id"]]["rank"] if s["min_tier_id"] else None, s["min_certification"],
        )
        for s in world.segments
    )  # fmt: skip
    return RoutingConfig(1, partners, territories, segments)


def past_leads(world: World) -> list[PastLead]:
    rng = random.Random(3)
    start = NOW - PERIOD
    return [
        PastLead(
            start + timedelta(seconds=rng.randrange(int(PERIOD.total_seconds()))),
            LeadFacts(
                product_id=lead["product_id"],
                country=lead["country"],
                subdivision=lead["subdivision"],
                postal_code=lead["postal_code"],
                employees=lead["employees"],
                deal_size_minor=lead["deal_size_minor"],
                currency=lead["currency"],
            ),
        )
        for lead in world.leads
    ]


def timed(work: Any) -> tuple[float, Any]:
    """Wall-clock seconds of the best of three runs, and the result."""
    best, result = float("inf"), None
    for _ in range(3):
        began = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - began)
    return best, result


def main() -> None:
    world = generate(PARTNERS, LEADS)
    config = config_of(world)
    leads = past_leads(world)
    hold = {p.id: HOLD for p in config.partners}
    # A draft of the size a channel manager makes: a hundred partners paused, one given
    # more room.
    paused = [PartnerChange(pid, status="paused") for pid in range(1, 101)]
    draft = Draft(partners=(*paused, PartnerChange(101, capacity=80)))
    index = build_index(config)
    baseline_s, baseline = timed(lambda: simulate(index, leads, hold))
    drafted_s, drafted = timed(
        lambda: simulate(build_index(apply_draft(config, draft)), leads, hold)
    )
    total = baseline_s + drafted_s
    print(f"{LEADS:,} leads over {PERIOD.days} days, {PARTNERS:,} partners")
    print(f"baseline simulation: {baseline_s:.2f} s ({LEADS / baseline_s:,.0f} leads/s)")
    print(f"drafted simulation (index rebuilt): {drafted_s:.2f} s")
    print(f"both, as one run does: {total:.2f} s; target at most {TARGET_SECONDS} s: "
          f"{'met' if total <= TARGET_SECONDS else 'NOT met'}")  # fmt: skip
    print(
        json.dumps(
            {
                "leads": LEADS,
                "partners": PARTNERS,
                "baseline_s": round(baseline_s, 3),
                "drafted_s": round(drafted_s, 3),
                "target_s": TARGET_SECONDS,
                "unroutable": [baseline.unroutable, drafted.unroutable],
            }
        )
    )


if __name__ == "__main__":
    main()
