"""Webhooks: endpoints registered by admins, deliveries of lead events signed with
HMAC-SHA256, retried with backoff when the endpoint hangs, fails or cannot be reached."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.db import utcnow
from portal.extensions import db
from portal.leads import offers
from portal.leads.models import LeadEvent, Offer
from portal.notifications import fanout, webhooks
from portal.notifications.models import WebhookDelivery, WebhookEndpoint
from portal.notifications.tasks import catch_up_everywhere, send_due_everywhere
from portal.sla import sweep
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.conftest import login, post_form
from tests.fakes import fake_endpoint
from tests.integration.test_live_routing import programme, take_in
from tests.integration.test_notifications import run


@pytest.fixture
def hook(app):
    with fake_endpoint() as endpoint:
        saved = app.config["WEBHOOK_TIMEOUT_SECONDS"]
        app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.5
        try:
            yield endpoint
        finally:
            app.config["WEBHOOK_TIMEOUT_SECONDS"] = saved


def register(app, tenant_id, url, events=("offered", "accepted", "rejected")):
    with app.app_context(), tenant_scope(tenant_id):
        admin = db.session.scalar(sa.select(tenancy.User).where(tenancy.User.role == "admin"))
        endpoint, secret = webhooks.create_endpoint(url, list(events), actor=admin)
        return endpoint.id, secret


def deliveries(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        rows = db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def verify(secret, received):
    timestamp = received.headers["X-Portal-Timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(received.headers["X-Portal-Signature"], f"sha256={expected}")


def make_due(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        db.session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.state == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def test_an_offer_is_posted_to_the_endpoint_signed(app, world, hook):
    ids = programme(app, world.a.id)
    endpoint_id, secret = register(app, world.a.id, hook.url)
    lead_id = take_in(app, world.a.id, external_id="CRM-1")
    [received] = hook.requests
    assert verify(secret, received)
    assert not verify("another secret", received)
    body = json.loads(received.body)
    assert body["event"] == "offered" and body["lead_id"] == lead_id
    assert body["external_id"] == "CRM-1" and body["state"] == "offered"
    assert body["partner"] == {"id": ids["berlin"], "name": "Berlin Nord"}
    assert body["offer_id"] and body["occurred_at"]
    assert received.headers["X-Portal-Event"] == "offered"
    [delivery] = deliveries(app, world.a.id)
    assert delivery.state == "sent" and delivery.response_status == 200
    assert delivery.attempts == 1 and delivery.duration_ms is not None
    assert delivery.endpoint_id == endpoint_id


def test_only_the_subscribed_events_are_sent(app, world, hook):
    programme(app, world.a.id)
    register(app, world.a.id, hook.url, events=("won",))
    take_in(app, world.a.id)
    assert hook.requests == [] and deliveries(app, world.a.id) == []


def test_an_expiry_by_the_sweep_and_the_next_offer_are_posted_at_once(app, world, hook):
    """The sweep writes its events in one statement, past the ORM; they are sent all the same,
    on its commit, without waiting for the catch-up."""
    programme(app, world.a.id)
    register(app, world.a.id, hook.url, events=("offered", "expired"))
    lead_id = take_in(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        offer = db.session.scalar(sa.select(Offer).where(Offer.lead_id == lead_id))
        first_partner = offer.partner_id
    with app.app_context():
        sweep.sweep(offer.due_at + timedelta(seconds=1))
    bodies = [json.loads(r.body) for r in hook.requests]
    assert [(b["event"], b["lead_id"]) for b in bodies] == [
        ("offered", lead_id),
        ("expired", lead_id),
        ("offered", lead_id),
    ]
    assert bodies[1]["partner"]["id"] == first_partner != bodies[2]["partner"]["id"]
    assert [d.state for d in deliveries(app, world.a.id)] == ["sent"] * 3


def test_an_endpoint_answering_500_is_retried_with_backoff_then_failed(app, world, hook):
    programme(app, world.a.id)
    hook.status = 500
    register(app, world.a.id, hook.url)
    app.config["WEBHOOK_MAX_ATTEMPTS"], saved = 3, app.config["WEBHOOK_MAX_ATTEMPTS"]
    try:
        take_in(app, world.a.id)
        [delivery] = deliveries(app, world.a.id)
        assert delivery.state == "pending" and delivery.attempts == 1
        assert delivery.response_status == 500 and "500" in delivery.error
        first_wait = delivery.next_attempt_at - utcnow()
        assert timedelta(seconds=20) < first_wait <= timedelta(seconds=30)
        with app.app_context():
            assert send_due_everywhere() == 0  # not due yet
        waits = []
        for _ in range(2):
            make_due(app, world.a.id)
            with app.app_context():
                send_due_everywhere()
            [delivery] = deliveries(app, world.a.id)
            waits.append(delivery.next_attempt_at - utcnow())
    finally:
        app.config["WEBHOOK_MAX_ATTEMPTS"] = saved
    assert delivery.state == "failed" and delivery.attempts == 3
    assert len(hook.requests) == 3
    # Each retry is signed afresh, with the same body.
    assert len({r.body for r in hook.requests}) == 1


def test_a_hanging_endpoint_times_out_and_the_offer_is_made_all_the_same(app, world, hook):
    programme(app, world.a.id)
    hook.hang_seconds = 2
    register(app, world.a.id, hook.url)
    lead_id = take_in(app, world.a.id)
    [delivery] = deliveries(app, world.a.id)
    assert delivery.state == "pending" and delivery.attempts == 1
    assert "No answer within 0.5 s" in delivery.error and delivery.response_status is None
    with app.app_context(), tenant_scope(world.a.id):
        assert (
            db.session.scalar(
                sa.select(LeadEvent.action)
                .where(LeadEvent.lead_id == lead_id)
                .order_by(LeadEvent.id.desc())
            )
            == "route"
        )


def test_an_unreachable_endpoint_is_an_error_on_the_delivery(app, world):
    programme(app, world.a.id)
    with fake_endpoint() as gone:
        url = gone.url
    register(app, world.a.id, url)
    take_in(app, world.a.id)
    [delivery] = deliveries(app, world.a.id)
    assert delivery.state == "pending" and "Could not reach the endpoint" in delivery.error


def test_the_catch_up_makes_no_second_delivery(app, world, hook):
    programme(app, world.a.id)
    register(app, world.a.id, hook.url)
    take_in(app, world.a.id)
    with app.app_context():
        catch_up_everywhere()
        catch_up_everywhere()
    with app.app_context(), tenant_scope(world.a.id):
        fanout.fan_out(db.session.scalars(sa.select(LeadEvent.id)).all())
    assert len(deliveries(app, world.a.id)) == 1 and len(hook.requests) == 1


def test_an_accept_is_sent_with_the_offer_id(app, world, hook):
    from tests.factories import UserFactory

    ids = programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        user_id = UserFactory(role="partner_user", partner_id=ids["berlin"]).id
        db.session.commit()
    register(app, world.a.id, hook.url)
    take_in(app, world.a.id)
    offer_id = json.loads(hook.requests[0].body)["offer_id"]
    run(app, world.a.id, offers.accept, offer_id, user=user_id)
    body = json.loads(hook.requests[-1].body)
    assert body["event"] == "accepted" and body["offer_id"] == offer_id
    assert body["state"] == "accepted"


# The pages ---------------------------------------------------------------------------------


def test_the_admin_registers_an_endpoint_and_sees_its_secret_once(app, world, client, hook):
    login(client, world.a.admin.email)
    response = post_form(
        client, "/admin/webhooks/", {"url": hook.url, "events": ["offered", "won"]}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="new-webhook-secret"' in page
    with app.app_context(), tenant_scope(world.a.id):
        endpoint = db.session.scalar(sa.select(WebhookEndpoint))
        assert endpoint.events == ["offered", "won"] and endpoint.secret in page
    again = client.get("/admin/webhooks/").get_data(as_text=True)
    assert endpoint.secret not in again and hook.url in again


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/hook", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("http://no-such-host.invalid/hook", "cannot be found"),
        ("", "Give the URL"),
    ],
)
def test_a_url_that_is_not_http_or_points_at_nothing_is_refused_at_its_field(
    app, world, client, url, message
):
    login(client, world.a.admin.email)
    response = post_form(client, "/admin/webhooks/", {"url": url, "events": ["offered"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="url-error"' in page and message in page
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_no_event_ticked_is_refused_at_its_field(app, world, client, hook):
    login(client, world.a.admin.email)
    response = post_form(client, "/admin/webhooks/", {"url": hook.url})
    assert response.status_code == 400 and 'id="events-error"' in response.get_data(as_text=True)


def test_send_test_event_and_send_again_show_in_the_delivery_log(app, world, client, hook):
    endpoint_id, secret = register(app, world.a.id, hook.url)
    login(client, world.a.admin.email)
    log_url = f"/admin/webhooks/{endpoint_id}/deliveries"
    response = post_form(client, f"/admin/webhooks/{endpoint_id}/test", {}, log_url)
    assert response.status_code == 302
    [received] = hook.requests
    assert json.loads(received.body)["event"] == "test" and verify(secret, received)
    [delivery] = deliveries(app, world.a.id)
    response = post_form(
        client, f"/admin/webhooks/{endpoint_id}/deliveries/{delivery.id}/again", {}, log_url
    )
    assert response.status_code == 302 and len(hook.requests) == 2
    rows = deliveries(app, world.a.id)
    assert [r.resend_of_id for r in rows] == [None, delivery.id]
    assert all(r.state == "sent" for r in rows)
    page = client.get(log_url).get_data(as_text=True)
    assert page.count('data-testid="delivery"') == 2 and f"again of {delivery.id}" in page


def test_editing_an_endpoint_can_deactivate_it(app, world, client, hook):
    endpoint_id, _ = register(app, world.a.id, hook.url)
    login(client, world.a.admin.email)
    response = post_form(
        client, f"/admin/webhooks/{endpoint_id}/edit", {"url": hook.url, "events": ["won"]}
    )
    assert response.status_code == 302
    with app.app_context(), tenant_scope(world.a.id):
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert endpoint.active is False and endpoint.events == ["won"]


@pytest.mark.parametrize("role", ["channel_manager", "vendor_staff", "partner_user"])
def test_webhook_pages_are_for_admins_only(app, world, client, hook, role):
    endpoint_id, _ = register(app, world.a.id, hook.url)
    login(client, world.a.person(role).email)
    assert client.get("/admin/webhooks/").status_code == 403
    assert client.get(f"/admin/webhooks/{endpoint_id}/deliveries").status_code == 403
    assert client.get(f"/admin/webhooks/{endpoint_id}/edit").status_code == 403


def test_another_tenants_endpoint_and_deliveries_are_not_found(app, world, client, hook):
    endpoint_id, _ = register(app, world.a.id, hook.url)
    login(client, world.a.admin.email)
    post_form(
        client,
        f"/admin/webhooks/{endpoint_id}/test",
        {},
        f"/admin/webhooks/{endpoint_id}/deliveries",
    )
    [delivery] = deliveries(app, world.a.id)
    other = app.test_client()
    login(other, world.b.admin.email)
    assert other.get(f"/admin/webhooks/{endpoint_id}/deliveries").status_code == 404
    assert other.get(f"/admin/webhooks/{endpoint_id}/edit").status_code == 404
    for path in (f"{endpoint_id}/test", f"{endpoint_id}/deliveries/{delivery.id}/again"):
        response = post_form(other, f"/admin/webhooks/{path}", {}, "/admin/webhooks/")
        assert response.status_code == 404
    assert len(hook.requests) == 1
    assert hook.url not in other.get("/admin/webhooks/").get_data(as_text=True)


# Through Redis -----------------------------------------------------------------------------


def test_with_redis_the_commit_queues_the_fan_out_and_a_worker_delivers(tmp_path, redis_url):
    from rq import SimpleWorker

    from portal.extensions import queue
    from tests.conftest import build_tenant, fresh_database, make_app

    with fresh_database(tmp_path) as url, fake_endpoint() as hook:
        app = make_app(url, REDIS_URL=redis_url, RATELIMIT_STORAGE_URI=redis_url)
        try:
            with app.app_context():
                tenant = build_tenant("hooks")
            programme(app, tenant.id)
            _, secret = register(app, tenant.id, hook.url)
            take_in(app, tenant.id)
            with app.app_context():
                # Routing, then the fan-out of the offer it made, each wait for a worker.
                routing, notifications = queue.queue("routing"), queue.queue("notifications")
                assert SimpleWorker([routing], connection=queue.connection).work(burst=True)
                assert notifications.count == 1 and hook.requests == []
                worker = SimpleWorker([notifications], connection=queue.connection)
                assert worker.work(burst=True)
            [received] = hook.requests
            assert verify(secret, received)
            [delivery] = deliveries(app, tenant.id)
            assert delivery.state == "sent"
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
