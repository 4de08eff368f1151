"""Logins kept in Redis: a signed-in request after the first runs no login query, and any
write that may change the answer (a logout, a deactivation, a role, partner or tenant change,
a notification) is seen by the next request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import page_versions
from portal.db import utcnow
from portal.extensions import db
from portal.leads.models import RejectionReason
from portal.notifications.models import Notification
from portal.partners.models import Partner
from portal.tenancy import services
from portal.tenancy.models import AuthSession, User
from portal.tenancy.scoping import tenant_scope, unscoped
from portal.tenancy.services import SESSION_TOUCH_EVERY
from portal.web import kept_logins, kept_pages
from tests.conftest import PASSWORD, csrf_token, login
from tests.integration.test_inbox import offered, sign_in, statements_of  # noqa: F401  (offered: a fixture)
from tests.integration.test_jobs_and_redis import ROOT
from tests.integration.test_kept_pages import partner_signed_in

# A page no kept page stands in for: every request of it looks its login up.
PAGE = "/inbox/leads/"


def login_queries(client, path=PAGE):
    response, statements = statements_of(client, path)
    return response, [s for s in statements if "auth_session" in s]


def in_tenant(app, world, change):
    with app.app_context(), tenant_scope(world.a.id):
        result = change()
        db.session.commit()
        return result


def user_of(email):
    return db.session.scalar(sa.select(User).where(User.email == email))


@pytest.fixture
def berlin(client, offered):  # noqa: F811
    """Berlin Nord's user signed in, the login looked up once (and kept)."""
    ids, emails, *_ = offered
    sign_in(client, emails["berlin"])
    first, looked_up = login_queries(client)
    assert first.status_code == 200 and looked_up
    return ids, emails


def test_the_next_request_takes_the_login_from_redis(app, world, client, berlin):
    page, looked_up = login_queries(client)
    assert page.status_code == 200 and looked_up == []
    # The kept rows are whole enough for the page: the partner's name, the user's menu.
    assert "My leads" in page.text and "Sign out" in page.text
    inbox, looked_up = login_queries(client, "/inbox/")
    assert looked_up == [] and "Berlin Nord" in inbox.text


def test_no_password_hash_is_copied_to_redis(app, world, client, berlin):
    _, emails = berlin
    connection = app.extensions[page_versions.EXTENSION]
    token = _token(client)
    entry = connection.get("kl:" + kept_pages.login_digest(token))
    with app.app_context(), tenant_scope(world.a.id):
        password_hash = user_of(emails["berlin"]).password_hash
    assert entry and b"password_hash" not in entry and password_hash.encode() not in entry


def test_the_password_is_checked_and_changed_on_a_kept_login(app, world, client, berlin):
    _, emails = berlin
    assert login_queries(client)[1] == []
    token = csrf_token(client, "/account/password")
    form = {"csrf_token": token, "current_password": "not it", "new_password": "x"}
    wrong = client.post("/account/password", data={**form, "confirm": "x"})
    assert wrong.status_code == 400
    new = "Another-partner-pass-2026"
    form = {"csrf_token": token, "current_password": PASSWORD, "new_password": new}
    changed = client.post("/account/password", data={**form, "confirm": new})
    assert changed.status_code == 302
    other = app.test_client()
    assert login(other, emails["berlin"], new).status_code == 302


def test_an_entry_of_another_shape_is_passed_over(app, client, berlin):
    """As an older release's entry would be, during a deployment: the database answers."""
    connection = app.extensions[page_versions.EXTENSION]
    key = "kl:" + kept_pages.login_digest(_token(client))
    entry = json.loads(connection.get(key))
    entry["rows"] = [row for row in entry["rows"] if row[0] != "AuthSession"]
    for other in (json.dumps(entry), "not JSON"):
        connection.set(key, other, px=30_000)
        page, looked_up = login_queries(client)
        assert page.status_code == 200 and looked_up


def test_a_deactivation_signs_out_at_the_next_request(app, world, client, berlin):
    _, emails = berlin
    in_tenant(app, world, lambda: setattr(user_of(emails["berlin"]), "active", False))
    page = client.get(PAGE)
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_a_role_change_is_seen_by_the_next_request(app, world, client, berlin):
    _, emails = berlin

    def to_vendor_staff():
        user = user_of(emails["berlin"])
        user.role, user.partner_id = "vendor_staff", None

    in_tenant(app, world, to_vendor_staff)
    assert client.get(PAGE).status_code == 403


def test_a_logged_out_cookie_replayed_is_signed_out(client, berlin):
    cookie = client.get_cookie("session")
    token = csrf_token(client, PAGE)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    client.set_cookie("session", cookie.value)
    page = client.get(PAGE)
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_a_logout_leaves_other_tenants_logins_kept(app, world, client, berlin):
    other = app.test_client()
    assert login(other, world.b.staff.email).status_code == 302
    assert login_queries(other, "/")[1]  # looked up, and kept
    assert client.post("/logout", data={"csrf_token": csrf_token(client, PAGE)}).status_code == 302
    page, looked_up = login_queries(other, "/")
    assert page.status_code == 200 and looked_up == []
    assert client.get(PAGE).status_code == 302


def test_a_login_ended_elsewhere_is_seen(app, world, client, berlin):

    def end_every_login():
        db.session.execute(sa.update(AuthSession).values(ended_at=utcnow()))

    in_tenant(app, world, end_every_login)
    page = client.get(PAGE)
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_a_renamed_partner_and_a_new_notification_are_shown(app, world, client, berlin):
    ids, emails = berlin
    in_tenant(app, world, lambda: setattr(db.session.get(Partner, ids["berlin"]), "name", "B-Nord"))
    assert "B-Nord" in client.get("/inbox/").text

    def note():
        user = user_of(emails["berlin"])
        db.session.add(Notification(user_id=user.id, text="A new lead", link="/inbox/"))

    in_tenant(app, world, note)
    page, looked_up = login_queries(client)
    assert looked_up and 'data-testid="unread-count">1<' in page.text


def test_another_tenants_writes_leave_the_login_kept(app, world, client, berlin):
    with app.app_context(), tenant_scope(world.b.id):
        db.session.add(RejectionReason(code="budget", label="No budget", position=99))
        db.session.commit()
    assert login_queries(client)[1] == []


def test_the_idle_clock_is_moved_on_by_the_database(app, client, berlin, monkeypatch):
    assert login_queries(client)[1] == []
    later = utcnow() + SESSION_TOUCH_EVERY + timedelta(seconds=5)
    for module in (kept_logins, services):
        monkeypatch.setattr(module, "utcnow", lambda: later)
    page, looked_up = login_queries(client)
    assert page.status_code == 200 and looked_up
    with app.app_context(), unscoped():
        last_seen = db.session.scalar(sa.select(sa.func.max(AuthSession.last_seen_at)))
    assert last_seen == later
    assert login_queries(client)[1] == []


def test_redis_that_cannot_answer_means_the_login_is_looked_up(app, client, berlin, monkeypatch):
    nothing_there = kept_pages.connect("redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.extensions, page_versions.EXTENSION, nothing_there)
    for _ in range(2):
        page, looked_up = login_queries(client)
        assert page.status_code == 200 and looked_up


def test_nothing_is_kept_when_keeping_is_off(app, client, berlin, monkeypatch):
    monkeypatch.setitem(app.config, "KEPT_PAGE_SECONDS", 0)
    assert login_queries(client)[1]


def _token(client):
    with client.session_transaction() as session:
        return session["auth_token"]


# A web process's first request, from the cookie given: its status, and whether it read the
# login from the database.
FIRST_REQUEST = """
import sys
import sqlalchemy as sa
from wsgi import app
seen = []
sa.event.listen(sa.engine.Engine, "before_cursor_execute", lambda c, k, sql, *a: seen.append(sql))
client = app.test_client()
client.set_cookie("session", sys.argv[1])
page = client.get(sys.argv[2])
print(page.status_code, any("auth_session" in sql for sql in seen))
"""


def test_a_new_processs_first_request_takes_the_kept_login(redis_app, redis_url):
    """gunicorn starts processes all the time (max_requests): the first request of one may
    revive a kept login before any query has set SQLAlchemy's mappers up."""
    _, client = partner_signed_in(redis_app, "kept-login")
    assert client.get(PAGE).status_code == 200  # the login looked up, and kept
    env = {
        **os.environ,
        "PORTAL_ENV": "testing",
        "DATABASE_URL": redis_app.config["TEST_DATABASE_URL"],
        "REDIS_URL": redis_url,
        "SECRET_KEY": redis_app.config["SECRET_KEY"],
    }
    cookie = client.get_cookie("session").value
    result = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST, cookie, PAGE],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["200", "False"], result.stderr[-2000:]
