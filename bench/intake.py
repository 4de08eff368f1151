"""Bulk lead intake against a plain bulk insert of the same rows, on a fresh PostgreSQL database.

Run: .venv/bin/python bench/intake.py   (BENCH_LEADS overrides the 100,000 leads)
DATABASE_URL names the server (its admin database): the bench creates bench_intake_<random>,
migrates it, measures, and drops it. REDIS_URL names the Redis where intake queues the
routing of its MQLs, as in production, where workers route them apart from intake; the
queue is emptied before and after, since routing is not what this bench measures.
Intake and the plain insert take turns, 10,000 rows each, so that each writes to a table
of the same size; the one that ran second would otherwise pay for the other's rows in
every index it adds to.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from common import app_database, redis_url, server_cpu_s

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.db import copy_rows, utcnow
from portal.extensions import db
from portal.leads import intake_rules
from portal.leads.bulk_intake import take_in_batch
from portal.leads.models import Lead, ScoringRule
from portal.partners.models import Product, ProductLine
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.seeding import seed_defaults
from tests.databases import make_app

BATCH = 1_000
# Batches each side writes before the other takes its turn.
BLOCK = 10
TARGET_LEADS_PER_S = 5_000
TARGET_RATIO = 3.0
PRODUCTS = ("CB", "DR", "EDR", "SIEM", "MDM")
INDUSTRIES = ("Banking", "Insurance", "Retail", "Manufacturing", "Healthcare", "Public sector")
TITLES = ("CIO", "CISO", "IT Manager", "Head of Infrastructure", "Procurement", "Developer")
COUNTRIES = ("DE", "AT", "CH", "FR", "NL", "GB", "US")


def make_tenant(slug: str) -> int:
    """A tenant with the default settings, five products and a few scoring rules."""
    tenant = Tenant(slug=slug, name=slug.title())
    db.session.add(tenant)
    db.session.flush()
    with tenant_scope(tenant.id):
        seed_defaults()
        line = ProductLine(code="SEC", name="Security")
        db.session.add(line)
        db.session.flush()
        db.session.add_all(Product(code=c, name=c, line_id=line.id) for c in PRODUCTS)
        db.session.add_all(
            [
                ScoringRule(field="industry", operator="in", values=["Banking"], points=20),
                ScoringRule(field="employees", operator="between", values=[200, None], points=15),
                ScoringRule(field="job_title", operator="contains", values=["CIO"], points=10),
                ScoringRule(field="country", operator="in", values=["DE", "AT"], points=10),
            ]
        )
        db.session.commit()
    return tenant.id


def generate(count: int) -> list[dict[str, Any]]:
    """Deterministic leads: some repeat an e-mail or company (flagged), about 1% are invalid."""
    rng = random.Random(1)
    items = []
    for n in range(count):
        company = rng.randrange(count // 3 + 1)
        email = f"contact{rng.randrange(count)}@company{company}.example"
        items.append(
            {
                "external_id": f"crm-{n}",
                "company_name": f"Company {company} AG",
                "company_domain": f"company{company}.example",
                "industry": rng.choice(INDUSTRIES),
                "employees": str(rng.randrange(1, 20_000)),
                "contact_name": f"Contact {n}",
                "contact_email": email if rng.random() > 0.01 else "not an e-mail",
                "job_title": rng.choice(TITLES),
                "country": rng.choice(COUNTRIES),
                "postal_code": f"{rng.randrange(10_000, 99_999)}",
                "city": "Hamburg",
                "product": rng.choice(PRODUCTS),
                "deal_size": f"{rng.randrange(1_000, 500_000)}.{rng.randrange(100):02d}",
                "currency": "EUR",
                "bant": {k: "yes" for k in intake_rules.BANT_KEYS if rng.random() > 0.2},
            }
        )
    return items


def chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def cpu_now() -> tuple[float, float | None]:
    """CPU seconds used so far by this process, and by the server for this database."""
    with db.engine.connect() as connection:
        return time.process_time(), server_cpu_s(connection)


class Side:
    """One side of the comparison: its wall-clock seconds, and the CPU seconds of the bench
    and of the server, added up over the blocks of batches it ran."""

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.client_s = 0.0
        self.server_s: float | None = 0.0

    @contextmanager
    def timed(self) -> Iterator[None]:
        client, server = cpu_now()
        started = time.perf_counter()
        yield
        self.wall_s += time.perf_counter() - started
        client_now, server_now = cpu_now()
        self.client_s += client_now - client
        if server is None or server_now is None or self.server_s is None:
            self.server_s = None
        else:
            self.server_s += server_now - server

    def cpu_us(self, count: int) -> tuple[float, float | None]:
        """Microseconds of CPU per lead or row: the bench's own, the server's."""
        per = 1e6 / count
        return self.client_s * per, None if self.server_s is None else self.server_s * per


def take_in(tenant_id: int, batches: list[list[dict[str, Any]]], counts: dict[str, int]) -> None:
    with tenant_scope(tenant_id):
        for batch in batches:
            for result in take_in_batch(batch, actor="bench", channel="the benchmark"):
                counts[result.status] = counts.get(result.status, 0) + 1


def plain_rows(tenant_id: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cleaned values of the valid items, as a plain insert would write them."""
    with tenant_scope(tenant_id):
        products = dict(db.session.execute(sa.select(Product.code, Product.id)).all())
    now, rows = utcnow(), []
    for item in items:
        try:
            values = intake_rules.clean_lead(item)
        except intake_rules.LeadProblems:
            continue
        values.update(product_id=products[item["product"]], tenant_id=tenant_id)
        rows.append({**values, "state": "new", "created_at": now, "updated_at": now})
    return rows


def insert_plain(batches: list[list[dict[str, Any]]]) -> None:
    """Insert the rows as fast as intake writes: one COPY and one commit per batch."""
    table = Lead.__table__
    with tenant_scope(batches[0][0]["tenant_id"]):
        for batch in batches:
            with db.engine.begin() as connection:
                copy_rows(connection, table, batch)


def measure(
    intake_tenant: int, items: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> tuple[Side, Side, dict[str, int]]:
    """Intake and the plain insert by turns, a block of batches each, so both write to a
    table of the same size: each index they add to grows as much under one as the other."""
    intake, plain, counts = Side(), Side(), {}
    item_batches, row_batches = list(chunks(items)), list(chunks(rows))
    blocks = max(len(item_batches), len(row_batches))
    for start in range(0, blocks, BLOCK):
        with plain.timed():
            insert_plain(row_batches[start : start + BLOCK])
        with intake.timed():
            take_in(intake_tenant, item_batches[start : start + BLOCK], counts)
    return intake, plain, counts


def report(
    leads: int,
    intake_s: float,
    plain_s: float,
    plain_leads: int,
    counts: dict,
    frozen: bool,
    cpu: dict[str, tuple[float, float | None]],
) -> None:
    rate, plain_rate = leads / intake_s, plain_leads / plain_s
    ratio = intake_s / plain_s * plain_leads / leads  # per lead, should the counts differ
    print(f"intake (take_in_batch, batches of {BATCH}): {leads:,} items in {intake_s:.1f} s")
    print(f"  {rate:,.0f} leads/s; outcomes: {counts}")
    print(f"plain bulk insert (COPY, as intake writes): {plain_leads:,} rows in {plain_s:.1f} s")
    print(f"  {plain_rate:,.0f} rows/s")
    print(f"ratio intake time / plain insert time (per lead): {ratio:.2f}")
    print(f"  (by turns, {BLOCK * BATCH:,} rows each, so both write to a table of the same size)")
    figures = {name: _cpu_figures(*cost) for name, cost in cpu.items()}
    for name, (client, server, _) in figures.items():
        server_text = "unreadable" if server is None else f"{server:.0f}"
        print(f"CPU per {name}: bench {client:.0f} us, server {server_text} us")
    cpu_ratio = None
    if figures["lead"][2] is not None and figures["plain row"][2] is not None:
        cpu_ratio = round(figures["lead"][2] / figures["plain row"][2], 2)
        print(f"ratio of CPU (bench and server) per lead / per plain row: {cpu_ratio:.2f}")
    print(f"generated input kept out of the garbage collector (gc.freeze): {frozen}")
    met = rate >= TARGET_LEADS_PER_S and ratio <= TARGET_RATIO
    print(
        f"target: at least {TARGET_LEADS_PER_S:,} leads/s, within {TARGET_RATIO:g}x of the "
        f"plain insert -> {'met' if met else 'NOT met'}"
    )
    print(
        json.dumps(
            {
                "leads": leads,
                "leads_per_s": round(rate),
                "plain_insert_per_s": round(plain_rate),
                "ratio_to_plain_insert": round(ratio, 2),
                "target_leads_per_s": TARGET_LEADS_PER_S,
                "target_ratio": TARGET_RATIO,
                "batch": BATCH,
                "outcomes": counts,
                "gc_freeze": frozen,
                "cpu_us_per_lead": figures["lead"][2],
                "cpu_us_per_plain_row": figures["plain row"][2],
                "cpu_ratio": cpu_ratio,
            }
        )
    )


def _cpu_figures(client: float, server: float | None) -> tuple[float, float | None, float | None]:
    total = None if server is None else round(client + server, 1)
    return round(client, 1), None if server is None else round(server, 1), total


def keep_out_of_the_collector() -> bool:
    """Move the bench's own input out of the garbage collector's way; whether it did.

    The bench holds all its generated leads and plain rows in memory, millions of objects
    that every full collection would walk again: seconds of the harness, not of intake.
    The API takes at most 1,000 leads a request, so no process taking leads in holds them.
    BENCH_GC_FREEZE=0 leaves them in the collector's way, to see the difference.
    """
    if os.environ.get("BENCH_GC_FREEZE", "1") == "0":
        return False
    gc.collect()
    gc.freeze()
    return True


def main() -> None:
    count = int(os.environ.get("BENCH_LEADS", "100000"))
    items = generate(count)
    redis.Redis.from_url(redis_url()).flushdb()
    with app_database("bench_intake_") as database_url:
        app = make_app(database_url, REDIS_URL=redis_url())
        try:
            with app.app_context():
                intake_tenant = make_tenant("bench-intake")
                plain_tenant = make_tenant("bench-plain")
                rows = plain_rows(plain_tenant, items)
                frozen = keep_out_of_the_collector()
                intake, plain, counts = measure(intake_tenant, items, rows)
                cpu = {"plain row": plain.cpu_us(len(rows)), "lead": intake.cpu_us(count)}
                report(count, intake.wall_s, plain.wall_s, len(rows), counts, frozen, cpu)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            redis.Redis.from_url(redis_url()).flushdb()


if __name__ == "__main__":
    main()
