"""Access is decided in one place: every endpoint declares a rule, and roles get 403."""

import pytest

from portal.tenancy.policy import rule_for
from portal.tenancy.roles import Role, can
from tests.conftest import csrf_token, login

# Each page a role reaches by GET, with the permission it needs (None: any signed-in user).
PAGES = {
    "/": None,
    "/account/password": None,
    "/inbox/": "work_inbox",
    "/leads/": "view_leads",
    "/partners/": "view_network",
    "/admin/users": "manage_users",
    "/admin/users/new": "manage_users",
    "/admin/api-keys": "manage_api_keys",
    "/admin/audit": "view_audit",
}


def test_every_endpoint_declares_an_access_rule(app):
    undeclared = [
        rule.endpoint for rule in app.url_map.iter_rules() if rule_for(rule.endpoint, app) is None
    ]
    assert undeclared == []


def test_every_page_of_the_app_is_in_the_access_table(app):
    """A new page must be added to PAGES, so the role matrix below covers it."""
    get_pages = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and not rule.arguments
        and rule_for(rule.endpoint, app).kind in ("user", "permission")
    }
    assert get_pages == set(PAGES)


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.parametrize("path", list(PAGES))
def test_each_role_opens_exactly_the_pages_its_permissions_grant(client, login_as, role, path):
    login_as(role)
    permission = PAGES[path]
    allowed = permission is None or can(role, permission)
    response = client.get(path)
    assert response.status_code == (200 if allowed else 403), response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("path", list(PAGES))
def test_a_visitor_who_is_not_signed_in_is_sent_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_after_signing_in_the_visitor_lands_where_they_were_heading(client, world):
    client.get("/partners/?page=2")
    response = login(client, world.a.manager.email)
    assert response.headers["Location"] == "/partners/?page=2"


def test_an_admin_cannot_deactivate_a_user_of_another_tenant(client, login_as, world):
    login_as("admin", "a")
    token = csrf_token(client, "/admin/users")
    response = client.post(
        f"/admin/users/{world.b.staff.id}/deactivate", data={"csrf_token": token}
    )
    assert response.status_code == 404


def test_a_lower_role_cannot_deactivate_anyone(client, login_as, world):
    login_as("channel_manager", "a")
    token = csrf_token(client, "/")
    response = client.post(
        f"/admin/users/{world.a.staff.id}/deactivate", data={"csrf_token": token}
    )
    assert response.status_code == 403


def test_a_partner_user_of_one_tenant_sees_nothing_of_another(client, login_as, world):
    login_as("partner_user", "b")
    page = client.get("/inbox/").get_data(as_text=True)
    assert "tenant-a" not in page.lower()
    for path in (f"/admin/users/{world.a.admin.id}/deactivate", "/admin/api-keys/1/revoke"):
        token = csrf_token(client, "/")
        assert client.post(path, data={"csrf_token": token}).status_code == 403


def test_an_unknown_url_gets_the_styled_404_page(client, login_as):
    login_as("admin")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert 'data-testid="error-page"' in response.get_data(as_text=True)


def test_an_api_path_gets_a_json_problem_instead_of_a_page(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_an_unexpected_error_gets_the_styled_500_page_and_json_under_the_api(database_url):
    from portal.tenancy.policy import public
    from tests.conftest import make_app

    app = make_app(database_url, PROPAGATE_EXCEPTIONS=False)

    @public
    def broken():
        raise RuntimeError("boom")

    app.add_url_rule("/broken", view_func=broken)
    app.add_url_rule("/api/v1/broken", endpoint="api_broken", view_func=broken)
    page = app.test_client().get("/broken")
    assert page.status_code == 500 and 'data-testid="error-page"' in page.get_data(as_text=True)
    assert "boom" not in page.get_data(as_text=True)
    api = app.test_client().get("/api/v1/broken")
    assert api.status_code == 500 and api.get_json()["title"] == "Internal Server Error"
