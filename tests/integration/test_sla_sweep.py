"""The SLA sweep: overdue offers expired and their leads routed on, reminders sent once per
point, and the expiry jobs scheduled for each deadline (stored only where a worker runs them)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.db import utcnow
from portal.extensions import db, queue
from portal.jobs import run_due_periodic_jobs
from portal.leads import offers
from portal.leads.models import LeadEvent, Offer
from portal.partners.models import SlaPolicy
from portal.sla import sweep
from portal.sla.tasks import expiry_job_id, schedule_expiry
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in
from tests.integration.test_offers import state_of


def wall_clock_policy(app, tenant_id, hours=10, points=(50, 90)):
    with app.app_context(), tenant_scope(tenant_id):
        policy = db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.is_default))
        policy.clock, policy.response_hours, policy.reminder_points = "wall", hours, list(points)
        db.session.commit()


@pytest.fixture
def offered(app, world):
    """Tenant A: a lead offered to Berlin Nord under a 10-hour wall-clock SLA."""
    wall_clock_policy(app, world.a.id)
    ids = programme(app, world.a.id)
    lead_id = take_in(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        offer = db.session.scalar(sa.select(Offer).where(Offer.lead_id == lead_id))
        return ids, lead_id, offer.id, offer.offered_at


def offer_row(app, tenant_id, offer_id):
    with app.app_context(), tenant_scope(tenant_id):
        offer = db.session.get(Offer, offer_id)
        db.session.expunge(offer)
        return offer


def events(app, tenant_id, lead_id, action):
    with app.app_context(), tenant_scope(tenant_id):
        return [
            (e.actor_label, e.from_state, e.to_state, e.reason, e.data)
            for e in db.session.scalars(
                sa.select(LeadEvent)
                .where(LeadEvent.lead_id == lead_id, LeadEvent.action == action)
                .order_by(LeadEvent.id)
            )
        ]


def run_sweep(app, now=None):
    with app.app_context():
        return sweep.sweep(now)


def test_a_new_offer_knows_when_its_first_reminder_falls(app, world, offered):
    _, _, offer_id, offered_at = offered
    offer = offer_row(app, world.a.id, offer_id)
    assert offer.due_at == offered_at + timedelta(hours=10)
    assert offer.remind_at == offered_at + timedelta(hours=5)


def test_the_sweep_expires_an_overdue_offer_and_routes_the_lead_on(app, world, offered):
    ids, lead_id, _, offered_at = offered
    report = run_sweep(app, offered_at + timedelta(hours=10, seconds=1))
    assert (report.expired, report.routed) == (1, 1)
    state, history, offer_rows = state_of(app, world, lead_id)
    assert state == "offered" and history[-2:] == [("expire", "mql"), ("route", "offered")]
    assert offer_rows == [(ids["berlin"], "expired"), (ids["germany"], "open")]
    [(actor, before, after, reason, data)] = events(app, world.a.id, lead_id, "expire")
    assert (actor, before, after) == ("SLA clock", "offered", "mql")
    assert reason == "Berlin Nord did not answer by the deadline." and data["partner_id"]


def test_a_second_sweep_changes_nothing(app, world, offered):
    _, lead_id, _, offered_at = offered
    # The deadline itself: the next partner's offer, made during the sweep, is not yet due.
    later = offered_at + timedelta(hours=10)
    assert run_sweep(app, later).expired == 1
    before = state_of(app, world, lead_id)
    report = run_sweep(app, later)
    assert (report.expired, report.routed) == (0, 0)
    assert state_of(app, world, lead_id) == before


def test_the_sweep_leaves_offers_before_their_deadline_alone(app, world, offered):
    _, _, offer_id, offered_at = offered
    report = run_sweep(app, offered_at + timedelta(hours=9, minutes=59))
    assert report.expired == 0 and offer_row(app, world.a.id, offer_id).state == "open"


def test_an_offer_answered_in_time_is_not_expired_by_a_later_sweep(app, world, offered):
    _, lead_id, offer_id, offered_at = offered
    with app.app_context(), tenant_scope(world.a.id):
        user = UserFactory(
            role="partner_user", partner_id=offer_row(app, world.a.id, offer_id).partner_id
        )
        db.session.commit()
        offers.accept(offer_id, actor=tenancy.get_user(user.id))
    report = run_sweep(app, offered_at + timedelta(hours=11))
    assert report.expired == 0 and state_of(app, world, lead_id)[0] == "accepted"


def test_the_sweep_expires_every_tenant_in_pages(app, world):
    for tenant in (world.a, world.b):
        wall_clock_policy(app, tenant.id)
        programme(app, tenant.id)
    leads = {
        tenant.id: [
            take_in(app, tenant.id, contact_email=f"c{n}@x{n}.example", company_name=f"Co {n}")
            for n in range(3)
        ]
        for tenant in (world.a, world.b)
    }
    report = sweep.SweepReport()
    with app.app_context():
        touched = sweep.expire_overdue(utcnow() + timedelta(hours=11), report, batch=2)
    assert report.expired == 6 and touched == {world.a.id, world.b.id}
    for tenant_id, lead_ids in leads.items():
        for lead_id in lead_ids:
            assert events(app, tenant_id, lead_id, "expire")


def test_a_reminder_goes_out_once_at_each_point(app, world, offered):
    _, lead_id, offer_id, offered_at = offered
    assert run_sweep(app, offered_at + timedelta(hours=4)).reminded == 0
    assert run_sweep(app, offered_at + timedelta(hours=5, minutes=30)).reminded == 1
    assert run_sweep(app, offered_at + timedelta(hours=6)).reminded == 0
    assert run_sweep(app, offered_at + timedelta(hours=9, minutes=30)).reminded == 1
    assert run_sweep(app, offered_at + timedelta(hours=9, minutes=40)).reminded == 0
    sent = events(app, world.a.id, lead_id, "remind")
    assert [(actor, before, after) for actor, before, after, _, _ in sent] == [
        ("SLA clock", "offered", "offered")
    ] * 2
    assert sent[0][3].startswith("Reminder: 50% of the time to answer has passed; due ")
    assert sent[1][3].startswith("Reminder: 90% of the time to answer has passed; due ")
    offer = offer_row(app, world.a.id, offer_id)
    assert offer.reminders_sent == [50, 90] and offer.remind_at is None


def test_a_late_sweep_sends_only_the_latest_point_passed(app, world, offered):
    _, lead_id, offer_id, offered_at = offered
    assert run_sweep(app, offered_at + timedelta(hours=9, minutes=30)).reminded == 1
    [sent] = events(app, world.a.id, lead_id, "remind")
    assert sent[3].startswith("Reminder: 90%") and sent[4]["point"] == 90
    assert offer_row(app, world.a.id, offer_id).reminders_sent == [50, 90]


def test_an_extension_resets_the_reminders(app, world, offered):
    _, lead_id, offer_id, offered_at = offered
    run_sweep(app, offered_at + timedelta(hours=5, minutes=30))
    with app.app_context(), tenant_scope(world.a.id):
        extended = offers.extend(
            offer_id, "10", "Partner asked for a day", actor=tenancy.get_user(world.a.manager.id)
        )
        new_due = extended.due_at
    offer = offer_row(app, world.a.id, offer_id)
    # The window is now twice as long: its half-way point is the old deadline.
    assert offer.reminders_sent == [] and offer.remind_at == offered_at + (new_due - offered_at) / 2
    assert run_sweep(app, offer.remind_at + timedelta(minutes=1)).reminded == 1
    assert len(events(app, world.a.id, lead_id, "remind")) == 2
    assert offer_row(app, world.a.id, offer_id).reminders_sent == [50]


def test_a_policy_without_reminder_points_sends_none(app, world):
    wall_clock_policy(app, world.a.id, points=())
    programme(app, world.a.id)
    lead_id = take_in(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        offer = db.session.scalar(sa.select(Offer).where(Offer.lead_id == lead_id))
        assert offer.remind_at is None
    assert run_sweep(app, utcnow() + timedelta(hours=9)).reminded == 0


def test_an_overdue_offer_gets_its_expiry_and_no_reminder(app, world, offered):
    _, lead_id, _, offered_at = offered
    report = run_sweep(app, offered_at + timedelta(hours=12))
    assert (report.expired, report.reminded) == (1, 0)
    assert events(app, world.a.id, lead_id, "remind") == []


def test_without_redis_the_in_process_timer_runs_the_sweep(app, world, offered):
    _, lead_id, offer_id, _ = offered
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Offer, offer_id).due_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    run_due_periodic_jobs(app, {}, now=1000.0)
    assert offer_row(app, world.a.id, offer_id).state == "expired"
    assert events(app, world.a.id, lead_id, "expire")


def test_without_redis_no_expiry_job_is_stored_for_nothing_to_run(app, world, offered):
    _, _, offer_id, offered_at = offered
    with app.app_context(), tenant_scope(world.a.id):
        assert not queue.is_async
        schedule_expiry([(offer_id, offered_at)])
        assert queue.queue("sla").scheduled_job_registry.get_job_ids() == []


def test_an_expiry_job_id_names_the_tenant_the_offers_and_their_deadline(offered):
    _, _, offer_id, offered_at = offered
    job_id = expiry_job_id(1, [offer_id, offer_id + 1], offered_at)
    assert job_id == expiry_job_id(1, [offer_id + 1, offer_id], offered_at)
    assert job_id != expiry_job_id(1, [offer_id, offer_id + 1], offered_at + timedelta(hours=1))
    assert job_id != expiry_job_id(1, [offer_id], offered_at)
    assert job_id != expiry_job_id(2, [offer_id, offer_id + 1], offered_at)


def test_the_sla_sweep_command_expires_and_says_what_it_did(app, world, offered):
    _, _, offer_id, _ = offered
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Offer, offer_id).due_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["sla", "sweep"])
    assert result.exit_code == 0, result.output
    assert "expired 1, routed 1, reminders 0" in result.output
    assert offer_row(app, world.a.id, offer_id).state == "expired"


def test_the_sla_sweep_command_refuses_an_interval_below_a_second(app):
    result = app.test_cli_runner().invoke(args=["sla", "sweep", "--loop", "--interval", "0"])
    assert result.exit_code == 2 and "interval" in result.output
