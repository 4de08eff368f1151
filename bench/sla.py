"""The SLA sweep on PostgreSQL: a million open offers, ten thousand of them overdue.

Run: .venv/bin/python bench/sla.py
BENCH_OFFERS (1,000,000) and BENCH_OVERDUE (10,000) change the sizes. DATABASE_URL names the
server (its admin database): the bench creates bench_sla_<random>, migrates it, writes the
rows with INSERT ... SELECT generate_series, measures, and drops it. REDIS_URL names the Redis
the new offers' expiry jobs are scheduled in (default redis://127.0.0.1:6379/13, flushed
before and after); REDIS_URL=none schedules nothing, as the embedded default does.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any

import redis
import sqlalchemy as sa
from common import app_database

from portal.db import utcnow
from portal.extensions import db
from portal.leads.models import Lead, LeadEvent, Offer, QualificationSettings
from portal.partners.models import (
    Partner,
    PartnerProduct,
    PartnerTerritory,
    Product,
    ProductLine,
    Territory,
    Tier,
)
from portal.sla.sweep import sweep
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope, unscoped
from portal.tenancy.seeding import seed_defaults
from tests.databases import make_app

TARGET_OVERDUE_S = 10.0
TARGET_IDLE_MS = 50.0
COUNTRIES = ("DE", "FR", "GB", "US", "IT", "ES", "NL", "PL", "SE", "JP")
PARTNERS_PER_COUNTRY = 10
PRODUCTS = 5
IDLE_RUNS = 20
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"


def make_programme() -> tuple[int, list[int]]:
    """A tenant whose partners each cover one country and sell two of the products (partner
    n of a country sells products n and n + 1, modulo their number), with room for every
    lead; the partner ids and the product ids, in order."""
    tenant = Tenant(slug="bench-sla", name="Bench SLA")
    db.session.add(tenant)
    db.session.flush()
    with tenant_scope(tenant.id):
        seed_defaults()
        settings = db.session.scalar(sa.select(QualificationSettings))
        if settings is not None:
            settings.mql_threshold = 0
        tier = Tier(name="Gold", rank=1, routing_weight=10)
        line = ProductLine(code="ALL", name="All")
        db.session.add_all([tier, line])
        db.session.flush()
        products = [
            Product(code=f"P{n}", name=f"Product {n}", line_id=line.id) for n in range(PRODUCTS)
        ]
        db.session.add_all(products)
        db.session.flush()
        partner_ids = []
        for country in COUNTRIES:
            territory = Territory(code=country, name=country, kind="country", country=country)
            db.session.add(territory)
            db.session.flush()
            for n in range(PARTNERS_PER_COUNTRY):
                partner = Partner(
                    name=f"{country} partner {n:02d}", tier_id=tier.id, country=country,
                    capacity=1_000_000, timezone="Europe/Berlin",
                )  # fmt: skip
                db.session.add(partner)
                db.session.flush()
                db.session.add(PartnerTerritory(partner_id=partner.id, territory_id=territory.id))
                for sold in (n % PRODUCTS, (n + 1) % PRODUCTS):
                    db.session.add(
                        PartnerProduct(partner_id=partner.id, product_id=products[sold].id)
                    )
                partner_ids.append(partner.id)
        db.session.commit()
        return tenant.id, partner_ids, [p.id for p in products]


def write_offers(
    tenant_id: int, partner_ids: list[int], product_ids: list[int], offers: int, overdue: int
) -> float:
    """offers leads, each offered to a partner of its country that sells its product; every
    (offers / overdue)-th offer is past its deadline. Returns the seconds it took."""
    started = time.perf_counter()
    every = offers // overdue
    params: dict[str, Any] = {
        "t": tenant_id, "n": offers, "every": every, "countries": list(COUNTRIES),
        "partners": partner_ids, "per": PARTNERS_PER_COUNTRY, "products": product_ids,
        "kinds": PRODUCTS,
    }  # fmt: skip
    with db.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO lead (tenant_id, company_name, contact_email, country, postal_code,"
                " product_id, bant, score, score_breakdown, state, created_at, updated_at)"
                " SELECT :t, 'Company ' || g, 'c' || g || '@example.com',"
                " (CAST(:countries AS text[]))[1 + g % 10],"
                " lpad((g % 90000 + 10000)::text, 5, '0'),"
                " (CAST(:products AS integer[]))[1 + (g / 10) % :kinds],"
                " '{}', 50, '[]', 'offered', now() - interval '1 day', now() - interval '1 day'"
                " FROM generate_series(1, :n) g"
            ),
            params,
        )
        # Lead ids are consecutive from the first: lead g is in country g % 10 and wants
        # product (g / 10) % 5, which partners n and n + 5 of its country sell among others.
        connection.execute(
            sa.text(
                "INSERT INTO offer (tenant_id, lead_id, partner_id, state, offered_at, due_at,"
                " remind_at, explanation, reminders_sent)"
                " SELECT l.tenant_id, l.id,"
                " (CAST(:partners AS integer[]))"
                "[1 + (g % 10) * :per + (g / 10) % :kinds + :kinds * ((g / 50) % 2)],"
                " 'open', o.at,"
                " CASE WHEN g % :every = 0 THEN now() - interval '1 minute' * (1 + g % 50)"
                "      ELSE now() + interval '1 minute' * (60 + g % 2880) END,"
                " CASE WHEN g % :every = 0 THEN NULL"
                "      ELSE now() + interval '1 minute' * (30 + g % 1440) END,"
                " '{}', '[]'"
                " FROM (SELECT id, row_number() OVER (ORDER BY id) AS g, tenant_id FROM lead"
                "       WHERE tenant_id = :t) l"
                " CROSS JOIN LATERAL (SELECT now() - interval '1 hour' AS at) o"
            ),
            params,
        )
        connection.exec_driver_sql("ANALYZE lead")
        connection.exec_driver_sql("ANALYZE offer")
    return time.perf_counter() - started


def count(query: Any) -> int:
    with unscoped():
        value = db.session.scalar(query)
    db.session.rollback()
    return int(value or 0)


def measure(offers: int, overdue: int) -> dict[str, Any]:
    tenant_id, partner_ids, product_ids = make_programme()
    with tenant_scope(tenant_id):
        generate_s = write_offers(tenant_id, partner_ids, product_ids, offers, overdue)
    print(f"wrote {offers:,} open offers ({overdue:,} overdue) in {generate_s:.1f} s")
    due = count(
        sa.select(sa.func.count())
        .select_from(Offer)
        .where(Offer.state == "open", Offer.due_at <= utcnow())
    )
    started = time.perf_counter()
    report = sweep()
    overdue_s = time.perf_counter() - started
    print(
        f"overdue sweep: {report.expired:,} expired, {report.routed:,} routed, "
        f"{report.reminded} reminders in {overdue_s:.2f} s (target < {TARGET_OVERDUE_S:.0f} s): "
        f"expiry {report.expire_s:.2f} s, routing {report.route_s:.2f} s"
    )
    idle = []
    for _ in range(IDLE_RUNS):
        started = time.perf_counter()
        nothing = sweep()
        idle.append((time.perf_counter() - started) * 1000)
        assert nothing.expired == nothing.routed == 0, nothing
    idle_ms = statistics.median(idle)
    print(
        f"idle sweep: median {idle_ms:.1f} ms, best {min(idle):.1f} ms, worst {max(idle):.1f} ms "
        f"over {IDLE_RUNS} runs (target < {TARGET_IDLE_MS:.0f} ms)"
    )
    open_now = count(sa.select(sa.func.count()).select_from(Offer).where(Offer.state == "open"))
    events = count(
        sa.select(sa.func.count()).select_from(LeadEvent).where(LeadEvent.action == "expire")
    )
    unroutable = count(
        sa.select(sa.func.count()).select_from(Lead).where(Lead.state == "unroutable")
    )
    return {
        "offers": offers, "overdue": due, "expired": report.expired, "routed": report.routed,
        "expire_events": events, "open_after": open_now, "unroutable_after": unroutable,
        "generate_s": round(generate_s, 1), "sweep_overdue_s": round(overdue_s, 3),
        "expire_s": round(report.expire_s, 3), "route_s": round(report.route_s, 3),
        "sweep_idle_ms": round(idle_ms, 2), "sweep_idle_worst_ms": round(max(idle), 2),
        "target_overdue_s": TARGET_OVERDUE_S, "target_idle_ms": TARGET_IDLE_MS,
        "targets_met": overdue_s < TARGET_OVERDUE_S and idle_ms < TARGET_IDLE_MS,
    }  # fmt: skip


def main() -> None:
    offers = int(os.environ.get("BENCH_OFFERS", 1_000_000))
    overdue = int(os.environ.get("BENCH_OVERDUE", 10_000))
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)
    redis_url = None if redis_url.lower() in ("", "none") else redis_url
    if redis_url:
        redis.Redis.from_url(redis_url).flushdb()
    with app_database("bench_sla_") as url:
        app = make_app(url, REDIS_URL=redis_url)
        try:
            with app.app_context():
                figures = measure(offers, overdue)
                db.session.remove()
                db.engine.dispose()
        finally:
            if redis_url:
                redis.Redis.from_url(redis_url).flushdb()
    figures["redis"] = bool(redis_url)
    print(
        "targets met" if figures["targets_met"] else "targets NOT met",
        f"(expired {figures['expired']:,} of {figures['overdue']:,} overdue; "
        f"{figures['open_after']:,} offers open after)",
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
