"""The fan-out of lead events into notifications and e-mails, the e-mail outbox over SMTP,
and the notifications page with its unread count."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal.db import utcnow
from portal.extensions import db
from portal.leads import offers
from portal.leads.models import LeadEvent, Offer
from portal.notifications import fanout, mail
from portal.notifications.models import FanOutCursor, Notification, OutboundEmail
from portal.notifications.tasks import catch_up_everywhere
from portal.partners.models import Partner
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.conftest import post_form
from tests.factories import UserFactory
from tests.fakes import fake_smtp
from tests.integration.test_live_routing import programme, take_in


@pytest.fixture
def routed(app, world):
    """A lead of tenant A offered to Berlin Nord, whose user is told; a user of each partner."""
    ids = programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        users = {
            name: UserFactory(
                email=f"{name}@partners.example", role="partner_user", partner_id=pid
            ).id
            for name, pid in ids.items()
        }
        db.session.commit()
    lead_id = take_in(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        offer_id = db.session.scalar(sa.select(Offer.id).where(Offer.lead_id == lead_id))
    return ids, users, lead_id, offer_id


def notes(app, tenant_id, **where):
    with app.app_context(), tenant_scope(tenant_id):
        query = sa.select(Notification).order_by(Notification.id)
        for name, value in where.items():
            query = query.where(getattr(Notification, name) == value)
        return [(n.user_id, n.text, n.link, n.read_at) for n in db.session.scalars(query)]


def mails(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        return [
            (m.recipient, m.subject, m.state)
            for m in db.session.scalars(sa.select(OutboundEmail).order_by(OutboundEmail.id))
        ]


def run(app, tenant_id, fn, *args, user=None, **kwargs):
    with app.app_context(), tenant_scope(tenant_id):
        if user is not None:
            kwargs["actor"] = tenancy.get_user(user)
        return fn(*args, **kwargs)


def test_the_partner_users_are_told_when_a_lead_is_offered_to_them(app, world, routed):
    _ids, users, _lead_id, offer_id = routed
    [(user_id, text, link, read_at)] = notes(app, world.a.id)
    assert user_id == users["berlin"] and read_at is None
    assert "Spree Logistik GmbH" in text and "answer by" in text
    assert link == f"/inbox/offers/{offer_id}"
    # Without SMTP_HOST the e-mail is written to the log and marked sent.
    assert mails(app, world.a.id) == [
        ("berlin@partners.example", "New lead offered: Spree Logistik GmbH", "sent")
    ]


def test_the_deadline_is_written_in_the_reader_s_own_time_zone(app, world, routed):
    ids, users, _lead_id, offer_id = routed
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Partner, ids["germany"]).timezone = "Europe/Berlin"
        db.session.commit()
    run(app, world.a.id, offers.reject, offer_id, "not_my_territory", None, user=users["berlin"])
    [(_, text, _, _)] = notes(app, world.a.id, user_id=users["germany"])
    with app.app_context(), tenant_scope(world.a.id):
        due = db.session.scalar(
            sa.select(Offer.due_at).where(Offer.partner_id == ids["germany"], Offer.state == "open")
        )
    berlin_time = due.astimezone(ZoneInfo("Europe/Berlin"))
    assert text.endswith(f"answer by {berlin_time:%-d %b %Y, %H:%M} CET.")


def test_channel_managers_are_told_of_a_rejection_and_the_next_partner_of_its_offer(
    app, world, routed
):
    _ids, users, lead_id, offer_id = routed
    run(app, world.a.id, offers.reject, offer_id, "not_my_territory", None, user=users["berlin"])
    manager_notes = notes(app, world.a.id, user_id=world.a.manager.id)
    assert len(manager_notes) == 1
    assert "rejected Spree Logistik GmbH" in manager_notes[0][1]
    assert manager_notes[0][2] == f"/leads/{lead_id}"
    germany = notes(app, world.a.id, user_id=users["germany"])
    assert len(germany) == 1 and "offered" in germany[0][1]
    # Nobody of another partner, nor of tenant B, hears of it.
    assert notes(app, world.a.id, user_id=users["europa"]) == []
    assert notes(app, world.b.id) == []


def test_accepting_tells_no_one_in_the_app(app, world, routed):
    _ids, users, _lead_id, offer_id = routed
    before = notes(app, world.a.id)
    run(app, world.a.id, offers.accept, offer_id, user=users["berlin"])
    assert notes(app, world.a.id) == before


def test_a_fan_out_run_twice_creates_nothing_more(app, world, routed):
    with app.app_context(), tenant_scope(world.a.id):
        ids = list(db.session.scalars(sa.select(LeadEvent.id)))
        made = fanout.fan_out(ids)
    assert made.emails == [] and made.deliveries == [] and made.notifications == 0
    assert len(notes(app, world.a.id)) == 1


def test_the_catch_up_fans_out_what_a_lost_job_missed_and_only_once(app, world, routed):
    _ids, _users, _lead_id, _offer_id = routed
    with app.app_context(), tenant_scope(world.a.id):
        # As if the job of the offer had been lost: nothing was made of its event.
        db.session.execute(sa.delete(Notification))
        db.session.execute(sa.delete(OutboundEmail))
        db.session.commit()
    assert notes(app, world.a.id) == []
    with app.app_context():
        assert catch_up_everywhere() > 0
    assert len(notes(app, world.a.id)) == 1
    assert len(mails(app, world.a.id)) == 1
    with app.app_context():
        assert catch_up_everywhere() == 0  # the cursor moved on: nothing is read again
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(sa.update(FanOutCursor).values(last_event_id=0))
        db.session.commit()
    with app.app_context():
        catch_up_everywhere()  # re-reading from the start makes nothing new
    assert len(notes(app, world.a.id)) == 1
    assert len(mails(app, world.a.id)) == 1


# The e-mail outbox over SMTP -----------------------------------------------------------------


@pytest.fixture
def smtp(app):
    with fake_smtp() as server:
        saved = {k: app.config[k] for k in ("SMTP_HOST", "SMTP_PORT")}
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port)
        try:
            yield server
        finally:
            app.config.update(saved)


def queue_mail(app, tenant_id, recipient="someone@example.org"):
    with app.app_context(), tenant_scope(tenant_id):
        row = OutboundEmail(recipient=recipient, subject="Hello", body="A line.\n")
        db.session.add(row)
        db.session.commit()
        return row.id


def mail_row(app, tenant_id, email_id):
    with app.app_context(), tenant_scope(tenant_id):
        row = db.session.get(OutboundEmail, email_id)
        db.session.expunge(row)
        return row


def test_the_mail_job_sends_the_outbox_over_smtp(app, world, smtp):
    email_id = queue_mail(app, world.a.id)
    assert run(app, world.a.id, mail.send_email, email_id) is True
    [(_sender, recipients, data)] = smtp.messages
    assert recipients == ["someone@example.org"] and "Subject: Hello" in data
    row = mail_row(app, world.a.id, email_id)
    assert row.state == "sent" and row.attempts == 1 and row.sent_at is not None
    # Sending again does nothing: it is not pending any more.
    assert run(app, world.a.id, mail.send_email, email_id) is False
    assert len(smtp.messages) == 1


def test_mails_sent_together_go_over_one_connection_each_once(app, world, smtp):
    ids = [queue_mail(app, world.a.id) for _ in range(3)]
    assert run(app, world.a.id, mail.send_emails, [*ids, ids[0]]) == 3
    assert len(smtp.messages) == 3 and smtp.connections == 1
    assert {mail_row(app, world.a.id, i).state for i in ids} == {"sent"}
    assert run(app, world.a.id, mail.send_emails, ids) == 0


def test_a_refused_mail_is_retried_later_with_a_growing_delay_then_failed(app, world, smtp):
    smtp.refuse_with = 451
    email_id = queue_mail(app, world.a.id)
    assert run(app, world.a.id, mail.send_email, email_id) is False
    row = mail_row(app, world.a.id, email_id)
    assert row.state == "pending" and row.attempts == 1 and "451" in row.last_error
    first_wait = row.next_attempt_at - utcnow()
    assert timedelta(seconds=20) < first_wait <= timedelta(seconds=30)
    # Not due yet: the periodic run leaves it alone.
    assert run(app, world.a.id, mail.send_due) == 0
    app.config["MAIL_MAX_ATTEMPTS"], saved = 3, app.config["MAIL_MAX_ATTEMPTS"]
    try:
        for attempts in (2, 3):
            with app.app_context(), tenant_scope(world.a.id):
                db.session.execute(
                    sa.update(OutboundEmail).values(next_attempt_at=utcnow() - timedelta(1))
                )
                db.session.commit()
            run(app, world.a.id, mail.send_due)
            row = mail_row(app, world.a.id, email_id)
            assert row.attempts == attempts
    finally:
        app.config["MAIL_MAX_ATTEMPTS"] = saved
    assert row.state == "failed" and smtp.messages == []


def test_an_unreachable_mail_server_is_an_error_on_the_mail_not_a_crash(app, world):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=1)
    try:
        email_id = queue_mail(app, world.a.id)
        assert run(app, world.a.id, mail.send_email, email_id) is False
    finally:
        app.config.update(SMTP_HOST=None, SMTP_PORT=587)
    row = mail_row(app, world.a.id, email_id)
    assert row.state == "pending" and row.last_error


# The notifications page and the unread count -------------------------------------------------


def test_the_partner_user_sees_the_unread_count_and_opens_the_offer(app, world, routed, client):
    _, users, _, offer_id = routed
    from tests.conftest import login

    login(client, "berlin@partners.example")
    page = client.get("/notifications/").get_data(as_text=True)
    assert 'data-testid="unread-count">1<' in page
    assert "Spree Logistik GmbH" in page
    [(note_id,)] = _note_ids(app, world.a.id, users["berlin"])
    response = post_form(client, f"/notifications/{note_id}/read", {"open": "1"}, "/notifications/")
    assert response.status_code == 302 and response.location.endswith(f"/inbox/offers/{offer_id}")
    assert 'data-testid="unread-count"' not in client.get("/notifications/").get_data(as_text=True)


def test_the_unread_count_is_read_by_the_login_query_not_by_one_of_its_own(
    app, world, routed, client
):
    from tests.conftest import login

    login(client, "berlin@partners.example")
    seen = []

    def record(connection, cursor, statement, *args):
        seen.append(statement.lower())

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        page = client.get("/inbox/").get_data(as_text=True)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    assert 'data-testid="unread-count">1<' in page
    counting = [s for s in seen if "from notification" in s]
    assert len(counting) == 1 and "from auth_session" in counting[0]


def _note_ids(app, tenant_id, user_id):
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.execute(
            sa.select(Notification.id).where(Notification.user_id == user_id)
        ).all()


def test_mark_all_read_clears_the_count(app, world, routed, client):
    from tests.conftest import login

    _, users, _, offer_id = routed
    run(app, world.a.id, offers.reject, offer_id, "not_my_territory", None, user=users["berlin"])
    login(client, world.a.manager.email)
    assert 'data-testid="unread-count">1<' in client.get("/").get_data(as_text=True)
    response = post_form(client, "/notifications/read-all", {}, "/notifications/")
    assert response.status_code == 302
    assert notes(app, world.a.id, user_id=world.a.manager.id)[0][3] is not None


def test_another_users_or_another_tenants_notification_is_not_found(app, world, routed, client):
    from tests.conftest import login

    _, users, _, _ = routed
    [(note_id,)] = _note_ids(app, world.a.id, users["berlin"])
    login(client, "germany@partners.example")  # same tenant, another partner
    response = post_form(client, f"/notifications/{note_id}/read", {}, "/notifications/")
    assert response.status_code == 404
    client2 = app.test_client()
    login(client2, world.b.partner_user.email)
    assert post_form(client2, f"/notifications/{note_id}/read", {}, "/").status_code == 404
    assert notes(app, world.a.id, user_id=users["berlin"])[0][3] is None


def test_the_notifications_page_needs_a_signed_in_user(client):
    response = client.get("/notifications/")
    assert response.status_code == 302 and "/login" in response.location
