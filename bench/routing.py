"""Routing: the engine over its in-memory index against one SQL query per lead, on PostgreSQL.

Run: .venv/bin/python bench/routing.py
BENCH_PARTNERS (10,000), BENCH_LEADS (100,000) and BENCH_SQL_SAMPLE (2,000) change the sizes.
DATABASE_URL names the server (its admin database): the bench creates bench_routing_<random>,
migrates it, writes a generated tenant, measures, and drops it. REDIS_URL is accepted and
unused.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from common import admin_url
from routing_world import NOW, World, generate

from portal.extensions import db
from portal.leads.models import Lead, Offer
from portal.partners.models import (
    Partner,
    PartnerProduct,
    PartnerTerritory,
    Product,
    ProductLine,
    Territory,
    Tier,
)
from portal.routing.engine import Decision, Shown, route
from portal.routing.facts import (
    LeadFacts,
    Load,
    PartnerConfig,
    PartnerLoad,
    RoutingConfig,
    TerritoryConfig,
    Weights,
)
from portal.routing.index import RoutingIndex, build_index, postal_key
from portal.routing.models import RoutingSettings, SegmentRule
from portal.routing.segments import Segment
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.seeding import seed_defaults
from tests.databases import make_app, postgres_database

TARGET_DECISIONS_PER_S = 50_000
TARGET_P99_MS = 1.0
TARGET_SPEEDUP = 50
BATCH = 5_000
REPEATS = 3
EXPLAINED_SAMPLE = 500
# Quality scores have no table of their own yet; the bench keeps them beside the partners.
QUALITY_TABLE = "bench_partner_quality"


# Writing the tenant -------------------------------------------------------------------------


def write_world(tenant_id: int, world: World) -> None:
    """The generated rows, inserted with Core in batches under the tenant."""
    with db.engine.begin() as connection:
        line_id = connection.execute(
            sa.insert(ProductLine).values(tenant_id=tenant_id, code="ALL", name="All")
            .returning(ProductLine.id)
        ).scalar_one()  # fmt: skip
        tables: list[tuple[Any, list[dict[str, Any]]]] = [
            (Tier, world.tiers),
            (Product, [{**p, "name": p["code"], "line_id": line_id} for p in world.products]),
            (Territory, world.territories),
            (Partner, world.partners),
            (PartnerTerritory, world.partner_territories),
            (PartnerProduct, world.partner_products),
            (SegmentRule, world.segments),
            (Lead, world.leads),
            (Offer, world.offers),
        ]
        for model, rows in tables:
            for start in range(0, len(rows), BATCH):
                batch = [{**row, "tenant_id": tenant_id} for row in rows[start : start + BATCH]]
                connection.execute(sa.insert(model.__table__), batch)
        connection.exec_driver_sql(
            f"CREATE TABLE {QUALITY_TABLE} (partner_id integer PRIMARY KEY, quality integer)"
        )
        connection.execute(
            sa.text(f"INSERT INTO {QUALITY_TABLE} VALUES (:p, :q)"),
            [{"p": pid, "q": quality} for pid, quality in world.quality.items()],
        )
        connection.exec_driver_sql("ANALYZE")


def make_tenant() -> int:
    tenant = Tenant(slug="bench-routing", name="Bench routing")
    db.session.add(tenant)
    db.session.flush()
    with tenant_scope(tenant.id):
        seed_defaults()
    db.session.commit()
    return tenant.id


# Reading it back as plain values, as a service would -----------------------------------------


def read_config(connection: sa.Connection, tenant_id: int) -> RoutingConfig:
    """The tenant's routing configuration as the engine takes it."""
    t = {"t": tenant_id}
    version = connection.execute(
        sa.select(Tenant.config_version).where(Tenant.id == tenant_id)
    ).scalar_one()
    covered: dict[int, list[int]] = {}
    for pid, tid in connection.execute(
        sa.text("SELECT partner_id, territory_id FROM partner_territory WHERE tenant_id = :t"), t
    ):
        covered.setdefault(pid, []).append(tid)
    selling: dict[int, dict[int, int]] = {}
    for pid, product, level in connection.execute(
        sa.text(
            "SELECT partner_id, product_id, certification FROM partner_product WHERE tenant_id = :t"
        ),
        t,
    ):
        selling.setdefault(pid, {})[product] = level
    partners = tuple(
        PartnerConfig(
            row.id,
            row.name,
            row.status,
            row.capacity,
            row.rank,
            row.routing_weight,
            row.tier,
            row.quality,
            tuple(covered.get(row.id, ())),
            selling.get(row.id, {}),
        )
        for row in connection.execute(
            sa.text(
                "SELECT p.id, p.name, p.status, p.capacity, t.rank, t.routing_weight,"
                " t.name AS tier, q.quality FROM partner p JOIN tier t ON t.id = p.tier_id"
                f" LEFT JOIN {QUALITY_TABLE} q ON q.partner_id = p.id WHERE p.tenant_id = :t"
            ),
            t,
        )
    )
    territories = tuple(
        TerritoryConfig(
            row.id,
            row.kind,
            row.code,
            row.name,
            row.country,
            row.subdivision,
            row.postal_prefix,
            tuple(row.region_countries or ()),
        )
        for row in connection.execute(sa.select(Territory).where(Territory.tenant_id == tenant_id))
    )
    settings = connection.execute(
        sa.select(RoutingSettings).where(RoutingSettings.tenant_id == tenant_id)
    ).one()
    weights = Weights(
        settings.weight_territory, settings.weight_tier, settings.weight_quality,
        settings.weight_capacity, settings.weight_fairness,
    )  # fmt: skip
    segments = tuple(
        Segment(
            row.name,
            row.basis,
            row.min_value,
            row.max_value,
            row.currency,
            row.rank,
            row.min_certification,
        )
        for row in connection.execute(
            sa.select(SegmentRule, Tier.rank)
            .outerjoin(Tier, Tier.id == SegmentRule.min_tier_id)
            .where(SegmentRule.tenant_id == tenant_id)
        )
    )
    return RoutingConfig(version, partners, territories, segments, weights)


def read_load(connection: sa.Connection, tenant_id: int) -> Load:
    """Per partner: open offers, accepted leads not yet won or lost, last offer.

    The app's own column type gives times in datetime.UTC, as the engine's `now` is; times
    in two different tzinfo objects subtract several times slower.
    """
    accepted_open = sa.and_(Offer.state == "accepted", Lead.state.in_(("accepted", "sql")))
    rows = connection.execute(
        sa.select(
            Offer.partner_id,
            sa.func.count().filter(Offer.state == "open").label("open"),
            sa.func.count().filter(accepted_open).label("accepted"),
            sa.func.max(Offer.offered_at).label("last"),
        )
        .join(Lead, Lead.id == Offer.lead_id)
        .where(Offer.tenant_id == tenant_id)
        .group_by(Offer.partner_id)
    )
    return Load({row.partner_id: PartnerLoad(row.open, row.accepted, row.last) for row in rows})


def read_leads(connection: sa.Connection, tenant_id: int) -> list[tuple[int, LeadFacts]]:
    """Every lead with the partners that already had it, as a what-if simulation reads them."""
    rows = connection.execute(
        sa.text(
            "SELECT l.id, l.product_id, l.country, l.subdivision, l.postal_code, l.employees,"
            " l.deal_size_minor, l.currency, array_remove(array_agg(o.partner_id), NULL) AS had"
            " FROM lead l LEFT JOIN offer o ON o.lead_id = l.id WHERE l.tenant_id = :t"
            " GROUP BY l.id ORDER BY l.id"
        ),
        {"t": tenant_id},
    )
    return [
        (row.id, LeadFacts(row.product_id, row.country, row.subdivision, row.postal_code,
                           row.employees, row.deal_size_minor, row.currency, frozenset(row.had)))
        for row in rows
    ]  # fmt: skip


# The engine --------------------------------------------------------------------------------


def best_rate(count: int, work: Callable[[], object], runs: int = REPEATS) -> tuple[float, float]:
    """The best of a few runs: wall-clock rate and rate per CPU second of this process."""
    rates = []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        rates.append((count / (time.perf_counter() - wall), count / (time.process_time() - cpu)))
    return max(rates)


def percentile(sorted_values: Sequence[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


def measure_engine(index: RoutingIndex, leads: list[LeadFacts], load: Load) -> dict[str, Any]:
    """The engine's figures; decisions are dropped as they come, as a router would."""
    figures: dict[str, Any] = {}

    def route_all() -> None:
        for lead in leads:
            route(index, lead, load, NOW)

    figures["rate"], figures["cpu_rate"] = best_rate(len(leads), route_all)
    timings = []
    clock = time.perf_counter_ns
    for lead in leads:
        started = clock()
        route(index, lead, load, NOW)
        timings.append(clock() - started)
    timings.sort()
    figures["p50_ms"] = percentile(timings, 0.50) / 1e6
    figures["p99_ms"] = percentile(timings, 0.99) / 1e6
    figures["max_ms"] = timings[-1] / 1e6
    eligible = []

    def rank_all() -> None:
        eligible.extend(len(route(index, lead, load, NOW).ranking) for lead in leads)

    figures["ranking_rate"], _ = best_rate(len(leads), rank_all, runs=1)
    figures["eligible_mean"] = statistics.fmean(eligible)
    figures["routed"] = sum(1 for n in eligible if n)
    sample = leads[:: max(1, len(leads) // 2_000)]

    def winners_as_json() -> None:
        for lead in sample:
            _winner_json(route(index, lead, load, NOW))

    figures["winner_json_rate"], _ = best_rate(len(sample), winners_as_json)
    few = sample[:EXPLAINED_SAMPLE]

    def explained_as_json() -> None:
        for lead in few:
            _explained_json(route(index, lead, load, NOW))

    figures["explained_rate"], _ = best_rate(len(few), explained_as_json, runs=1)
    return figures


def _winner_json(decision: Decision) -> str:
    winner = decision.winner
    return json.dumps(winner.to_dict() if winner else None)


def _explained_json(decision: Decision) -> str:
    return json.dumps(decision.to_dict(max_candidates=10, exclusions=Shown.NEAR))


# The straightforward way: one query per lead --------------------------------------------------

PER_LEAD_QUERY = f"""
WITH matched AS (
  SELECT DISTINCT ON (p.id) p.id, p.capacity, t.routing_weight, q.quality,
    CASE te.kind WHEN 'global' THEN 0.0 WHEN 'region' THEN 0.25 WHEN 'country' THEN 0.5
      WHEN 'subdivision' THEN 0.75
      ELSE 0.8 + 0.05 * (least(length(replace(replace(upper(te.postal_prefix), ' ', ''), '-', '')),
                               5) - 1) END AS fit
  FROM partner p
  JOIN tier t ON t.id = p.tier_id
  JOIN partner_product pp ON pp.partner_id = p.id AND pp.product_id = :product
  JOIN partner_territory pt ON pt.partner_id = p.id
  JOIN territory te ON te.id = pt.territory_id
  LEFT JOIN {QUALITY_TABLE} q ON q.partner_id = p.id
  WHERE p.tenant_id = :tenant AND p.status = 'active'
    AND t.rank <= :max_rank AND pp.certification >= :min_cert
    AND NOT EXISTS (SELECT 1 FROM offer h WHERE h.lead_id = :lead AND h.partner_id = p.id)
    AND (te.kind = 'global'
      OR (te.kind = 'region' AND jsonb_exists(CAST(te.region_countries AS jsonb), :country))
      OR (te.kind = 'country' AND te.country = :country)
      OR (te.kind = 'subdivision' AND te.subdivision = :subdivision)
      OR (te.kind = 'postal' AND te.country = :country
          AND :postal LIKE replace(replace(upper(te.postal_prefix), ' ', ''), '-', '') || '%'))
  ORDER BY p.id, fit DESC
), loaded AS (
  SELECT m.*,
    (SELECT count(*) FROM offer o WHERE o.partner_id = m.id AND o.state = 'open')
    + (SELECT count(*) FROM offer o JOIN lead l ON l.id = o.lead_id
       WHERE o.partner_id = m.id AND o.state = 'accepted' AND l.state IN ('accepted', 'sql'))
      AS busy,
    (SELECT max(o.offered_at) FROM offer o WHERE o.partner_id = m.id) AS last_at
  FROM matched m
), aged AS (
  SELECT *, greatest(extract(epoch FROM (:now - last_at)), 0) AS age FROM loaded
)
SELECT id,
  :w_territory * fit + :w_tier * routing_weight / 100.0
  + :w_quality * coalesce(quality, 50) / 100.0
  + :w_capacity * (capacity - busy) / capacity
  + :w_fairness * CASE WHEN last_at IS NULL THEN 1.0 ELSE age / (age + :midpoint) END AS score
FROM aged WHERE busy < capacity
ORDER BY score DESC, last_at ASC NULLS FIRST, id
"""


def sql_parameters(index: RoutingIndex, tenant_id: int, lead_id: int, lead: LeadFacts) -> dict:
    segment = index.segment(lead)
    points = index.points
    return {
        "tenant": tenant_id,
        "lead": lead_id,
        "product": lead.product_id,
        "country": lead.country,
        "subdivision": lead.subdivision,
        "postal": postal_key(lead.postal_code) or None,
        "max_rank": segment.min_tier_rank if segment and segment.min_tier_rank else 1 << 30,
        "min_cert": (segment.min_certification or 0) if segment else 0,
        "now": NOW,
        "midpoint": index.fairness_midpoint_s,
        **{f"w_{name}": value for name, value in points.items()},
    }


def measure_sql(
    connection: sa.Connection,
    tenant_id: int,
    index: RoutingIndex,
    sample: list[tuple[int, LeadFacts]],
    load: Load,
) -> dict[str, Any]:
    """Times the per-lead query on a sample, and how often it picks the engine's winner."""
    query = sa.text(PER_LEAD_QUERY)
    timings, agree = [], 0
    for lead_id, lead in sample:
        params = sql_parameters(index, tenant_id, lead_id, lead)
        started = time.perf_counter()
        ranked = connection.execute(query, params).all()
        timings.append(time.perf_counter() - started)
        winner = ranked[0].id if ranked else None
        agree += winner == route(index, lead, load, NOW).partner_id
    timings.sort()
    return {
        "rate": len(sample) / sum(timings),
        "p99_ms": percentile(timings, 0.99) * 1000,
        "agreement": agree / len(sample),
    }


# Report ------------------------------------------------------------------------------------


def report(world: World, read_s: float, build_s: float, engine: dict, sql: dict, n: int) -> None:
    speedup = engine["rate"] / sql["rate"]
    print(
        f"tenant: {len(world.partners):,} partners, {world.coverage_rows:,} coverage rows "
        f"({len(world.partner_territories):,} territories, {len(world.partner_products):,} "
        f"products), {len(world.territories):,} territories, {len(world.leads):,} leads, "
        f"{len(world.offers):,} offers"
    )
    print(f"configuration read from PostgreSQL in {read_s:.2f} s; index built in {build_s:.2f} s")
    print(
        f"engine, single-threaded, best of {REPEATS} runs over every lead:"
        f" {engine['eligible_mean']:.1f} eligible partners a lead on average,"
        f" {engine['routed']:,} of {len(world.leads):,} leads routed"
    )
    print(
        f"  route() (winner found, the rest ranked on demand): {engine['rate']:,.0f} decisions/s"
        f" ({engine['cpu_rate']:,.0f} per CPU second)"
    )
    print(f"  one decision: p50 {engine['p50_ms']:.3f} ms, p99 {engine['p99_ms']:.3f} ms,"
          f" max {engine['max_ms']:.3f} ms")  # fmt: skip
    print(f"  route() and the full ranking, once: {engine['ranking_rate']:,.0f} decisions/s")
    print(f"  route() and the winner's breakdown as JSON: {engine['winner_json_rate']:,.0f}/s")
    print(
        f"  route() and what an offer would store (10 candidates, near misses, JSON), on"
        f" {EXPLAINED_SAMPLE} leads: {engine['explained_rate']:,.0f}/s"
    )
    print(
        f"one SQL query per lead, on {n:,} leads (every {len(world.leads) // n}th), rate"
        f" extrapolated: {sql['rate']:,.0f} decisions/s, p99 {sql['p99_ms']:.2f} ms;"
        f" same winner as the engine for {sql['agreement']:.1%} of them"
    )
    print(f"speedup: {speedup:,.0f}x (full ranking: {engine['ranking_rate'] / sql['rate']:,.0f}x)")
    met = {
        f"at least {TARGET_DECISIONS_PER_S:,} decisions/s": engine["rate"]
        >= TARGET_DECISIONS_PER_S,
        f"p99 under {TARGET_P99_MS:g} ms": engine["p99_ms"] < TARGET_P99_MS,
        f"at least {TARGET_SPEEDUP}x the per-lead query": speedup >= TARGET_SPEEDUP,
    }
    for target, ok in met.items():
        print(f"target: {target} -> {'met' if ok else 'NOT met'}")
    print(
        json.dumps(
            {
                "partners": len(world.partners),
                "coverage_rows": world.coverage_rows,
                "leads": len(world.leads),
                "decisions_per_s": round(engine["rate"]),
                "decisions_per_cpu_s": round(engine["cpu_rate"]),
                "p50_ms": round(engine["p50_ms"], 4),
                "p99_ms": round(engine["p99_ms"], 4),
                "full_ranking_per_s": round(engine["ranking_rate"]),
                "explained_per_s": round(engine["explained_rate"]),
                "index_build_s": round(build_s, 3),
                "config_read_s": round(read_s, 3),
                "eligible_mean": round(engine["eligible_mean"], 1),
                "sql_per_s": round(sql["rate"], 1),
                "sql_p99_ms": round(sql["p99_ms"], 2),
                "sql_sample": n,
                "sql_same_winner": round(sql["agreement"], 4),
                "speedup_vs_sql": round(speedup, 1),
                "targets": {
                    "decisions_per_s": TARGET_DECISIONS_PER_S,
                    "p99_ms": TARGET_P99_MS,
                    "speedup_vs_sql": TARGET_SPEEDUP,
                },
                "targets_met": all(met.values()),
            }
        )
    )


def main() -> None:
    url = admin_url()
    partners = int(os.environ.get("BENCH_PARTNERS", "10000"))
    leads = int(os.environ.get("BENCH_LEADS", "100000"))
    sample_size = int(os.environ.get("BENCH_SQL_SAMPLE", "2000"))
    world = generate(partners, leads)
    with postgres_database(url, "bench_routing_") as database_url:
        app = make_app(database_url)
        try:
            with app.app_context():
                tenant_id = make_tenant()
                write_world(tenant_id, world)
                with db.engine.connect() as connection:
                    started = time.perf_counter()
                    config = read_config(connection, tenant_id)
                    read_s = time.perf_counter() - started
                    load = read_load(connection, tenant_id)
                    facts = read_leads(connection, tenant_id)
                    started = time.perf_counter()
                    index = build_index(config)
                    build_s = time.perf_counter() - started
                    sample = facts[:: max(1, len(facts) // sample_size)][:sample_size]
                    sql = measure_sql(connection, tenant_id, index, sample, load)
                engine = measure_engine(index, [lead for _, lead in facts], load)
                report(world, read_s, build_s, engine, sql, len(sample))
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


if __name__ == "__main__":
    main()
