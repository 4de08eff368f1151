"""Expiry under faults, with real commits: a real `flask rq worker` with the scheduler expiring
an offer at its deadline, an accept racing the expiry, a worker killed in the middle of an
expiry, and Redis gone while partners answer."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq.job import Job

from portal.db import utcnow
from portal.errors import Conflict
from portal.extensions import db, queue
from portal.jobs import QUEUE_NAMES
from portal.leads import offers
from portal.leads.models import Lead, LeadEvent, Offer
from portal.routing import dispatch
from portal.sla import sweep
from portal.sla.tasks import expire_offer, expire_offers, expiry_job_id, schedule_expiry
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.conftest import BACKEND, build_tenant, fresh_database, make_app
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def offered_leads(app, count=1):
    """A tenant with the routing programme, its partners' users, and count leads offered."""
    with app.app_context():
        tenant = build_tenant("sla")
    ids = programme(app, tenant.id)
    lead_ids = [
        take_in(app, tenant.id, contact_email=f"c{n}@c{n}.example", company_name=f"Co {n}")
        for n in range(count)
    ]
    with app.app_context(), tenant_scope(tenant.id):
        dispatch.route_waiting()  # with a real Redis, intake only queued the routing
        users = {
            pid: UserFactory(
                email=f"{name}@partners.example", role="partner_user", partner_id=pid
            ).id
            for name, pid in ids.items()
        }
        db.session.commit()
        offer_ids = list(
            db.session.scalars(
                sa.select(Offer.id).where(Offer.lead_id.in_(lead_ids)).order_by(Offer.lead_id)
            )
        )
    assert len(offer_ids) == count
    return tenant.id, lead_ids, offer_ids, users


def set_due(app, tenant_id, offer_ids, due):
    with app.app_context(), tenant_scope(tenant_id):
        db.session.execute(sa.update(Offer).where(Offer.id.in_(offer_ids)).values(due_at=due))
        db.session.commit()


def history(app, tenant_id, lead_id):
    """The lead's state, its events (action, to_state, offer id) and its offers' states."""
    with app.app_context(), tenant_scope(tenant_id):
        lead = db.session.get(Lead, lead_id)
        events = db.session.execute(
            sa.select(LeadEvent.action, LeadEvent.to_state, LeadEvent.offer_id)
            .where(LeadEvent.lead_id == lead_id)
            .order_by(LeadEvent.id)
        ).all()
        offer_rows = db.session.execute(
            sa.select(Offer.id, Offer.state).where(Offer.lead_id == lead_id).order_by(Offer.id)
        ).all()
        return lead.state, [tuple(e) for e in events], dict(offer_rows)


def wait_for(check, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def run_worker_until(app, redis_url, check, *options):
    """Run `flask rq worker` (with the scheduler) until check() holds, or a minute; whether it
    held, and what the worker wrote to stderr."""
    env = {
        **os.environ,
        "PORTAL_ENV": "testing",
        "DATABASE_URL": app.config["TEST_DATABASE_URL"],
        "REDIS_URL": redis_url,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", *options],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        held = wait_for(check)
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=30)
    return held, errors


def test_offers_routed_together_share_one_expiry_job_that_expires_those_due(redis_app):
    tenant_id, lead_ids, offer_ids, _ = offered_leads(redis_app, count=3)
    with redis_app.app_context():
        [job_id] = queue.queue("sla").scheduled_job_registry.get_job_ids()
        job = Job.fetch(job_id, connection=queue.connection)
        assert job.func_name == expire_offers.__module__ + ".expire_offers"
        assert list(job.args) == [tenant_id, sorted(offer_ids)]
    # An extension moved the third deadline meanwhile: the job leaves that offer alone.
    set_due(redis_app, tenant_id, offer_ids[:2], utcnow() - timedelta(seconds=1))
    with redis_app.app_context():
        assert expire_offers(*job.args) == 2
        assert expire_offers(*job.args) == 0  # run again: harmless
    states = [history(redis_app, tenant_id, lead_id) for lead_id in lead_ids]
    assert [state for state, _, _ in states] == ["mql", "mql", "offered"]
    assert [events[-1][0] for _, events, _ in states] == ["expire", "expire", "route"]
    assert [offers[o] for (_, _, offers), o in zip(states, offer_ids, strict=True)] == [
        "expired",
        "expired",
        "open",
    ]


def test_a_real_worker_with_the_scheduler_expires_an_offer_at_its_deadline(redis_app, redis_url):
    tenant_id, [lead_id], [offer_id], _ = offered_leads(redis_app)
    due = utcnow().replace(microsecond=0) + timedelta(seconds=3)  # whole: RQ keeps seconds
    set_due(redis_app, tenant_id, [offer_id], due)
    with redis_app.app_context(), tenant_scope(tenant_id):
        schedule_expiry([(offer_id, due)])
        schedule_expiry([(offer_id, due)])  # twice: one job
        scheduled = queue.queue("sla").scheduled_job_registry.get_job_ids()
        job_id = expiry_job_id(tenant_id, [offer_id], due)
        assert scheduled.count(job_id) == 1
    routed_on, errors = run_worker_until(
        redis_app, redis_url, lambda: len(history(redis_app, tenant_id, lead_id)[2]) == 2
    )
    assert routed_on, errors[-3000:]
    state, events, offer_states = history(redis_app, tenant_id, lead_id)
    assert offer_states[offer_id] == "expired" and state == "offered"
    assert [e[:2] for e in events[-2:]] == [("expire", "mql"), ("route", "offered")]
    with redis_app.app_context():
        job = Job.fetch(job_id, connection=queue.connection)
        assert job.get_status() == "finished" and job.return_value() == 1
        enqueued = job.enqueued_at
        enqueued = enqueued if enqueued.tzinfo else enqueued.replace(tzinfo=UTC)
        assert enqueued >= due - timedelta(seconds=1)  # by the scheduler, at the deadline


def test_a_worker_takes_the_scheduler_a_killed_worker_held_once_its_lock_runs_out(
    redis_app, redis_url
):
    """A worker killed with the scheduler leaves its lock in Redis for a minute. A worker that
    started meanwhile does not run the scheduler at first; it tries again every
    --scheduler-retry seconds, not at RQ's ten-minute maintenance, and runs the expiry."""
    from rq.scheduler import RQScheduler

    tenant_id, [lead_id], [offer_id], _ = offered_leads(redis_app)
    due = utcnow().replace(microsecond=0) + timedelta(seconds=1)
    set_due(redis_app, tenant_id, [offer_id], due)
    with redis_app.app_context(), tenant_scope(tenant_id):
        schedule_expiry([(offer_id, due)])
        locks = [RQScheduler.get_locking_key(name) for name in QUEUE_NAMES]
        for lock in locks:
            queue.connection.set(lock, "a-killed-worker", ex=4)
        held_until = utcnow() + timedelta(seconds=4)
    routed_on, errors = run_worker_until(
        redis_app,
        redis_url,
        lambda: len(history(redis_app, tenant_id, lead_id)[2]) == 2,
        "--scheduler-retry",
        "1",
    )
    assert routed_on, errors[-3000:]
    assert "Acquired scheduler lock for sla" in errors  # RQ's log line
    state, events, offer_states = history(redis_app, tenant_id, lead_id)
    assert offer_states[offer_id] == "expired" and state == "offered"
    assert [e[:2] for e in events[-2:]] == [("expire", "mql"), ("route", "offered")]
    with redis_app.app_context():
        job = Job.fetch(expiry_job_id(tenant_id, [offer_id], due), connection=queue.connection)
        enqueued = job.enqueued_at
        enqueued = enqueued if enqueued.tzinfo else enqueued.replace(tzinfo=UTC)
    # The scheduler queued it once the dead worker's lock ran out, not before.
    assert enqueued >= held_until - timedelta(seconds=1)


def _one_outcome(app, tenant_id, lead_id, offer_id):
    """The offer has exactly one outcome, and the lead's state is what its events say."""
    state, events, offer_states = history(app, tenant_id, lead_id)
    outcomes = [e for e in events if e[2] == offer_id and e[0] in ("accept", "expire")]
    assert len(outcomes) == 1, events
    assert offer_states[offer_id] == {"accept": "accepted", "expire": "expired"}[outcomes[0][0]]
    assert state == events[-1][1]
    assert list(offer_states.values()).count("open") <= 1
    return outcomes[0][0]


def test_an_accept_racing_the_expiry_ends_with_exactly_one_outcome(race_app):
    app = race_app
    tenant_id, lead_ids, offer_ids, users = offered_leads(app, count=8)
    with app.app_context(), tenant_scope(tenant_id):
        holders = dict(db.session.execute(sa.select(Offer.id, Offer.partner_id)).all())
    due = utcnow() + timedelta(seconds=4)
    set_due(app, tenant_id, offer_ids, due)
    errors: list[BaseException] = []

    def accept(offer_id):
        with app.app_context(), tenant_scope(tenant_id):
            try:
                offers.accept(offer_id, actor=tenancy.get_user(users[holders[offer_id]]))
            except Conflict:
                pass  # the expiry won
            finally:
                db.session.remove()

    def expire(offer_id, n):
        # The clock has reached the deadline as far as the expiry knows; the accept still
        # sees time left: both may go ahead, and the row decides.
        with app.app_context(), tenant_scope(tenant_id):
            try:
                if n % 2:
                    offers.expire(offer_id, now=due)
                else:
                    sweep.expire_batch([offer_id], due)
            finally:
                db.session.remove()

    work = []
    for n, offer_id in enumerate(offer_ids):
        pair = [(accept, (offer_id,)), (expire, (offer_id, n))]
        work += pair if n % 2 else pair[::-1]
    if BACKEND == "postgresql":
        start = threading.Barrier(len(work))

        def run(fn, args):
            start.wait()
            try:
                fn(*args)
            except BaseException as exc:  # shown by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=item) for item in work]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    else:  # SQLite has one writer: the same calls, in turn
        for fn, args in work:
            fn(*args)
    assert errors == []
    assert utcnow() < due, "the race ran past the deadline; the accepts had no chance"
    outcomes = {
        _one_outcome(app, tenant_id, lead, offer)
        for lead, offer in zip(lead_ids, offer_ids, strict=True)
    }
    assert outcomes <= {"accept", "expire"}


KILLED_MID_EXPIRY = textwrap.dedent(
    """
    import sys, time
    from rq import SimpleWorker
    from portal import create_app
    from portal.leads import offers

    def hang(*args, **kwargs):
        print("in the middle of the expiry", flush=True)
        time.sleep(600)

    offers.add_event = hang  # the offer and the lead are written, the event and commit not yet
    app = create_app({"PORTAL_ENV": "testing", "SQLALCHEMY_DATABASE_URI": sys.argv[1],
                      "REDIS_URL": sys.argv[2]})
    with app.app_context():
        from portal.extensions import queue
        SimpleWorker([queue.queue("sla")], connection=queue.connection).work(burst=True)
    """
)


def test_a_worker_killed_in_the_middle_of_an_expiry_loses_nothing(redis_app, redis_url):
    tenant_id, [lead_id], [offer_id], _ = offered_leads(redis_app)
    set_due(redis_app, tenant_id, [offer_id], utcnow() - timedelta(seconds=1))
    before = history(redis_app, tenant_id, lead_id)
    with redis_app.app_context():
        queue.enqueue(expire_offer, tenant_id, offer_id)
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_EXPIRY, redis_app.config["TEST_DATABASE_URL"], redis_url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = worker.stdout.readline()
        assert "in the middle of the expiry" in line, worker.stderr.read()[-3000:]
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    # Nothing half-written: the dead worker's transaction is gone with it.
    assert history(redis_app, tenant_id, lead_id) == before
    with redis_app.app_context():
        # Its connection may take a moment to be dropped; the sweep skips the row until then.
        expired = wait_for(lambda: sweep.sweep().expired == 1, seconds=30)
    assert expired
    state, events, offer_states = history(redis_app, tenant_id, lead_id)
    assert offer_states[offer_id] == "expired" and state == "offered" == events[-1][1]
    assert [e[0] for e in events].count("expire") == 1
    with redis_app.app_context():
        assert expire_offer(tenant_id, offer_id) is False  # the job run again: harmless


@pytest.fixture
def down_app(tmp_path):
    """An app whose job queue's Redis does not answer (built before the test, whose logs are
    read). Only the queue: the rate limiter is shared by every app of the test run."""
    with fresh_database(tmp_path) as url:
        app = make_app(url)
        app.config["REDIS_URL"] = NOWHERE
        queue.init_app(app)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_with_redis_down_partners_answer_and_the_sweep_makes_good_the_expiries(down_app, caplog):
    app = down_app
    with caplog.at_level(logging.ERROR):
        tenant_id, lead_ids, offer_ids, users = offered_leads(app, count=3)
    assert "could not schedule the expiry" in caplog.text
    with app.app_context(), tenant_scope(tenant_id):
        holders = dict(db.session.execute(sa.select(Offer.id, Offer.partner_id)).all())
        actor = {o: tenancy.get_user(users[p]) for o, p in holders.items()}
        offers.accept(offer_ids[0], actor=actor[offer_ids[0]])
        offers.reject(offer_ids[1], "no_budget", None, actor=actor[offer_ids[1]])
    assert history(app, tenant_id, lead_ids[0])[0] == "accepted"
    assert history(app, tenant_id, lead_ids[1])[0] == "mql"  # its routing job was not queued
    set_due(app, tenant_id, [offer_ids[2]], utcnow() - timedelta(seconds=1))
    with app.app_context():
        report = sweep.sweep()
    assert report.expired == 1 and report.routed == 2
    assert history(app, tenant_id, lead_ids[2])[2][offer_ids[2]] == "expired"
    assert history(app, tenant_id, lead_ids[1])[0] == "offered"
    assert history(app, tenant_id, lead_ids[2])[0] == "offered"
