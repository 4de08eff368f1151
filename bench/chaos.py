"""Faults under load: an RQ worker killed, Redis and PostgreSQL restarted, while 50 partner
users work their inboxes; then whether every lead, offer and decision is still consistent.

Run: .venv/bin/python bench/chaos.py
Restarting the machine's shared PostgreSQL or Redis would break everyone else's work, so the
bench starts its own: a PostgreSQL cluster (initdb into a temporary folder, on a free port,
trust for local connections, run as the postgres user when the bench runs as root, since
initdb refuses root) with the app's database owned by a role that is neither superuser nor
BYPASSRLS, as in production; and a redis-server on a free port without persistence, so a
restart loses every queued and scheduled job, as a crash of a Redis without AOF would: the
database sweep must make good what was lost. Both, and their folders, are removed at the end.

It runs the browsing load of bench/load.py against them (BENCH_SECONDS, BENCH_USERS,
BENCH_THINK_S, BENCH_LEAD_RATE and BENCH_INBOX as there) and, during it:
- SIGKILLs an RQ worker (a busy one if there is one) with its scheduler process, and starts
  another, as a supervisor would;
- restarts Redis (down for BENCH_REDIS_DOWN_S, default 2 s);
- restarts PostgreSQL (pg_ctl restart -m fast);
- every few seconds moves the deadline of a few open offers into the past, as time passing
  would, and schedules their expiry job as routing does, so expiry races the answers.
A process that exits is started again, as systemd would, and counted. When the load stops it
waits (at most BENCH_SETTLE_S, default 150 s) for the sweep and the workers to catch up, stops
the processes, and checks, as the cluster's superuser:
1. every lead's state is the last state of its history, and each event follows the one before;
2. each offer has one outcome: no offer both accepted and expired, its state matches its
   closing event, no lead with two accepted or two open offers;
3. every accept a user saw succeed is an accepted offer of that lead;
4. no open offer is past its deadline, every aged offer expired, and no lead waits for routing.
The last line is one JSON object with `checks_passed` and the counts.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import load
import redis
import sqlalchemy as sa
from rq import Worker
from stack import Stack, free_port

from portal import create_app
from portal.db import utcnow
from portal.extensions import db
from portal.leads.lifecycle import Action, IllegalTransition, LeadState, next_state
from portal.leads.models import Offer
from portal.sla.tasks import schedule_expiry
from portal.tenancy.scoping import tenant_scope
from tests.databases import postgres_database

# When each fault strikes, as a share of the load's duration.
KILL_WORKER_AT, RESTART_REDIS_AT, RESTART_POSTGRES_AT = 0.2, 0.4, 0.6
AGE_EVERY_S, AGE_COUNT = 3.0, 5
CLOSING = {"accept": "accepted", "reject": "rejected", "expire": "expired", "recall": "recalled"}
EXAMPLES = 5


def postgres_bin() -> Path:
    """The folder of initdb and pg_ctl: pg_config's, else the newest of Debian's clusters."""
    try:
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if found.returncode == 0 and (Path(found.stdout.strip()) / "initdb").exists():
            return Path(found.stdout.strip())
    except OSError:
        pass
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        raise SystemExit("no PostgreSQL server binaries (initdb, pg_ctl) found")
    return versions[-1].parent


class Cluster:
    """A PostgreSQL cluster of the bench's own, in a folder, on a free port."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port, self.bin = folder, free_port(), postgres_bin()
        self.data = folder / "data"
        # initdb refuses to run as root: the server then runs as the postgres user.
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(folder, account.pw_uid, account.pw_gid)

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *arguments: str) -> None:
        subprocess.run(
            [str(self.bin / arguments[0]), *arguments[1:]], check=True, user=self.user,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.folder,
        )  # fmt: skip

    def _pg_ctl(self, *arguments: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", options, "-w", *arguments)  # fmt: skip

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        self._pg_ctl("start")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "fast")


class RedisServer:
    """A redis-server of the bench's own on a free port, without persistence."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip
        with open(self.folder / "redis.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self, down_s: float) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


# Faults during the load --------------------------------------------------------------------


@dataclass
class Faults:
    stack: Stack
    cluster: Cluster
    redis_server: RedisServer
    seconds: float
    redis_down_s: float
    log: list[str] = field(default_factory=list)

    def say(self, started: float, what: str) -> None:
        line = f"[{time.monotonic() - started:5.1f} s] {what}"
        self.log.append(line)
        print(line, flush=True)

    def run(self, until: float) -> None:
        started = until - self.seconds
        steps = [
            (KILL_WORKER_AT, self.kill_worker),
            (RESTART_REDIS_AT, self.restart_redis),
            (RESTART_POSTGRES_AT, self.restart_postgres),
        ]
        for share, step in steps:
            time.sleep(max(0.0, started + share * self.seconds - time.monotonic()))
            self.say(started, step())

    def kill_worker(self) -> str:
        pids = {pid: name for name, pid in self.stack.pids().items() if name.startswith("worker")}
        connection = redis.Redis.from_url(self.redis_server.url)
        busy = None
        for _ in range(20):  # a busy worker loses the job it runs; wait a little for one
            busy = next(
                (w for w in Worker.all(connection=connection)
                 if w.pid in pids and w.get_state() == "busy"), None,
            )  # fmt: skip
            if busy is not None:
                break
            time.sleep(0.1)
        name = pids[busy.pid] if busy is not None else "worker-1"
        job = busy.get_current_job_id() if busy is not None else None
        pid = self.stack.kill(name)
        return f"SIGKILL {name} (pid {pid}{', running job ' + job if job else ', idle'}); restarted"

    def restart_redis(self) -> str:
        started = time.monotonic()
        self.redis_server.restart(self.redis_down_s)
        return f"Redis restarted, down {time.monotonic() - started:.1f} s; its jobs are lost"

    def restart_postgres(self) -> str:
        started = time.monotonic()
        self.cluster.restart()
        return (
            f"PostgreSQL restarted (pg_ctl restart -m fast) in {time.monotonic() - started:.1f} s"
        )


@dataclass
class Aging:
    """Moves the deadline of a few open offers into the past every few seconds, and schedules
    their expiry job as routing does when it makes an offer."""

    database_url: str
    redis_url: str
    tenant_id: int
    # An offer aged but not yet expired when the next round comes may be drawn again.
    aged: set[int] = field(default_factory=set)
    failed: int = 0

    def run(self, until: float) -> None:
        app = create_app({"PORTAL_ENV": "testing", "SQLALCHEMY_DATABASE_URI": self.database_url,
                          "REDIS_URL": self.redis_url})  # fmt: skip
        rng = random.Random(5)
        # While Redis is down the scheduling fails, as it should, with a traceback in the log;
        # the sweep expires those offers, and the checks look at that.
        logging.getLogger("portal.sla.tasks").setLevel(logging.CRITICAL)
        with app.app_context():
            while time.monotonic() + AGE_EVERY_S < until:
                time.sleep(AGE_EVERY_S)
                try:
                    self._age(rng)
                except Exception:
                    db.session.rollback()
                    self.failed += 1  # during the restart of PostgreSQL
            db.session.remove()
            db.engine.dispose()

    def _age(self, rng: random.Random) -> None:
        with tenant_scope(self.tenant_id):
            open_ids = db.session.scalars(sa.select(Offer.id).where(Offer.state == "open")).all()
            chosen = rng.sample(list(open_ids), min(AGE_COUNT, len(open_ids)))
            due = utcnow() - timedelta(seconds=1)
            aged = db.session.scalars(
                sa.update(Offer)
                .where(Offer.id.in_(chosen), Offer.state == "open")
                .values(due_at=due)
                .returning(Offer.id)
            ).all()
            db.session.commit()
            self.aged.update(aged)
            schedule_expiry((offer_id, due) for offer_id in aged)


# Settling and the checks ---------------------------------------------------------------------

OVERDUE = "SELECT count(*) FROM offer WHERE state = 'open' AND due_at <= now()"
WAITING = (
    "SELECT count(*) FROM lead WHERE state = 'mql'"
    " AND (duplicate_of_id IS NULL OR duplicate_resolution IS NOT NULL)"
)


def settle(engine: sa.Engine, limit_s: float) -> dict[str, Any]:
    """Wait until no open offer is overdue and no lead waits for routing, at most limit_s."""
    started = time.monotonic()
    while True:
        with engine.connect() as connection:
            overdue = connection.exec_driver_sql(OVERDUE).scalar_one()
            waiting = connection.exec_driver_sql(WAITING).scalar_one()
        elapsed = time.monotonic() - started
        if (overdue == 0 and waiting == 0) or elapsed > limit_s:
            return {"settle_s": round(elapsed, 1), "settled": overdue == 0 and waiting == 0}
        time.sleep(2.0)


@dataclass
class Check:
    name: str
    checked: int
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def check_histories(connection: sa.Connection) -> Check:
    """Each lead's events, in order, chain from state to state by legal moves, and end in
    the state the lead is in."""
    states = dict(connection.exec_driver_sql("SELECT id, state FROM lead").all())
    events: dict[int, list[Any]] = defaultdict(list)
    for row in connection.exec_driver_sql(
        "SELECT lead_id, id, action, from_state, to_state FROM lead_event ORDER BY lead_id, id"
    ):
        events[row.lead_id].append(row)
    failures = []
    for lead_id, state in states.items():
        history = events.get(lead_id, [])
        problem = _history_problem(history, state)
        if problem:
            failures.append(f"lead {lead_id} ({state}): {problem}")
    return Check("lead states match their histories", len(states), failures)


def _history_problem(history: list[Any], state: str) -> str | None:
    if not history:
        return "no events"
    before = None
    for event in history:
        if event.from_state != before and before is not None:
            return f"event {event.id} ({event.action}) from {event.from_state}, after {before}"
        if before is not None and not _legal(event):
            return f"event {event.id}: {event.action} from {event.from_state} to {event.to_state}"
        before = event.to_state
    return None if before == state else f"last event says {before}"


def _legal(event: Any) -> bool:
    """A life-cycle action moves as the life cycle says; other events (opened, reminded,
    flagged stale) leave the state as it was."""
    if event.action not in {action.value for action in Action}:
        return event.from_state == event.to_state
    try:
        return next_state(event.from_state, event.action) == LeadState(event.to_state)
    except IllegalTransition:
        return False


def check_outcomes(connection: sa.Connection) -> Check:
    """An offer has one outcome, and its closing event says the same; a lead has at most one
    accepted and one open offer, and an open offer exactly when it is offered."""
    closings: dict[int, list[str]] = defaultdict(list)
    for offer_id, action in connection.exec_driver_sql(
        "SELECT offer_id, action FROM lead_event WHERE offer_id IS NOT NULL"
        " AND action IN ('accept', 'reject', 'expire', 'recall')"
    ):
        closings[offer_id].append(action)
    failures = []
    offers = connection.exec_driver_sql("SELECT id, lead_id, state FROM offer").all()
    for offer in offers:
        closed = closings.get(offer.id, [])
        said = [CLOSING[action] for action in closed]
        if said != ([] if offer.state == "open" else [offer.state]):
            failures.append(f"offer {offer.id} is {offer.state}; its closing events: {closed}")
    per_lead = connection.exec_driver_sql(
        "SELECT l.id, l.state, count(*) FILTER (WHERE o.state = 'accepted') AS accepted,"
        " count(*) FILTER (WHERE o.state = 'open') AS open"
        " FROM lead l LEFT JOIN offer o ON o.lead_id = l.id GROUP BY l.id, l.state"
    ).all()
    for lead in per_lead:
        if lead.accepted > 1 or lead.open > 1 or (lead.open == 1) != (lead.state == "offered"):
            failures.append(
                f"lead {lead.id} ({lead.state}): {lead.accepted} accepted, {lead.open} open offers"
            )
    return Check("one outcome per offer, one holder per lead", len(offers), failures)


def check_accepts(connection: sa.Connection, accepted: list[tuple[int, int]]) -> Check:
    """Every accept a user saw succeed is an accepted offer of that lead, and the lead is
    still with the partner (accepted, or moved on to sql, won or lost)."""
    held = (LeadState.ACCEPTED, LeadState.SQL, LeadState.WON, LeadState.LOST)
    rows = {
        row.id: row
        for row in connection.exec_driver_sql(
            "SELECT o.id, o.lead_id, o.state, l.state AS lead_state"
            " FROM offer o JOIN lead l ON l.id = o.lead_id WHERE o.state = 'accepted'"
        )
    }
    failures = []
    for offer_id, lead_id in accepted:
        row = rows.get(offer_id)
        if row is None or row.lead_id != lead_id or row.lead_state not in held:
            failures.append(f"offer {offer_id} of lead {lead_id}: {row}")
    return Check("every accept the users saw is in the database", len(accepted), failures)


def check_deadlines(connection: sa.Connection, aged: set[int]) -> Check:
    """No open offer is past its deadline, every aged offer expired, no lead waits to be
    routed (so each expired offer's lead moved on)."""
    failures = []
    overdue = connection.exec_driver_sql(OVERDUE).scalar_one()
    if overdue:
        failures.append(f"{overdue} open offers past their deadline")
    if aged:
        not_expired = connection.exec_driver_sql(
            "SELECT id, state FROM offer WHERE id = ANY(%(ids)s) AND state <> 'expired'",
            {"ids": sorted(aged)},
        ).all()
        failures += [f"aged offer {row.id} is {row.state}" for row in not_expired]
    waiting = connection.exec_driver_sql(WAITING).scalar_one()
    if waiting:
        failures.append(f"{waiting} leads wait in mql for routing")
    return Check("every overdue offer was handled", len(aged), failures)


def run_checks(engine: sa.Engine, accepted: list[tuple[int, int]], aged: set[int]) -> list[Check]:
    with engine.connect() as connection:
        return [
            check_histories(connection),
            check_outcomes(connection),
            check_accepts(connection, accepted),
            check_deadlines(connection, aged),
        ]


def expired_by_sweeps(logs: Path) -> int:
    """Offers the SLA sweeps expired, from the workers' log lines ("SLA sweep: N offers
    expired ..."); the expiry jobs scheduled for the deadlines expired the others."""
    expired = 0
    for log in logs.glob("worker-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            found = re.search(r'"message": "SLA sweep: (\d+) offers expired', line)
            expired += int(found.group(1)) if found else 0
    return expired


def counts(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        return {
            "leads": dict(connection.exec_driver_sql(
                "SELECT state, count(*) FROM lead GROUP BY state ORDER BY state").all()),
            "offers": dict(connection.exec_driver_sql(
                "SELECT state, count(*) FROM offer GROUP BY state ORDER BY state").all()),
            "events": connection.exec_driver_sql("SELECT count(*) FROM lead_event").scalar_one(),
        }  # fmt: skip


# The run ---------------------------------------------------------------------------------------


def under_faults(
    stack: Stack,
    world: load.World,
    cluster: Cluster,
    redis_server: RedisServer,
    database_url: str,
    settings: dict[str, Any],
) -> tuple[load.Mixed, Faults, Aging]:
    browsers = load.sign_in(stack.port, world.logins)
    faults = Faults(stack, cluster, redis_server, settings["seconds"],
                    float(os.environ.get("BENCH_REDIS_DOWN_S", 2)))  # fmt: skip
    aging = Aging(database_url, redis_server.url, world.tenant_id)
    print(f"{len(browsers)} partner users signed in; load for {settings['seconds']:.0f} s")
    mixed = load.run_mixed(stack.port, world, browsers, settings["seconds"],
                           settings["think_s"], settings["lead_rate"],
                           also=[faults.run, aging.run])  # fmt: skip
    for browser in browsers:
        browser.close()
    return mixed, faults, aging


def report(
    checks: list[Check], mixed: load.Mixed, faults: Faults, aging: Aging, extra: dict[str, Any]
) -> None:
    table = mixed.recorder.summary(mixed.seconds)
    load.print_table(f"Load under faults, {mixed.seconds:.0f} s", table)
    print("answers:", dict(mixed.outcomes))
    print(
        f"aged {len(aging.aged)} offers ({aging.failed} attempts failed during a restart); the "
        f"SLA sweeps expired {extra['expired_by_sweeps']}, the expiry jobs the others"
    )
    print(f"settled in {extra['settle_s']} s" if extra["settled"] else
          f"NOT settled within {extra['settle_s']} s")  # fmt: skip
    print(f"process restarts by the supervisor: {extra['restarts'] or 'none'}")
    print("\nchecks:")
    for check in checks:
        verdict = "ok" if check.passed else f"FAILED ({len(check.failures)})"
        print(f"  {check.name}: {check.checked} checked, {verdict}")
        for failure in check.failures[:EXAMPLES]:
            print(f"    {failure}")
    passed = all(c.passed for c in checks)
    print("all checks passed" if passed else "checks FAILED")
    print(json.dumps({
        "checks_passed": passed,
        "checks": {c.name: {"checked": c.checked, "failures": len(c.failures)} for c in checks},
        "accepted_seen": len(mixed.accepted), "aged": len(aging.aged),
        "answers": dict(mixed.outcomes), "faults": faults.log,
        **load.error_counts(table), "endpoints": table, **extra,
    }))  # fmt: skip


def main() -> None:
    load.stop_on_term()
    settings = load.settings_from_environment()
    settle_s = float(os.environ.get("BENCH_SETTLE_S", 150))
    folder = Path(tempfile.mkdtemp(prefix="portal-chaos-"))
    cluster = Cluster(folder)
    redis_folder = folder / "redis"
    redis_folder.mkdir()
    redis_server = RedisServer(redis_folder)
    try:
        cluster.start()
        redis_server.start()
        with postgres_database(cluster.admin_url, "chaos_", app_role=True) as url:
            world = load.prepare(url, settings)
            superuser = sa.create_engine(sa.make_url(url).set(username="postgres"))
            with load.log_folder() as logs:
                stack = Stack(url, redis_server.url, logs)
                try:
                    stack.start()
                    mixed, faults, aging = under_faults(stack, world, cluster, redis_server,
                                                        url, settings)  # fmt: skip
                    extra = settle(superuser, settle_s)
                finally:
                    stack.stop()
                extra["expired_by_sweeps"] = expired_by_sweeps(logs)
            extra["restarts"] = dict(stack.restarts)
            checks = run_checks(superuser, mixed.accepted, aging.aged)
            extra["counts"] = counts(superuser)
            superuser.dispose()
    finally:
        redis_server.stop()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    report(checks, mixed, faults, aging, extra)


if __name__ == "__main__":
    main()
