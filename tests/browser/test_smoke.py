"""Smoke tests in a real browser: sign in, see your own navigation, be refused, sign out."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.tenancy.models import User
from portal.tenancy.policy import rule_for
from portal.tenancy.roles import Role, can
from portal.tenancy.scoping import unscoped
from portal.web.navigation import NAVIGATION
from tests.browser.conftest import LiveServer
from tests.factories import PASSWORD

# What each role must see in the navigation bar and what it must not, written out by hand
# so that a mistake in roles.py or navigation.py cannot hide behind the computed list.
SEES = {
    "admin": (["Users", "API keys", "Audit log"], ["Inbox"]),
    "channel_manager": (["Leads", "Partners"], ["Users", "Inbox"]),
    "vendor_staff": (["Leads", "Partners", "Scorecards"], ["API keys", "Inbox"]),
    "partner_user": (["Inbox", "My scorecard"], ["Users", "Leads", "Scorecards"]),
}

# A page of another role that this role may not open.
FORBIDDEN = {
    "admin": "/inbox/",
    "channel_manager": "/admin/users",
    "vendor_staff": "/admin/api-keys",
    "partner_user": "/admin/users",
}


def expected_nav(role: str, menus: bool = True) -> list[str]:
    """The links of the bar, and of its menus (open) unless menus=False."""
    return [
        item.label
        for item in NAVIGATION
        if can(role, item.permission) and (menus or item.menu is None)
    ]


def sign_in(page: Page, live_server: LiveServer, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url + "/")


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_each_role_signs_in_sees_its_navigation_is_refused_elsewhere_and_signs_out(
    page: Page, live_server: LiveServer, role: str
) -> None:
    person = live_server.a.person(role)
    sign_in(page, live_server, person.email)

    expect(page.get_by_role("alert")).to_contain_text("Signed in to Tenant-A.")
    expect(page.get_by_test_id("whoami")).to_contain_text(Role(role).label)
    expect(page.get_by_test_id("whoami")).to_contain_text("Tenant-A")
    nav_links = page.get_by_test_id("nav").get_by_role("link")
    expect(nav_links).to_have_text(expected_nav(role, menus=False))
    # The administration's entries sit in one menu of the bar, shown when opened.
    menu = page.get_by_test_id("nav").get_by_role("button", name="Admin")
    expect(menu).to_have_count(1 if role == "admin" else 0)
    if role == "admin":
        menu.click()
    expect(nav_links).to_have_text(expected_nav(role))
    shown, hidden = SEES[role]
    for label in shown:
        expect(
            page.get_by_test_id("nav").get_by_role("link", name=label, exact=True)
        ).to_be_visible()
    for label in hidden:
        expect(
            page.get_by_test_id("nav").get_by_role("link", name=label, exact=True)
        ).to_have_count(0)

    path = FORBIDDEN[role]
    endpoint, _ = live_server.app.url_map.bind("localhost").match(path)
    rule = rule_for(endpoint, live_server.app)
    assert rule is not None and rule.permission is not None and not can(role, rule.permission)
    response = page.goto(path)
    assert response is not None and response.status == 403
    error = page.get_by_test_id("error-page")
    expect(error).to_be_visible()
    expect(error).to_contain_text("403")
    expect(error).to_contain_text("Your role does not allow this page.")
    expect(page.get_by_test_id("nav").get_by_role("link")).to_have_text(
        expected_nav(role, menus=False)
    )

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(live_server.url + "/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("You have been signed out.")
    expect(page.get_by_test_id("nav")).to_have_count(0)

    response = page.goto("/")
    assert response is not None and response.status == 200
    expect(page).to_have_url(live_server.url + "/login")
    expect(page.get_by_label("E-mail", exact=True)).to_be_visible()


def test_an_admin_of_tenant_b_sees_only_tenant_b_users(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server, live_server.b.admin.email)
    response = page.goto("/admin/users")
    assert response is not None and response.status == 200
    table = page.get_by_test_id("users-table")
    expect(table).to_contain_text(live_server.b.admin.email)
    expect(table).to_contain_text(live_server.b.partner_user.email)
    expect(page.locator("body")).not_to_contain_text("@tenant-a.example")


def test_an_admin_of_tenant_b_cannot_deactivate_a_user_of_tenant_a(
    page: Page, live_server: LiveServer
) -> None:
    # The victim is one nobody else signs in as, so a failure here cannot upset other tests.
    victim = live_server.a.other_partner_user
    sign_in(page, live_server, live_server.b.admin.email)
    page.goto("/admin/users")
    token = page.locator("input[name=csrf_token]").first.input_value()

    response = page.request.post(
        f"/admin/users/{victim.id}/deactivate", form={"csrf_token": token}, max_redirects=0
    )

    assert response.status == 404, response.text()[:300]
    with live_server.app.app_context(), unscoped():
        assert db.session.get(User, victim.id).active


def test_pages_break_no_content_security_policy_and_load_nothing_external(
    page: Page, live_server: LiveServer
) -> None:
    console_errors: list[str] = []
    page_errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))

    sign_in(page, live_server, live_server.a.partner_user.email)
    expect(page.get_by_role("heading", name=re.compile("^Welcome"))).to_be_visible()
    page.wait_for_load_state("load")

    # Nothing refused by the policy, and nothing missing (the icon included).
    assert console_errors == []
    assert page_errors == []
    origin = urlsplit(live_server.url)
    assert {(urlsplit(u).scheme, urlsplit(u).netloc) for u in requests} == {
        (origin.scheme, origin.netloc)
    }, requests
    paths = {urlsplit(u).path for u in requests}
    assert {"/login", "/", "/static/vendor/bootstrap/bootstrap.min.css"} <= paths, paths
