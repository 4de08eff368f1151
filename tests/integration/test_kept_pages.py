"""The inbox kept in Redis: served again without the database while nothing it shows changed,
drawn afresh after any write that may have changed it, and never for another login."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import page_versions
from portal.db import insert_rows, utcnow
from portal.extensions import db
from portal.leads import inbox as inbox_service
from portal.leads import offers
from portal.leads.models import Lead, Offer, RejectionReason
from portal.notifications.models import Notification
from portal.notifications.services import mark_all_read
from portal.sla.sweep import expire_batch
from portal.tenancy.models import User
from portal.tenancy.scoping import tenant_scope
from portal.web import kept_pages
from portal.web.kept_pages import SOURCE_HEADER
from tests.conftest import PASSWORD, build_tenant, csrf_token, login
from tests.factories import LeadFactory, UserFactory
from tests.integration.test_inbox import offered, sign_in, statements_of  # noqa: F401  (offered: a fixture)
from tests.integration.test_jobs_and_redis import worker_process
from tests.integration.test_live_routing import programme, take_in

KEPT = "kept"


def rows(response):
    return re.findall(r'data-testid="offer-row-(\d+)"', response.get_data(as_text=True))


def kept(response):
    return response.headers.get(SOURCE_HEADER) == KEPT


def in_tenant(app, world, change):
    with app.app_context(), tenant_scope(world.a.id):
        result = change()
        db.session.commit()
        return result


@pytest.fixture
def berlin(client, offered):  # noqa: F811
    """Berlin Nord's user signed in, its inbox drawn (and kept)."""
    ids, emails, leads, offer_ids = offered
    sign_in(client, emails["berlin"])
    welcome = client.get("/inbox/")  # shows the sign-in's message, so is not kept
    assert welcome.status_code == 200 and not kept(welcome) and "Signed in" in welcome.text
    assert not kept(client.get("/inbox/"))
    return ids, emails, leads, offer_ids


def test_a_reload_nothing_changed_is_served_without_the_database(world, client, berlin, caplog):
    drawn = client.get("/inbox/?page=1")
    with caplog.at_level(logging.INFO, logger="portal.access"):
        again, statements = statements_of(client, "/inbox/?page=1")
    assert again.status_code == 200 and kept(again) and not kept(drawn)
    assert statements == []
    assert again.get_data() == drawn.get_data()
    assert again.headers["Content-Security-Policy"] and again.headers["X-Request-Id"]
    assert again.headers["Cache-Control"] == "no-store"
    _, emails, *_ = berlin
    (access,) = [r for r in caplog.records if r.name == "portal.access"]
    with client.application.app_context(), tenant_scope(world.a.id):
        user_id = _user_id(emails["berlin"])
    assert (access.status, access.tenant_id, access.user_id) == (200, world.a.id, user_id)


def test_a_new_offer_to_the_partner_is_shown_at_once(app, world, client, berlin):
    lead = take_in(app, world.a.id, company_name="Müggel Werft GmbH", contact_email="m@w.example")
    page = client.get("/inbox/")
    assert not kept(page) and "Müggel Werft GmbH" in page.get_data(as_text=True)
    assert lead


def test_another_partners_offers_leave_the_page_kept(app, world, client, berlin):
    ids, *_ = berlin
    lead = take_in(
        app,
        world.a.id,
        postal_code="80331",
        company_name="Isar GmbH",
        contact_email="i@isar.example",
    )
    holders = in_tenant(app, world, lambda: holders_of(lead))
    assert holders and ids["berlin"] not in holders
    assert kept(client.get("/inbox/"))


def test_an_answer_from_a_colleague_removes_the_row(app, world, client, berlin):
    ids, _, leads, offer_ids = berlin
    colleague = {"email": "second@partners.example", "partner_id": ids["berlin"]}
    in_tenant(app, world, lambda: UserFactory(role="partner_user", **colleague))
    other = app.test_client()
    assert login(other, "second@partners.example", PASSWORD).status_code == 302
    token = csrf_token(other, f"/inbox/offers/{offer_ids[leads[0]]}")
    answer = other.post(f"/inbox/offers/{offer_ids[leads[0]]}/accept", data={"csrf_token": token})
    assert answer.status_code == 302
    page = client.get("/inbox/")
    assert not kept(page) and rows(page) == [str(offer_ids[leads[1]])]


def holders_of(lead_id):
    return set(db.session.scalars(sa.select(Offer.partner_id).where(Offer.lead_id == lead_id)))


def set_column(model, row_id, column, value):
    setattr(db.session.get(model, row_id), column, value)


def _user_id(email):
    return db.session.scalar(sa.select(User.id).where(User.email == email))


def test_an_expiry_by_the_sweep_removes_the_row(app, world, client, berlin):
    *_, leads, offer_ids = berlin
    late = offer_ids[leads[0]]

    def overdue():
        db.session.get(Offer, late).due_at = utcnow() - timedelta(minutes=1)

    in_tenant(app, world, overdue)
    client.get("/inbox/")  # drawn again after the write above, and kept
    assert kept(client.get("/inbox/"))
    with app.app_context(), tenant_scope(world.a.id):
        assert expire_batch([late], utcnow()) == 1
    page = client.get("/inbox/")
    assert not kept(page) and str(late) not in rows(page)


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [("company_name", "Spree Logistik SE", True), ("contact_name", "Hans Meier", False)],
)
def test_a_lead_edit_changes_the_page_only_when_it_shows(
    app, world, client, berlin, column, value, shown
):
    *_, leads, _ = berlin
    in_tenant(app, world, lambda: set_column(Lead, leads[0], column, value))
    page = client.get("/inbox/")
    assert kept(page) is not shown
    assert (value in page.get_data(as_text=True)) is shown


def test_the_unread_count_follows_new_and_read_notifications(app, world, client, berlin):
    _, emails, *_ = berlin

    def note():
        user_id = _user_id(emails["berlin"])
        db.session.add(Notification(user_id=user_id, text="A new lead", link="/inbox/"))
        return user_id

    user_id = in_tenant(app, world, note)
    page = client.get("/inbox/")
    assert not kept(page) and 'data-testid="unread-count">1<' in page.get_data(as_text=True)
    assert kept(client.get("/inbox/"))
    assert in_tenant(app, world, lambda: mark_all_read(user_id)) == 1
    page = client.get("/inbox/")
    assert not kept(page) and 'data-testid="unread-count"' not in page.get_data(as_text=True)


def test_any_other_write_of_the_tenant_changes_the_page(app, world, client, berlin):
    reason = RejectionReason(code="budget", label="No budget this year", position=99)
    in_tenant(app, world, lambda: db.session.add(reason))
    page = client.get("/inbox/")
    assert not kept(page) and "No budget this year" in page.get_data(as_text=True)
    # Raw SQL, which no rule places: every page of the tenant.
    assert kept(client.get("/inbox/"))
    in_tenant(app, world, lambda: db.session.execute(sa.text("UPDATE product SET name = 'CB 2'")))
    page = client.get("/inbox/")
    assert not kept(page) and "CB 2" in page.get_data(as_text=True)


def test_another_tenants_writes_leave_the_page_kept(app, world, client, berlin):
    with app.app_context(), tenant_scope(world.b.id):
        db.session.add(RejectionReason(code="budget", label="No budget", position=99))
        db.session.commit()
    assert kept(client.get("/inbox/"))


def test_a_deactivated_user_or_ended_login_gets_no_kept_page(app, world, client, berlin):
    _, emails, *_ = berlin
    assert kept(client.get("/inbox/"))
    in_tenant(
        app,
        world,
        lambda: set_column(User, _user_id(emails["berlin"]), "active", False),
    )
    page = client.get("/inbox/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_a_user_moved_to_a_role_without_the_inbox_gets_403_not_the_kept_page(
    app, world, client, berlin
):
    _, emails, *_ = berlin
    assert kept(client.get("/inbox/"))

    def to_vendor_staff():
        user = db.session.get(User, _user_id(emails["berlin"]))
        user.role, user.partner_id = "vendor_staff", None

    in_tenant(app, world, to_vendor_staff)
    assert client.get("/inbox/").status_code == 403


def test_a_logged_out_cookie_gets_no_kept_page(client, berlin):
    assert kept(client.get("/inbox/"))
    cookie = client.get_cookie("session")
    token = csrf_token(client, "/inbox/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    client.set_cookie("session", cookie.value)  # replayed, as a thief of the cookie would
    page = client.get("/inbox/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_a_page_is_kept_per_login_and_address(app, client, offered):  # noqa: F811
    _, emails, *_ = offered
    second = app.test_client()
    for browser in (second, client):  # the same user signs in twice
        sign_in(browser, emails["berlin"])
        browser.get("/inbox/")  # the sign-in's message
    assert not kept(client.get("/inbox/")) and kept(client.get("/inbox/"))
    assert not kept(second.get("/inbox/"))  # not the other login's page
    assert kept(client.get("/inbox/"))
    assert not kept(client.get("/inbox/?page=2"))
    for path in ("/inbox/?page=1&x=1", "/inbox/?page=" + "1" * 80):
        client.get(path)
        assert not kept(client.get(path)), path


def test_a_page_with_a_message_is_drawn_and_shows_it(client, berlin):
    *_, leads, offer_ids = berlin
    token = csrf_token(client, f"/inbox/offers/{offer_ids[leads[0]]}")
    client.post(f"/inbox/offers/{offer_ids[leads[0]]}/accept", data={"csrf_token": token})
    client.get("/inbox/")
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "A message for the next page")]
    page = client.get("/inbox/")
    assert not kept(page) and "A message for the next page" in page.get_data(as_text=True)
    # A page drawn with a message is not kept; the next, without one, is.
    assert not kept(client.get("/inbox/")) and kept(client.get("/inbox/"))


def test_a_page_is_kept_no_longer_than_its_nearest_deadline(app, world, client, berlin):
    *_, leads, offer_ids = berlin
    soon = utcnow() + timedelta(seconds=5)
    in_tenant(app, world, lambda: set_column(Offer, offer_ids[leads[0]], "due_at", soon))
    client.get("/inbox/")
    with client.session_transaction() as session:
        digest = kept_pages.login_digest(session["auth_token"])
    ttl = app.extensions[page_versions.EXTENSION].pttl(f"kept:{digest}:/inbox/?")
    assert 0 < ttl <= 5000


def test_a_write_between_the_page_read_and_its_keeping_is_not_missed(
    app, world, client, berlin, monkeypatch
):
    """The stamp is read before the page's rows: a commit after them, before the page is kept,
    leaves a page whose stamp no longer matches."""
    *_, leads, _ = berlin
    read = inbox_service.inbox

    def read_then_someone_writes(*args, **kwargs):
        page = read(*args, **kwargs)
        db.session.get(Lead, leads[1]).company_name = "Havel Werft AG"
        db.session.commit()
        return page

    monkeypatch.setattr(inbox_service, "inbox", read_then_someone_writes)
    in_tenant(app, world, lambda: set_column(Lead, leads[0], "company_name", "Spree AG"))
    drawn = client.get("/inbox/")
    assert not kept(drawn) and "Spree AG" in drawn.text and "Havel Werft AG" not in drawn.text
    monkeypatch.setattr(inbox_service, "inbox", read)
    page = client.get("/inbox/")
    assert not kept(page) and "Havel Werft AG" in page.get_data(as_text=True)


def test_redis_that_cannot_answer_means_pages_are_drawn(app, client, berlin, monkeypatch):
    nothing_there = kept_pages.connect("redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.extensions, page_versions.EXTENSION, nothing_there)
    for _ in range(2):
        page = client.get("/inbox/")
        assert page.status_code == 200 and not kept(page) and rows(page)


def test_the_inbox_reads_nothing_its_placing_rules_ignore(client, berlin):
    """A write to a table the rules call unshown, or of a lead or offer column they do not
    list, changes no kept page: the inbox must read none of them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(client.application.config, "KEPT_PAGE_SECONDS", 0)
        _, statements = statements_of(client, "/inbox/")
    reads = " ".join(s for s in statements if s.lstrip().upper().startswith("SELECT"))
    tables = set(re.findall(r"(?:FROM|JOIN)\s+\"?(\w+)", reads))
    assert tables and not tables & page_versions.UNSHOWN
    for table, shown in (
        ("lead", page_versions.LEAD_COLUMNS_SHOWN),
        ("offer", page_versions.OFFER_COLUMNS_SHOWN),
    ):
        used = set(re.findall(rf"\b{table}\.(\w+)", reads)) - {"id", "tenant_id"}
        assert used and used <= shown, (table, used - shown)


def test_offers_copied_in_bulk_change_the_page(app, world, client, berlin):
    ids, *_ = berlin
    assert kept(client.get("/inbox/"))

    def bulk():
        now = utcnow()
        many = LeadFactory.create_batch(120, state="offered")
        db.session.flush()
        every = {"tenant_id": world.a.id, "partner_id": ids["berlin"], "state": "open"}
        due = {"offered_at": now, "due_at": now + timedelta(days=2)}
        rows = [{**every, **due, "lead_id": lead.id} for lead in many]
        # Over COPY_FROM_ROWS: on PostgreSQL a COPY, which no statement event sees.
        insert_rows(db.session.connection(), Offer.__table__, rows)

    in_tenant(app, world, bulk)
    assert not kept(client.get("/inbox/"))


def test_offers_opened_answered_or_extended_change_their_partners_page(app, world, client, berlin):
    *_, leads, offer_ids = berlin
    client.get(f"/inbox/offers/{offer_ids[leads[1]]}")  # opened: the "new" badge goes
    page = client.get("/inbox/")
    assert not kept(page) and page.get_data(as_text=True).count(">new<") == 1
    assert kept(client.get("/inbox/"))
    with app.app_context(), tenant_scope(world.a.id):
        manager = db.session.get(User, world.a.manager.id)
        offers.extend(offer_ids[leads[0]], 24, "They asked for a day more.", actor=manager)
    assert not kept(client.get("/inbox/"))


def partner_signed_in(app, slug):
    """A tenant of its own on the app (the real Redis, real commits), and a browser signed in
    as a user of its Berlin partner; the tenant and the browser."""
    with app.app_context():
        tenant = build_tenant(slug)
    partners = programme(app, tenant.id)
    with app.app_context(), tenant_scope(tenant.id):
        UserFactory(email="p@partners.example", role="partner_user", partner_id=partners["berlin"])
        db.session.commit()
    client = app.test_client()
    sign_in(client, "p@partners.example")
    return tenant, client


def test_an_offer_a_worker_process_makes_reaches_the_kept_page(redis_app, redis_url):
    """The deployed shape: pages kept in the real Redis, the routing done by `flask rq worker`
    in a process of its own, whose commit changes the versions the web's pages were kept at."""
    tenant, client = partner_signed_in(redis_app, "kept")
    client.get("/inbox/")
    assert "No leads are waiting" in client.get("/inbox/").text
    take_in(redis_app, tenant.id, contact_email="c@c.example", company_name="Köpenick Werft")
    # Taken in, not routed yet: nothing the page shows changed, and it is still kept.
    assert kept(client.get("/inbox/"))
    worker = worker_process(redis_app, redis_url)
    assert worker.returncode == 0, worker.stderr[-2000:]
    page = client.get("/inbox/")
    assert not kept(page) and "Köpenick Werft" in page.text
    assert kept(client.get("/inbox/"))
