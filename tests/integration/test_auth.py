"""Signing in and out: credentials, sessions, timeouts, rate limits, CSRF and headers."""

from datetime import timedelta

import sqlalchemy as sa
import time_machine

from portal.db import utcnow
from portal.extensions import db
from portal.tenancy import services
from portal.tenancy.models import AuthSession
from portal.tenancy.scoping import tenant_scope, unscoped
from tests.conftest import PASSWORD, csrf_token, login, post_form
from tests.factories import UserFactory


def test_a_user_signs_in_and_lands_on_the_home_page(client, world):
    response = login(client, world.a.admin.email, follow=True)
    assert response.status_code == 200
    assert "Signed in to Tenant-A" in response.get_data(as_text=True)


def test_a_wrong_password_and_an_unknown_email_get_the_same_message(client, world):
    wrong = login(client, world.a.admin.email, "not-the-password")
    unknown = login(client, "nobody@nowhere.example", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Invalid e-mail or password." in response.get_data(as_text=True)


def test_an_empty_form_shows_an_error_next_to_each_field(client, world):
    response = post_form(client, "/login", {"email": "", "password": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter your e-mail." in page and "Enter your password." in page


def test_over_long_fields_are_refused_with_a_field_error(client, world):
    response = post_form(
        client, "/login", {"email": "a" * 300 + "@x.example", "password": "p" * 65}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Passwords have at most 64 characters." in page


def test_a_forged_csrf_token_is_refused_with_a_clear_page(client, world):
    response = client.post(
        "/login", data={"csrf_token": "forged", "email": world.a.admin.email, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "Reload the page and try again" in response.get_data(as_text=True)


def test_a_deactivated_user_is_told_so_only_with_the_right_password(app, client, world):
    with app.app_context(), tenant_scope(world.a.id):
        admin = services.get_user(world.a.admin.id)
        services.set_user_active(world.a.staff.id, False, actor=admin)
    right = login(client, world.a.staff.email)
    wrong = login(client, world.a.staff.email, "not-the-password")
    assert right.status_code == 401 and "deactivated" in right.get_data(as_text=True)
    assert "Invalid e-mail or password." in wrong.get_data(as_text=True)


def test_signing_in_renews_the_session(client, world):
    client.get("/login")
    before = client.get_cookie("session")
    login(client, world.a.admin.email)
    after = client.get_cookie("session")
    assert before is None or before.value != after.value
    assert after.http_only and after.same_site == "Lax"


def test_sign_out_ends_the_session_even_for_a_copied_cookie(client, world):
    login(client, world.a.admin.email)
    stolen = client.get_cookie("session").value
    token = csrf_token(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    client.set_cookie("session", stolen)
    assert client.get("/").status_code == 302  # back to the login page


def test_deactivating_a_user_ends_their_session_at_once(app, client, world):
    login(client, world.a.manager.email)
    assert client.get("/partners/").status_code == 200
    with app.app_context(), tenant_scope(world.a.id):
        services.set_user_active(
            world.a.manager.id, False, actor=services.get_user(world.a.admin.id)
        )
    assert client.get("/partners/").status_code == 302


def test_a_session_ends_after_the_idle_timeout(app, client, world):
    login(client, world.a.staff.email)
    with time_machine.travel(utcnow() + app.config["SESSION_IDLE"] + timedelta(minutes=1)):
        assert client.get("/").status_code == 302


def test_a_session_ends_after_the_absolute_timeout_however_active(app, client, world):
    login(client, world.a.staff.email)
    start = utcnow()
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    step = app.config["SESSION_IDLE"] / 2
    moment = start
    while moment < start + lifetime - step:
        moment += step
        with time_machine.travel(moment):
            assert client.get("/").status_code == 200
    with time_machine.travel(start + lifetime + timedelta(minutes=1)):
        assert client.get("/").status_code == 302


def test_a_person_with_accounts_in_two_tenants_chooses_one(app, client, world):
    with app.app_context(), tenant_scope(world.b.id):
        UserFactory(email=world.a.staff.email, role="vendor_staff")
        db.session.commit()
    response = login(client, world.a.staff.email)
    assert response.headers["Location"].endswith("/login/choose")
    page = client.get("/login/choose").get_data(as_text=True)
    assert "Tenant-A" in page and "Tenant-B" in page
    with app.app_context(), unscoped():
        b_account = db.session.scalar(
            sa.select(services.User.id).where(
                services.User.email == world.a.staff.email, services.User.tenant_id == world.b.id
            )
        )
    chosen = post_form(client, "/login/choose", {"account": b_account})
    assert chosen.status_code == 302
    assert "Tenant-B" in client.get("/").get_data(as_text=True)


def test_the_tenant_chooser_refuses_an_account_that_was_not_offered(client, world):
    login(client, world.a.staff.email)  # one account: signed in directly, nothing pending
    response = client.get("/login/choose")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_repeated_failures_are_rate_limited_with_a_clear_page(app, client, world):
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for _ in range(limit):
        assert login(client, world.a.admin.email, "wrong-password!").status_code == 401
    blocked = login(client, world.a.admin.email, PASSWORD)
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)


def test_successful_sign_ins_do_not_count_towards_the_limit(app, client, world):
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for _ in range(limit + 2):
        assert login(client, world.a.admin.email).status_code == 302
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_changing_the_password_keeps_this_session_and_ends_the_others(app, client, world):
    other_device = app.test_client()
    login(other_device, world.a.staff.email)
    login(client, world.a.staff.email)
    response = post_form(
        client,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "a-fresh-long-phrase",
            "confirm": "a-fresh-long-phrase",
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert other_device.get("/").status_code == 302
    assert login(app.test_client(), world.a.staff.email, "a-fresh-long-phrase").status_code == 302


def test_a_weak_or_wrong_password_change_shows_the_reason_at_its_field(client, world):
    login(client, world.a.staff.email)
    wrong = post_form(
        client,
        "/account/password",
        {
            "current_password": "nope-nope-nope",
            "new_password": "a-fresh-long-phrase",
            "confirm": "a-fresh-long-phrase",
        },
    )
    assert wrong.status_code == 400 and "This is not your current password." in wrong.get_data(
        as_text=True
    )
    common = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "password123", "confirm": "password123"},
    )
    assert common.status_code == 400 and "most common" in common.get_data(as_text=True)


def test_every_page_carries_the_security_headers(client, world):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]


def test_the_session_cookie_is_secure_in_production(database_url):
    from portal import create_app

    app = create_app(
        {
            "PORTAL_ENV": "production",
            "SECRET_KEY": "x" * 32,
            "SQLALCHEMY_DATABASE_URI": database_url,
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_login_records_the_session_and_logout_ends_it(app, client, world):
    login(client, world.a.admin.email)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    with app.app_context(), tenant_scope(world.a.id):
        sessions = db.session.scalars(
            sa.select(AuthSession).where(AuthSession.user_id == world.a.admin.id)
        ).all()
    assert len(sessions) == 1 and sessions[0].ended_at is not None


def test_the_login_is_looked_for_only_in_the_tenant_the_cookie_names(client, world):
    login(client, world.a.admin.email)
    assert client.get("/admin/users").status_code == 200
    with client.session_transaction() as cookie:
        assert cookie["tenant_id"] == world.a.id
        cookie["tenant_id"] = world.b.id
    # Not found in tenant B: signed out, and nothing of either tenant is shown.
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_cookie_from_before_it_named_its_tenant_still_signs_in(client, world):
    login(client, world.a.admin.email)
    with client.session_transaction() as cookie:
        del cookie["tenant_id"]
    assert client.get("/admin/users").status_code == 200
