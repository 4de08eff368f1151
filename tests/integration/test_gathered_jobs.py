"""Gathered jobs on the real Redis with real workers: asks made while a tenant's job waits join
it, an ask made once it has started gets a job of its own, and none is lost when asks race
the worker. Then the whole path: leads taken in while the workers are busy are routed, fanned
out and mailed by a few jobs, not by one job per lead, event and e-mail."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FinishedJobRegistry

from portal.db import utcnow
from portal.extensions import db, queue
from portal.jobs import QUEUE_NAMES, job
from portal.leads.models import Lead, Offer
from portal.notifications import fanout
from portal.notifications.models import OutboundEmail
from portal.notifications.tasks import catch_up_everywhere
from portal.tenancy.scoping import tenant_scope
from tests.conftest import build_tenant
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in

# What the test jobs below were run with, in the order they ran.
calls: list[tuple[int, list[int] | None]] = []
calls_lock = threading.Lock()


@job(queue="default")
def note_ids(tenant_id: int, ids: list[int]) -> int:
    with calls_lock:
        calls.append((tenant_id, ids))
    return len(ids)


@job(queue="default")
def note_tenant(tenant_id: int) -> None:
    with calls_lock:
        calls.append((tenant_id, None))


@job(queue="default", gather_wait="NOTIFY_GATHER_SECONDS")
def note_ids_later(tenant_id: int, ids: list[int]) -> int:
    return note_ids(tenant_id, ids)


@pytest.fixture(autouse=True)
def _no_calls():
    calls.clear()
    yield
    calls.clear()


def work_off(names=QUEUE_NAMES) -> None:
    worker = SimpleWorker([queue.queue(n) for n in names], connection=queue.connection)
    worker.work(burst=True)


def test_asks_made_while_the_job_waits_join_it_one_job_per_tenant(redis_app):
    with redis_app.app_context():
        queue.enqueue_gathered(note_ids, 7, [3, 1])
        queue.enqueue_gathered(note_ids, 7, [2, 3])
        queue.enqueue_gathered(note_ids, 8, [5])
        queue.enqueue_gathered(note_tenant, 7)
        queue.enqueue_gathered(note_tenant, 7)
        assert queue.queue("default").count == 3
        work_off()
        assert sorted(calls, key=repr) == sorted([(7, [1, 2, 3]), (8, [5]), (7, None)], key=repr)

        # The job has taken its ids: a new ask queues a job of its own.
        calls.clear()
        queue.enqueue_gathered(note_ids, 7, [9])
        assert queue.queue("default").count == 1
        work_off()
        assert calls == [(7, [9])]


def test_a_job_declared_to_wait_gathers_the_asks_of_that_time(redis_app):
    redis_app.config["NOTIFY_GATHER_SECONDS"] = 60
    with redis_app.app_context():
        before = utcnow()
        queue.enqueue_gathered(note_ids_later, 3, [1])
        queue.enqueue_gathered(note_ids_later, 3, [2])
        default = queue.queue("default")
        assert default.count == 0
        [job_id] = default.scheduled_job_registry.get_job_ids()
        due = default.scheduled_job_registry.get_scheduled_time(job_id)
        assert before + timedelta(seconds=59) <= due <= utcnow() + timedelta(seconds=61)
        Job.fetch(job_id, connection=queue.connection).perform()
    assert calls == [(3, [1, 2])]


def test_no_id_is_lost_when_asks_race_the_worker(redis_app):
    """Four threads ask for 300 ids each while the worker runs jobs: every id is run, and
    asks that came while a job waited did not each get a job."""
    with redis_app.app_context():
        app = redis_app
        done = threading.Event()

        def ask(first: int) -> None:
            with app.app_context():
                for n in range(first, first + 300):
                    queue.enqueue_gathered(note_ids, 1, [n])

        askers = [threading.Thread(target=ask, args=(k * 1000,)) for k in range(4)]
        for thread in askers:
            thread.start()
        # The worker in this thread (it sets signal handlers), until the askers are done.
        while not done.is_set():
            work_off(["default"])
            done.wait(0.01)
            if not any(thread.is_alive() for thread in askers):
                done.set()
        work_off(["default"])
        asked = {k * 1000 + n for k in range(4) for n in range(300)}
        ran = [i for _, ids in calls for i in ids]
        assert set(ran) == asked
        jobs = len(FinishedJobRegistry("default", connection=queue.connection))
        assert jobs == len(calls) < len(asked)


def test_without_redis_a_gathered_job_runs_at_once_with_its_ids(app):
    with app.app_context():
        assert not queue.is_async
        queue.enqueue_gathered(note_ids, 4, [2, 1, 2])
        queue.enqueue_gathered(note_tenant, 4)
    assert calls == [(4, [1, 2]), (4, None)]


def test_leads_taken_in_together_are_routed_fanned_out_and_mailed_by_few_jobs(redis_app):
    with redis_app.app_context():
        tenant = build_tenant("gathered")
    partners = programme(redis_app, tenant.id)
    with redis_app.app_context(), tenant_scope(tenant.id):
        for name, partner_id in partners.items():
            UserFactory(
                email=f"{name}@partners.example", role="partner_user", partner_id=partner_id
            )
        db.session.commit()
    lead_ids = [
        take_in(redis_app, tenant.id, contact_email=f"c{n}@c{n}.example", company_name=f"Co {n}")
        for n in range(4)
    ]
    with redis_app.app_context():
        # Nothing has run yet: the four intakes asked for routing once.
        assert queue.queue("routing").count == 1
        work_off()
        finished = {
            name: len(FinishedJobRegistry(name, connection=queue.connection))
            for name in QUEUE_NAMES
        }
        with tenant_scope(tenant.id):
            states = db.session.scalars(sa.select(Lead.state).where(Lead.id.in_(lead_ids)))
            assert set(states) == {"offered"}
            offered = db.session.scalar(
                sa.select(sa.func.count()).select_from(Offer).where(Offer.lead_id.in_(lead_ids))
            )
            assert offered == 4
            emails = list(db.session.scalars(sa.select(OutboundEmail.state)))
    # Each offer mailed its partner's user; one job fanned the offers out, one sent the mail.
    assert emails == ["sent"] * 4
    assert finished["routing"] == 1
    assert finished["notifications"] == 2


def one_lead_taken_in(app, slug):
    """A tenant with the routing programme, a user of the partner that gets the lead, and
    one lead taken in, whose routing and fan-out wait in the queues."""
    with app.app_context():
        tenant = build_tenant(slug)
    partners = programme(app, tenant.id)
    with app.app_context(), tenant_scope(tenant.id):
        UserFactory(email="p@partners.example", role="partner_user", partner_id=partners["berlin"])
        db.session.commit()
    take_in(app, tenant.id, contact_email="c@c.example", company_name="Co")
    return tenant


def test_the_catch_up_skips_events_their_own_job_fanned_out(redis_app, monkeypatch):
    tenant = one_lead_taken_in(redis_app, "marks")
    fanned_out = []
    real = fanout.fan_out
    monkeypatch.setattr(fanout, "fan_out", lambda ids: fanned_out.append(list(ids)) or real(ids))
    with redis_app.app_context():
        work_off()
        [by_job] = fanned_out
        marks = f"portal:fanned-out:{tenant.id}"
        assert queue.connection.zcard(marks) == len(by_job)
        fanned_out.clear()
        assert catch_up_everywhere() >= len(by_job)
        # Read past, not fanned out again; the marks behind the cursor are gone.
        assert not any(fanned_out) and queue.connection.zcard(marks) == 0


def test_without_the_marks_the_catch_up_fans_out_again_and_makes_nothing_twice(
    redis_app, monkeypatch
):
    tenant = one_lead_taken_in(redis_app, "nomarks")
    with redis_app.app_context():
        work_off()
        queue.connection.delete(f"portal:fanned-out:{tenant.id}")  # Redis lost them
        with tenant_scope(tenant.id):
            before = db.session.scalar(sa.select(sa.func.count()).select_from(OutboundEmail))
        fanned_out = []
        real = fanout.fan_out
        monkeypatch.setattr(
            fanout, "fan_out", lambda ids: fanned_out.append(list(ids)) or real(ids)
        )
        catch_up_everywhere()
        with tenant_scope(tenant.id):
            after = db.session.scalar(sa.select(sa.func.count()).select_from(OutboundEmail))
    assert any(fanned_out) and before == after == 1
