"""Load on the deployed stack: 50 partner users working their inboxes while leads arrive.

Run: .venv/bin/python bench/load.py
DATABASE_URL names the PostgreSQL server (its admin database): the bench creates
bench_load_<random> owned by a role that is neither superuser nor BYPASSRLS, migrates it,
builds a tenant, and drops it at the end. REDIS_URL (default redis://127.0.0.1:6379/12) is
the Redis of the jobs, the rate limits and the workers; it is flushed before and after.
BENCH_SECONDS (60), BENCH_USERS (50), BENCH_THINK_S (1.0), BENCH_LEAD_RATE (5 leads/s),
BENCH_PEAK_SECONDS (15) and BENCH_INBOX (40 open offers per partner at the start) change it.

It starts what "Deployment on one machine" runs, in production mode: gunicorn with
gunicorn.conf.py on a free port, two RQ workers with the scheduler and the cron process.
Then, for BENCH_SECONDS, each signed-in partner user opens the inbox, opens an offer, accepts
or rejects it (with a reason), follows the redirect as a browser does, with a think time
between steps; an API client posts leads at a steady rate, which the workers route to the
partners; and a few malformed requests (bad JSON, an unknown field, a forged CSRF token, a
rejection without a reason) are sent on purpose, where a 4xx is the right answer. Last, the
throughput: the same users ask for the inbox with no think time, then the same number of
clients ask for /livez, which does no database or Redis work: the ceiling of this stack on
this machine. Targets: no errors, the inbox's p99 under 100 ms under the browsing load, and
the inbox's throughput at least 40% of the ceiling's. For reference beside them, not a
target: /healthz, one trivial query (and the transaction's tenant setting) and a Redis
ping without a session, the least any page that reads the database can cost. Beside each
endpoint, how many of its pages were served from those kept in Redis (portal/web/kept_pages.py)
rather than drawn. The last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from common import app_database
from stack import Stack, process_cpu_s
from traffic import CLIENT_ERROR, CREATED, Answer, Browser, Recorder, percentile

from portal.extensions import db
from portal.leads.bulk_intake import take_in_batch
from portal.leads.models import Offer, QualificationSettings
from portal.notifications.tasks import catch_up_everywhere
from portal.partners.models import (
    Partner,
    PartnerProduct,
    PartnerTerritory,
    Product,
    ProductLine,
    SlaPolicy,
    Territory,
    Tier,
)
from portal.tenancy.models import Tenant
from portal.tenancy.roles import Role
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.seeding import DEFAULT_REJECTION_REASONS, seed_defaults
from portal.tenancy.services import create_api_key, create_user
from tests.databases import make_app

TARGET_INBOX_P99_MS = 100.0
TARGET_INBOX_SHARE = 0.40
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
COUNTRIES = ("DE", "FR", "NL", "SE", "PL")
PRODUCTS = ("CLOUD", "EDGE", "DATA")
USERS_PER_PARTNER = 2
PASSWORD = "Bench-load-partner-2026"
ADMIN = "admin@bench-load.example"
ACCEPT_SHARE = 0.5
REASONS = [code for code, _, needs_comment in DEFAULT_REJECTION_REASONS if not needs_comment]
OFFER_LINK = re.compile(rb'href="/inbox/offers/(\d+)"')
INBOX = "GET /inbox/"
LIVEZ = "GET /livez"
HEALTHZ = "GET /healthz"


@dataclass(frozen=True)
class Login:
    email: str
    partner_id: int


@dataclass(frozen=True)
class World:
    tenant_id: int
    api_key: str
    logins: list[Login]
    open_offers: int
    leads: int


# The tenant --------------------------------------------------------------------------------


def build_world(users: int, inbox: int) -> World:
    """A tenant whose partners (two users each) cover one of five countries and sell every
    product; every lead is an MQL; each partner has about `inbox` open offers. Runs in an app
    context of the bench's own, where jobs run in-process."""
    tenant = Tenant(slug="bench-load", name="Bench load")
    db.session.add(tenant)
    db.session.flush()
    with tenant_scope(tenant.id):
        seed_defaults()
        _programme_settings()
        partner_ids = _partners(max(1, users // USERS_PER_PARTNER))
        db.session.commit()
        # Routed before the users exist: the e-mails of a thousand new offers would take the
        # set-up a minute, and they are not what is measured.
        leads = len(partner_ids) * inbox
        take_in_batch([lead_json(f"seed-{n}", n) for n in range(leads)],
                      actor="bench", channel="the bench")  # fmt: skip
        # What `rq cron` does every minute: move the notifications' catch-up past these
        # events, or its first run after the start would mail the users about them all.
        catch_up_everywhere()
        admin = create_user(email=ADMIN, name="Bench admin", role=Role.ADMIN.value,
                            password=PASSWORD, actor="bench")  # fmt: skip
        logins = _partner_users(partner_ids, users)
        _, api_key = create_api_key("Bench CRM", actor=admin)
        open_offers = db.session.scalar(
            sa.select(sa.func.count()).select_from(Offer).where(Offer.state == "open")
        )
        db.session.commit()
    # The statistics autovacuum keeps on a database in use; without them the planner takes
    # the tables for empty: routing's load query joins offers to leads row by row, and the
    # login's lookup walks every user of the tenant by its tenant index.
    with db.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    return World(tenant.id, api_key, logins, int(open_offers or 0), leads)


def _programme_settings() -> None:
    # Every lead an MQL, and 48 wall-clock hours to answer, so nothing expires during a run
    # whatever the day of the week.
    settings = db.session.scalar(sa.select(QualificationSettings))
    settings.mql_threshold = 0
    settings.required_fields = []
    policy = db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.is_default))
    policy.clock, policy.response_hours = "wall", 48


def _partners(count: int) -> list[int]:
    tier = Tier(name="Gold", rank=1, routing_weight=10)
    line = ProductLine(code="ALL", name="All products")
    db.session.add_all([tier, line])
    db.session.flush()
    products = [Product(code=code, name=code.title(), line_id=line.id) for code in PRODUCTS]
    territories = [
        Territory(code=c, name=c, kind="country", country=c) for c in COUNTRIES
    ]  # fmt: skip
    db.session.add_all([*products, *territories])
    db.session.flush()
    partners = []
    for n in range(count):
        territory = territories[n % len(territories)]
        partner = Partner(name=f"Partner {n:02d}", tier_id=tier.id, country=territory.country,
                          capacity=1_000_000, timezone="Europe/Berlin")  # fmt: skip
        db.session.add(partner)
        db.session.flush()
        db.session.add(PartnerTerritory(partner_id=partner.id, territory_id=territory.id))
        db.session.add_all(PartnerProduct(partner_id=partner.id, product_id=p.id) for p in products)
        partners.append(partner.id)
    db.session.flush()
    return partners


def _partner_users(partner_ids: list[int], users: int) -> list[Login]:
    logins = []
    for n in range(users):
        partner_id = partner_ids[n % len(partner_ids)]
        email = f"user{n:02d}@partner{partner_id}.bench-load.example"
        create_user(email=email, name=f"User {n:02d}", role=Role.PARTNER_USER.value,
                    password=PASSWORD, partner_id=partner_id, actor="bench")  # fmt: skip
        logins.append(Login(email, partner_id))
    return logins


def lead_json(key: str, n: int) -> dict[str, Any]:
    """A lead as a CRM sends it; its country and product decide the partners it may go to."""
    return {
        "external_id": key, "company_name": f"Company {key} GmbH",
        "company_domain": f"{key}.example", "contact_email": f"buyer@{key}.example",
        "contact_name": "Alex Buyer", "country": COUNTRIES[n % len(COUNTRIES)],
        "product": PRODUCTS[n % len(PRODUCTS)], "employees": 50 + n % 900,
        "industry": "Manufacturing", "job_title": "Head of IT",
    }  # fmt: skip


# The simulated people ------------------------------------------------------------------------


def sign_in(port: int, logins: Iterable[Login]) -> list[Browser]:
    """A browser signed in as each login, signed in side by side."""
    recorder = Recorder()
    browsers = [Browser(port, recorder) for _ in logins]

    def one(browser: Browser, login: Login) -> None:
        page = browser.get("GET /login", "/login")
        token = page.csrf_token() if page else None
        form = {"email": login.email, "password": PASSWORD, "csrf_token": token or ""}
        answer = browser.post_form("POST /login", "/login", form, referer="/login")
        if answer is None or answer.status != 302 or answer.location == "/login":
            raise RuntimeError(f"{login.email} could not sign in: {answer and answer.status}")

    run_threads(
        [lambda b=b, login=login: one(b, login) for b, login in zip(browsers, logins, strict=True)]
    )
    return browsers


def run_threads(work: list[Callable[[], None]]) -> None:
    """Run each in a thread of its own and wait for all; re-raise the first failure."""
    failures: list[BaseException] = []

    def guarded(fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(fn,), daemon=True) for fn in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


@dataclass
class Mixed:
    """What the browsing run saw: per endpoint, the answers, and what the users decided."""

    recorder: Recorder
    seconds: float = 0.0
    # The run's start and end on the wall clock, as the processes' logs stamp their lines.
    span: tuple[float, float] = (0.0, 0.0)
    outcomes: Counter[str] = field(default_factory=Counter)
    # (offer id, lead id) of every accept the user saw succeed: checked against the database.
    accepted: list[tuple[int, int]] = field(default_factory=list)


def endpoint_of(path: str) -> str:
    """The endpoint a path belongs to, its identifiers replaced, as the tables name it."""
    return "GET " + re.sub(r"/\d+", "/<id>", path)


class PartnerUser:
    """One partner user at work: inbox, an offer, accept or reject, the page that follows."""

    def __init__(self, browser: Browser, run: Mixed, think_s: float, seed: int) -> None:
        self.browser = browser
        self.run = run
        self.think_s = think_s
        self.rng = random.Random(seed)

    def think(self) -> None:
        time.sleep(self.rng.uniform(0.5, 1.5) * self.think_s)

    def work(self, until: float) -> None:
        # People do not all open the portal in the same millisecond: the users arrive over
        # the first two think times, or the first inbox of all fifty at once is the p99.
        time.sleep(self.rng.uniform(0, 2 * self.think_s))
        page = self.browser.get(INBOX, "/inbox/")
        while time.monotonic() < until:
            shown = page is not None and page.status == 200
            listed = OFFER_LINK.findall(page.body) if page is not None and shown else []
            self.think()
            if not listed:
                self.run.outcomes["empty inbox" if shown else "inbox failed"] += 1
                page = self.browser.get(INBOX, "/inbox/")
                continue
            page = self.answer(int(self.rng.choice(listed)))

    def answer(self, offer_id: int) -> Answer | None:
        """Open the offer, think, answer it; the page the answer leads to."""
        path = f"/inbox/offers/{offer_id}"
        view = self.browser.get("GET /inbox/offers/<id>", path)
        if view is None or view.status != 200:
            self.run.outcomes["offer failed"] += 1
            return self.browser.get(INBOX, "/inbox/")
        token = view.csrf_token()
        if token is None or b'data-testid="accept-form"' not in view.body:
            self.run.outcomes["offer no longer open"] += 1
            return self.browser.get(INBOX, "/inbox/")
        self.think()
        if self.rng.random() < ACCEPT_SHARE:
            sent = self.browser.post_form(
                "POST /inbox/offers/<id>/accept", path + "/accept", {"csrf_token": token},
                referer=path,
            )  # fmt: skip
            return self._after_accept(offer_id, sent)
        form = {"csrf_token": token, "reason_code": self.rng.choice(REASONS), "comment": ""}
        sent = self.browser.post_form(
            "POST /inbox/offers/<id>/reject", path + "/reject", form, referer=path
        )
        return self._after_reject(sent)

    def _after_accept(self, offer_id: int, sent: Answer | None) -> Answer | None:
        if sent is None or sent.location is None:
            self.run.outcomes["accept failed"] += 1
            return self.browser.get(INBOX, "/inbox/")
        if sent.location.startswith("/inbox/leads/"):
            self.run.accepted.append((offer_id, int(sent.location.rsplit("/", 1)[1])))
            self.run.outcomes["accepted"] += 1
            self.browser.get(endpoint_of(sent.location), sent.location)
            self.think()
            return self.browser.get(INBOX, "/inbox/")
        self.run.outcomes["accept refused (answered by a colleague, or due)"] += 1
        return self.browser.get(INBOX, sent.location)

    def _after_reject(self, sent: Answer | None) -> Answer | None:
        if sent is None or sent.location is None:
            self.run.outcomes["reject failed"] += 1
            return self.browser.get(INBOX, "/inbox/")
        page = self.browser.get(INBOX, sent.location)
        if page is not None and b"You rejected" in page.body:
            self.run.outcomes["rejected"] += 1
        elif page is not None and page.status == 200:
            self.run.outcomes["reject refused (answered by a colleague, or due)"] += 1
        return page


def post_leads(browser: Browser, api_key: str, rate: float, until: float, tag: str) -> None:
    """The CRM: one new lead every 1/rate seconds, on a fixed schedule that does not wait
    for slow answers to catch up."""
    auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    started, n = time.monotonic(), 0
    while (due := started + n / rate) < until:
        time.sleep(max(0.0, due - time.monotonic()))
        body = json.dumps(lead_json(f"{tag}-{n}", n)).encode()
        browser.request("POST /api/v1/leads", "POST", "/api/v1/leads", body=body,
                        headers=auth, expected=CREATED)  # fmt: skip
        n += 1


def send_malformed(browser: Browser, api_key: str, every_s: float, until: float) -> None:
    """Requests that are wrong on purpose, one kind after another: each must get a 4xx."""
    auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    inbox = browser.get(INBOX + " (malformed client)", "/inbox/")
    token = (inbox.csrf_token() if inbox else None) or ""
    listed = OFFER_LINK.findall(inbox.body) if inbox else []
    offer = f"/inbox/offers/{int(listed[0]) if listed else 1}"
    kinds = [
        lambda: browser.request("POST /api/v1/leads (bad JSON)", "POST", "/api/v1/leads",
                                body=b'{"company_name": "Broken', headers=auth,
                                expected=CLIENT_ERROR),
        lambda: browser.request("POST /api/v1/leads (unknown field)", "POST", "/api/v1/leads",
                                body=b'{"company_name": "Odd", "colour": "blue"}', headers=auth,
                                expected=CLIENT_ERROR),
        lambda: browser.post_form("POST /inbox/offers/<id>/accept (forged CSRF)",
                                  offer + "/accept", {"csrf_token": "forged"}, referer=offer,
                                  expected=CLIENT_ERROR),
        lambda: browser.post_form("POST /inbox/offers/<id>/reject (no reason)",
                                  offer + "/reject", {"csrf_token": token, "reason_code": ""},
                                  referer=offer, expected=CLIENT_ERROR),
    ]  # fmt: skip
    n = 0
    while time.monotonic() < until:
        kinds[n % len(kinds)]()
        n += 1
        time.sleep(every_s)


def run_mixed(
    port: int,
    world: World,
    browsers: list[Browser],
    seconds: float,
    think_s: float,
    lead_rate: float,
    also: Iterable[Callable[[float], None]] = (),
) -> Mixed:
    """The browsing load for `seconds`; `also` runs beside it, each given the end time."""
    recorder = Recorder()
    run = Mixed(recorder)
    for browser in browsers:
        browser.recorder = recorder
    malformed = sign_in(port, world.logins[:1])[0]
    malformed.recorder = recorder
    crm = Browser(port, recorder)
    started, wall = time.monotonic(), time.time()
    until = started + seconds
    tag = f"load-{int(time.time())}"
    work: list[Callable[[], None]] = [
        lambda b=b, n=n: PartnerUser(b, run, think_s, n).work(until) for n, b in enumerate(browsers)
    ]
    work.append(lambda: post_leads(crm, world.api_key, lead_rate, until, tag))
    work.append(lambda: send_malformed(malformed, world.api_key, 1.0, until))
    work.extend(lambda fn=fn: fn(until) for fn in also)
    run_threads(work)
    run.seconds = time.monotonic() - started
    run.span = (wall, wall + run.seconds)
    return run


def time_in_app(log: Path, path: str, span: tuple[float, float]) -> dict[str, float]:
    """The p50 and p99 of the time the app itself took for the GETs of path in the span, from
    its access log: beside the clients' figures, it tells the app's own time from the waits
    around it (gunicorn's queue, the clients' own turn on the CPU)."""
    durations = []
    with log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if '"portal.access"' not in line:
                continue
            try:
                record = json.loads(line)
                at = datetime.fromisoformat(record["time"].replace("Z", "+00:00")).timestamp()
            except (ValueError, KeyError):
                continue
            if (record.get("method"), record.get("path")) == ("GET", path) and (
                span[0] <= at <= span[1]
            ):
                durations.append(float(record["duration_ms"]))
    durations.sort()
    if not durations:
        return {}
    return {"p50_ms": percentile(durations, 0.5), "p99_ms": percentile(durations, 0.99)}


def closed_loop(browsers: list[Browser], name: str, path: str, seconds: float) -> Recorder:
    """Each browser asks for path again as soon as it is answered, for `seconds`."""
    recorder = Recorder()
    until = time.monotonic() + seconds

    def loop(browser: Browser) -> None:
        browser.recorder = recorder
        while time.monotonic() < until:
            browser.get(name, path)

    run_threads([lambda b=b: loop(b) for b in browsers])
    return recorder


# Report ---------------------------------------------------------------------------------------

COLUMNS = ("requests", "rps", "p50_ms", "p99_ms", "max_ms", "2xx", "3xx", "4xx", "5xx",
           "failed", "unexpected", "kept")  # fmt: skip


def print_table(title: str, rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"{'endpoint':<52}" + "".join(f"{c:>11}" for c in COLUMNS))
    for name, row in rows.items():
        print(f"{name:<52}" + "".join(f"{row[c]:>11}" for c in COLUMNS))


def error_counts(*tables: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Answers that count against "no errors": any 5xx, no answer at all, or a status the
    request did not expect (a 4xx to a good request, a 2xx to a malformed one)."""
    rows = [row for table in tables for row in table.values()]
    return {
        "errors_5xx": sum(r["5xx"] for r in rows),
        "failed": sum(r["failed"] for r in rows),
        "unexpected": sum(r["unexpected"] for r in rows),
    }


def expected_4xx(table: dict[str, dict[str, Any]]) -> int:
    return sum(row["4xx"] for name, row in table.items() if "(" in name)


class Cpu:
    """CPU seconds since it was made: of the bench's own process (the clients), gunicorn, the
    RQ workers and cron, and the server processes of the bench's database (those that ended
    in between take their last part with them, so that figure is a lower bound)."""

    def __init__(self, stack: Stack, database: sa.Connection) -> None:
        self.stack, self.database = stack, database
        self.start, self.backends = self._processes(), self._backends()

    def _processes(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"client": usage.ru_utime + usage.ru_stime, **self.stack.cpu_s()}

    def _backends(self) -> dict[int, float]:
        pids = self.database.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).scalars()
        return {pid: process_cpu_s(pid) for pid in pids}

    def since(self) -> dict[str, float]:
        now, backends = self._processes(), self._backends()
        spent = {name: now[name] - self.start[name] for name in now}
        spent["database"] = sum(
            max(0.0, cpu - self.backends.get(pid, 0.0)) for pid, cpu in backends.items()
        )
        return {f"{name}_cpu_s": round(value, 1) for name, value in spent.items()}


def measure(
    stack: Stack, world: World, settings: dict[str, Any], database: sa.Connection
) -> dict[str, Any]:
    browsers = sign_in(stack.port, world.logins)
    print(f"{len(browsers)} partner users signed in; {world.open_offers} offers open")
    load_before = os.getloadavg()
    cpu = Cpu(stack, database)
    mixed = run_mixed(stack.port, world, browsers, settings["seconds"], settings["think_s"],
                      settings["lead_rate"])  # fmt: skip
    mixed_cpu = cpu.since()
    table = mixed.recorder.summary(mixed.seconds)
    print_table(f"Browsing load, {mixed.seconds:.0f} s (CPU: {mixed_cpu})", table)
    print("answers:", dict(mixed.outcomes))
    peak = settings["peak_seconds"]
    cpu = Cpu(stack, database)
    inbox = closed_loop(browsers, INBOX, "/inbox/", peak).summary(peak)
    inbox_cpu = cpu.since()
    anonymous = [Browser(stack.port, Recorder()) for _ in browsers]
    cpu = Cpu(stack, database)
    ceiling = closed_loop(anonymous, LIVEZ, "/livez", peak).summary(peak)
    ceiling_cpu = cpu.since()
    cpu = Cpu(stack, database)
    health = closed_loop(anonymous, HEALTHZ, "/healthz", peak).summary(peak)
    health_cpu = cpu.since()
    title = (
        f"Throughput, {len(browsers)} clients without think time, {peak:.0f} s each "
        f"(CPU: inbox {inbox_cpu}, ceiling {ceiling_cpu}, healthz {health_cpu})"
    )
    print_table(title, {**inbox, **ceiling, **health})
    for browser in [*browsers, *anonymous]:
        browser.close()
    in_app = time_in_app(stack.logs / "gunicorn.log", "/inbox/", mixed.span)
    return figures(table, inbox, ceiling, health, mixed, settings) | {
        "inbox_p50_ms_in_app": in_app.get("p50_ms"), "inbox_p99_ms_in_app": in_app.get("p99_ms"),
        "cpu": {"browsing": mixed_cpu, "inbox": inbox_cpu, "ceiling": ceiling_cpu,
                "healthz": health_cpu},
        "load_average": {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in os.getloadavg()]},
    }  # fmt: skip


def _kept_share(row: dict[str, Any]) -> float:
    """The share of the inbox's answers served from the pages kept in Redis."""
    return round(row["kept"] / row["requests"], 3) if row["requests"] else 0.0


def figures(
    table: dict[str, dict[str, Any]],
    inbox: dict[str, dict[str, Any]],
    ceiling: dict[str, dict[str, Any]],
    health: dict[str, dict[str, Any]],
    mixed: Mixed,
    settings: dict[str, Any],
) -> dict[str, Any]:
    errors = error_counts(table, inbox, ceiling, health)
    inbox_rps, ceiling_rps = inbox[INBOX]["rps"], ceiling[LIVEZ]["rps"]
    health_rps = health[HEALTHZ]["rps"]
    p99 = table[INBOX]["p99_ms"]
    share = inbox_rps / ceiling_rps if ceiling_rps else 0.0
    met = {
        "no_errors": sum(errors.values()) == 0,
        "inbox_p99": p99 < TARGET_INBOX_P99_MS,
        "inbox_share_of_ceiling": share >= TARGET_INBOX_SHARE,
    }
    return {
        **settings,
        "inbox_rps": inbox_rps, "inbox_p99_ms": p99, "inbox_p50_ms": table[INBOX]["p50_ms"],
        "inbox_rps_browsing": table[INBOX]["rps"], "inbox_p99_ms_at_peak": inbox[INBOX]["p99_ms"],
        "ceiling_rps": ceiling_rps, "ceiling_p99_ms": ceiling[LIVEZ]["p99_ms"],
        "inbox_share_of_ceiling": round(share, 3), "healthz_rps": health_rps,
        "healthz_share_of_ceiling": round(health_rps / ceiling_rps, 3) if ceiling_rps else 0.0,
        "inbox_kept_share_browsing": _kept_share(table[INBOX]),
        "inbox_kept_share_at_peak": _kept_share(inbox[INBOX]),
        **errors,
        "expected_4xx": expected_4xx(table), "answers": dict(mixed.outcomes),
        "accepted_seen": len(mixed.accepted), "endpoints": table,
        "throughput": {**inbox, **ceiling, **health},
        "target_inbox_p99_ms": TARGET_INBOX_P99_MS, "target_inbox_share": TARGET_INBOX_SHARE,
        "target_errors": 0, "targets": met, "targets_met": all(met.values()),
    }  # fmt: skip


def settings_from_environment() -> dict[str, Any]:
    return {
        "seconds": float(os.environ.get("BENCH_SECONDS", 60)),
        "users": int(os.environ.get("BENCH_USERS", 50)),
        "think_s": float(os.environ.get("BENCH_THINK_S", 1.0)),
        "lead_rate": float(os.environ.get("BENCH_LEAD_RATE", 5)),
        "peak_seconds": float(os.environ.get("BENCH_PEAK_SECONDS", 15)),
        "inbox": int(os.environ.get("BENCH_INBOX", 40)),
    }


def prepare(database_url: str, settings: dict[str, Any]) -> World:
    """Migrate the database and build the tenant, in this process with jobs in-process."""
    app = make_app(database_url)
    with app.app_context():
        started = time.perf_counter()
        world = build_world(settings["users"], settings["inbox"])
        print(f"built the tenant: {world.leads} leads, {len(world.logins)} partner users, "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        db.session.remove()
        db.engine.dispose()
    return world


@contextmanager
def log_folder() -> Iterator[Path]:
    """BENCH_LOG_DIR keeps each process's log there; otherwise they go with the run."""
    kept = os.environ.get("BENCH_LOG_DIR")
    if kept:
        Path(kept).mkdir(parents=True, exist_ok=True)
        yield Path(kept)
        return
    with tempfile.TemporaryDirectory() as logs:
        yield Path(logs)


def stop_on_term() -> None:
    """TERM ends the run as Ctrl-C does, through every finally: processes stopped, data dropped."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@dataclass
class Deployed:
    """The bench's tenant and the deployed processes running on its database."""

    world: World
    stack: Stack
    database: sa.Connection
    killed_at_stop: list[str] = field(default_factory=list)


@contextmanager
def deployed(prefix: str, settings: dict[str, Any]) -> Iterator[Deployed]:
    """A throwaway database named from prefix with the bench's tenant (settings' users and
    inbox), and what "Deployment on one machine" runs on it, on REDIS_URL, which is emptied
    before and after. Everything started is stopped and dropped at the end."""
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)
    redis.Redis.from_url(redis_url).flushdb()
    try:
        with app_database(prefix) as url, log_folder() as logs:
            world = prepare(url, settings)
            stack = Stack(url, redis_url, logs)
            run = None
            try:
                stack.start()
                engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
                try:
                    with engine.connect() as database:
                        run = Deployed(world, stack, database)
                        yield run
                finally:
                    engine.dispose()
            finally:
                killed = stack.stop()
                if run is not None:
                    run.killed_at_stop = killed
    finally:
        redis.Redis.from_url(redis_url).flushdb()


def main() -> None:
    stop_on_term()
    settings = settings_from_environment()
    with deployed("bench_load_", settings) as run:
        settings["web_workers"] = run.stack.web_worker_count()
        result = measure(run.stack, run.world, settings, run.database)
    result["restarts"] = dict(run.stack.restarts)
    result["killed_at_stop"] = run.killed_at_stop
    report(result)


def report(result: dict[str, Any]) -> None:
    print(
        f"\ninbox under the browsing load: p99 {result['inbox_p99_ms']} ms "
        f"(target < {TARGET_INBOX_P99_MS:.0f} ms); throughput {result['inbox_rps']} req/s, "
        f"{result['inbox_share_of_ceiling']:.0%} of the ceiling's {result['ceiling_rps']} req/s "
        f"(target >= {TARGET_INBOX_SHARE:.0%}); errors: {result['errors_5xx']} 5xx, "
        f"{result['failed']} unanswered, {result['unexpected']} unexpected (target 0); "
        f"{result['expected_4xx']} malformed requests answered 4xx as they should"
    )
    print(
        f"for reference: /healthz (one query, one Redis ping, no session) "
        f"{result['healthz_rps']} req/s, {result['healthz_share_of_ceiling']:.0%} of the ceiling; "
        f"inbox pages served kept: {result['inbox_kept_share_browsing']:.0%} while browsing, "
        f"{result['inbox_kept_share_at_peak']:.0%} at saturation; the inbox's own time in the "
        f"app while browsing (its access log): p50 {result['inbox_p50_ms_in_app']} ms, "
        f"p99 {result['inbox_p99_ms_in_app']} ms"
    )
    if result["restarts"] or result["killed_at_stop"]:
        print(f"process restarts: {result['restarts']}; killed at stop: {result['killed_at_stop']}")
    print("targets met" if result["targets_met"] else f"targets NOT met: {result['targets']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
