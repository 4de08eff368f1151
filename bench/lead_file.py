"""A 100,000-line lead file through the import pages and a real RQ worker, on PostgreSQL.

Run: .venv/bin/python bench/lead_file.py   (BENCH_LINES overrides the 100,000 lines)
DATABASE_URL names the PostgreSQL server (its admin database): the bench creates
bench_lead_file_<random>, migrates it, measures, and drops it. REDIS_URL names the Redis
the jobs go through (default redis://127.0.0.1:6379/14; its database is flushed).

What it shows: the requests a channel manager makes (upload, column mapping, start) answer
at once whatever the size of the file, because the dry run and the import are jobs; and how
fast a worker gets through the lines.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import sys
import time
from pathlib import Path

import redis
from common import app_database, redis_url
from rq import SimpleWorker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.extensions import db, queue
from portal.leads.models import LeadImport
from portal.partners.models import Product, ProductLine
from portal.tenancy.models import Tenant, User
from portal.tenancy.passwords import hash_password
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.seeding import seed_defaults
from tests.databases import make_app

PASSWORD = "bench-lead-file-2026"
TARGET_REQUEST_S = 2.0  # each request a person waits for
TARGET_LINES_PER_S = 1_000  # the worker, dry run and import together
HEADER = "Lead ID,Company,Website,E-mail,Country,ZIP,Product,Deal size,Currency,Budget\r\n"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def generate(lines: int) -> bytes:
    """Deterministic leads; about 1 in 100 has a bad e-mail, 1 in 500 a formula."""
    rng = random.Random(7)
    out = io.StringIO()
    out.write(HEADER)
    for n in range(lines):
        firm = f"firm{rng.randrange(lines // 3 + 1)}"
        email = "broken@" if n % 100 == 7 else f"p{n}@{firm}.example"
        company = "=HYPERLINK(1)" if n % 500 == 11 else f"{firm.title()} GmbH"
        product = rng.choice(("CB", "DR"))
        deal = rng.choice(("", "12000", "48000.50"))
        currency = "EUR" if deal else ""
        budget = rng.choice(("yes", "no", ""))
        out.write(
            f"L-{n},{company},{firm}.example,{email},DE,{rng.randrange(10000, 99999)},"
            f"{product},{deal},{currency},{budget}\r\n"
        )
    return out.getvalue().encode()


def _token(client, url: str) -> str:
    return _CSRF.search(client.get(url).get_data(as_text=True)).group(1)


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _work_off(app) -> float:
    with app.app_context():
        worker = SimpleWorker([queue.queue("default")], connection=queue.connection)
        _, seconds = _timed(lambda: worker.work(burst=True))
    return seconds


def main() -> None:
    lines = int(os.environ.get("BENCH_LINES", "100000"))
    redis_at = redis_url()
    redis.Redis.from_url(redis_at).flushdb()
    content = generate(lines)
    print(f"lead file: {lines:,} lines, {len(content) / 1e6:.1f} MB")
    with app_database("bench_lead_file_") as url:
        app = make_app(url, REDIS_URL=redis_at, RATELIMIT_STORAGE_URI=redis_at)
        with app.app_context():
            tenant = Tenant(slug="bench", name="Bench")
            db.session.add(tenant)
            db.session.flush()
            with tenant_scope(tenant.id):
                seed_defaults()
                line = ProductLine(code="SEC", name="Security")
                db.session.add(line)
                db.session.flush()
                for code in ("CB", "DR"):
                    db.session.add(Product(code=code, name=code, line_id=line.id))
                db.session.add(
                    User(
                        email="manager@bench.example",
                        name="Manager",
                        role="channel_manager",
                        password_hash=hash_password(PASSWORD, profile="fast"),
                    )
                )
                db.session.commit()
            tenant_id = tenant.id
        client = app.test_client()
        client.post(
            "/login",
            data={
                "csrf_token": _token(client, "/login"),
                "email": "manager@bench.example",
                "password": PASSWORD,
            },
        )
        upload, upload_s = _timed(
            lambda: client.post(
                "/leads/imports/",
                data={
                    "csrf_token": _token(client, "/leads/imports/"),
                    "file": (io.BytesIO(content), "leads.csv"),
                    "encoding": "utf-8",
                },
                content_type="multipart/form-data",
            )
        )
        assert upload.status_code == 302, upload.get_data(as_text=True)[:500]
        mapping_url = upload.headers["Location"]
        page = client.get(mapping_url).get_data(as_text=True)
        chosen = dict(
            re.findall(r'name="(column-\d+)"[^>]*>.*?<option selected value="([^"]*)"', page, re.S)
        )
        mapped, mapping_s = _timed(
            lambda: client.post(
                mapping_url, data={"csrf_token": _token(client, mapping_url), **chosen}
            )
        )
        assert mapped.status_code == 302, mapped.get_data(as_text=True)[:500]
        status_url = mapped.headers["Location"]
        check_s = _work_off(app)
        started, start_s = _timed(
            lambda: client.post(
                status_url + "/import", data={"csrf_token": _token(client, status_url)}
            )
        )
        assert started.status_code == 302
        import_s = _work_off(app)
        with app.app_context(), tenant_scope(tenant_id):
            done = db.session.query(LeadImport).one()
            state, counts = done.state, dict(done.counts)
    requests_s = max(upload_s, mapping_s, start_s)
    lines_per_s = lines / (check_s + import_s)
    figures = {
        "lines": lines,
        "file_mb": round(len(content) / 1e6, 1),
        "upload_request_s": round(upload_s, 2),
        "mapping_request_s": round(mapping_s, 2),
        "start_request_s": round(start_s, 2),
        "check_s": round(check_s, 1),
        "check_lines_per_s": round(lines / check_s),
        "import_s": round(import_s, 1),
        "import_lines_per_s": round(lines / import_s),
        "lines_per_s": round(lines_per_s),
        "state": state,
        "counts": counts,
        "target_request_s": TARGET_REQUEST_S,
        "target_lines_per_s": TARGET_LINES_PER_S,
    }
    print(f"upload request:  {upload_s:6.2f} s   (stores the file, counts its lines)")
    print(f"mapping request: {mapping_s:6.2f} s   (saves the mapping, queues the dry run)")
    print(f"start request:   {start_s:6.2f} s   (queues the import)")
    print(f"dry run (worker): {check_s:6.1f} s   {lines / check_s:8,.0f} lines/s")
    print(f"import (worker):  {import_s:6.1f} s   {lines / import_s:8,.0f} lines/s")
    print(f"outcome: {state}, {counts}")
    print(
        f"target: every request under {TARGET_REQUEST_S} s "
        f"({'met' if requests_s < TARGET_REQUEST_S else 'NOT met'}); "
        f"at least {TARGET_LINES_PER_S:,} lines/s through dry run and import "
        f"({'met' if lines_per_s >= TARGET_LINES_PER_S else 'NOT met'}: {lines_per_s:,.0f})"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
