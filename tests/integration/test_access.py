"""Access is decided in one place: every endpoint declares a rule, and roles get 403."""

import pytest

from portal.tenancy.policy import rule_for
from portal.tenancy.roles import Role, can
from tests.conftest import csrf_token, login

# Hand-written expectations, independent of the rules the views declare.
EXAMPLES = {
    ("partner_user", "/admin/users"): 403,
    ("partner_user", "/leads/"): 403,
    ("vendor_staff", "/admin/api-keys"): 403,
    ("channel_manager", "/admin/users"): 403,
    ("admin", "/inbox/"): 403,
    ("admin", "/admin/users"): 200,
    ("partner_user", "/inbox/"): 200,
    ("vendor_staff", "/partners/"): 200,
    ("vendor_staff", "/leads/duplicates/"): 200,
    ("partner_user", "/leads/duplicates/"): 403,
}

# The pages of one flagged lead of tenant "a": (method, path, role) -> status. Reading the
# comparison is for every vendor-side role; merging and keeping are for channel managers.
FLAGGED_LEAD_EXAMPLES = {
    ("GET", "/leads/{id}/duplicate", "vendor_staff"): 200,
    ("GET", "/leads/{id}/duplicate", "partner_user"): 403,
    ("POST", "/leads/{id}/duplicate/merge", "vendor_staff"): 403,
    ("POST", "/leads/{id}/duplicate/merge", "partner_user"): 403,
    ("POST", "/leads/{id}/duplicate/keep", "vendor_staff"): 403,
    ("POST", "/leads/{id}/duplicate/keep", "partner_user"): 403,
}
FLAGGED_LEAD_PATHS = sorted({(method, path) for method, path, _ in FLAGGED_LEAD_EXAMPLES})


def signed_in_pages(app):
    """Every page reached by GET without URL arguments that needs a signed-in user."""
    for rule in app.url_map.iter_rules():
        declared = rule_for(rule.endpoint, app)
        if "GET" in rule.methods and not rule.arguments and declared.kind in ("user", "permission"):
            yield rule.rule, declared


def test_every_endpoint_declares_an_access_rule(app):
    undeclared = [
        rule.endpoint for rule in app.url_map.iter_rules() if rule_for(rule.endpoint, app) is None
    ]
    assert undeclared == []


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_each_role_opens_exactly_the_pages_its_permissions_grant(app, client, login_as, role):
    login_as(role)
    wrong = {}
    for path, declared in signed_in_pages(app):
        allowed = declared.kind == "user" or can(role, declared.permission)
        response = client.get(path)
        # A page may send an allowed user on (My partner goes to the partner's page).
        opened = response.status_code == 200 or (
            response.status_code == 302 and "/login" not in response.headers["Location"]
        )
        if opened != allowed or (not allowed and response.status_code != 403):
            wrong[path] = response.status_code
    assert wrong == {}


@pytest.mark.parametrize(("role", "path"), list(EXAMPLES))
def test_the_hand_written_examples_hold(client, login_as, role, path):
    login_as(role)
    assert client.get(path).status_code == EXAMPLES[(role, path)]


def test_a_visitor_who_is_not_signed_in_is_sent_to_the_login_page(app, client):
    for path, _ in signed_in_pages(app):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), (
            path
        )


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


@pytest.mark.parametrize("role", ["admin", "partner_user"])
def test_an_unknown_url_or_method_gets_the_styled_error_page(client, login_as, role):
    # The page carries the user's navigation, which reads their tenant (a partner user's
    # once failed here with no tenant in scope: a 500 instead of a 405).
    login_as(role)
    for path, status in (("/no/such/page", 404), ("/logout", 405)):
        response = client.get(path)
        assert response.status_code == status
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


def _cut(*args, **kwargs):
    import sqlalchemy as sa

    raise sa.exc.OperationalError(
        "SELECT 1", {}, Exception("server closed the connection unexpectedly")
    )


def test_a_database_that_cannot_answer_gets_503_with_retry_after(
    app, client, login_as, monkeypatch
):
    """A restarting or unreachable database: 503 and when to try again, on the page and in the
    API, and when even the sign-in lookup failed, the page without its layout."""
    from portal.leads import inbox
    from portal.tenancy import services
    from portal.web import errors

    login_as("partner_user")
    monkeypatch.setattr(inbox, "inbox", _cut)
    page = client.get("/inbox/")
    assert page.status_code == 503 and page.headers["Retry-After"] == str(errors.RETRY_AFTER_S)
    text = page.get_data(as_text=True)
    assert 'data-testid="error-page"' in text and "cannot reach its database" in text
    assert "server closed" not in text

    monkeypatch.setattr(services, "api_key_for", _cut)
    api = client.get("/api/v1/leads/1", headers={"Authorization": "Bearer some-key"})
    assert api.status_code == 503 and api.mimetype == "application/problem+json"
    assert api.get_json()["title"] == "Service Unavailable" and api.headers["Retry-After"]

    monkeypatch.setattr(services, "session_user", _cut)
    bare = client.get("/inbox/")
    assert bare.status_code == 503 and "cannot reach its database" in bare.get_data(as_text=True)
    assert bare.headers["Retry-After"] == str(errors.RETRY_AFTER_S)


def test_an_id_too_large_for_the_database_is_a_404_not_an_error(client, login_as):
    login_as("channel_manager")
    assert client.get(f"/partners/{2**31}").status_code == 404
    assert client.get(f"/leads/{2**64}").status_code == 404


def _flagged_lead(app, world) -> tuple[int, int]:
    """A lead of tenant "a" and a later one flagged as its duplicate."""
    from portal.extensions import db
    from portal.tenancy.scoping import tenant_scope
    from tests.factories import LeadFactory

    with app.app_context(), tenant_scope(world.a.id):
        first = LeadFactory(contact_email="eva@nordbank.example")
        second = LeadFactory(contact_email="eva@nordbank.example", duplicate_of_id=first.id)
        db.session.commit()
        return first.id, second.id


def _request(client, method, path, into):
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": csrf_token(client, "/"), "into": into})


@pytest.mark.parametrize(("method", "path", "role"), list(FLAGGED_LEAD_EXAMPLES))
def test_the_pages_of_a_flagged_lead_refuse_lower_roles(
    app, client, login_as, world, method, path, role
):
    first, second = _flagged_lead(app, world)
    login_as(role)
    response = _request(client, method, path.format(id=second), first)
    assert response.status_code == FLAGGED_LEAD_EXAMPLES[(method, path, role)]


@pytest.mark.parametrize(("method", "path"), FLAGGED_LEAD_PATHS)
def test_the_pages_of_a_flagged_lead_are_not_found_from_another_tenant(
    app, client, login_as, world, method, path
):
    first, second = _flagged_lead(app, world)
    login_as("channel_manager", "b")
    assert _request(client, method, path.format(id=second), first).status_code == 404


@pytest.mark.parametrize("role", ["partner_user", "channel_manager"])
def test_a_post_without_its_csrf_token_gets_the_styled_400_page(client, login_as, role):
    login_as(role)
    response = client.post("/inbox/answer" if role == "partner_user" else "/leads/new", data={})
    assert response.status_code == 400
    assert 'data-testid="error-page"' in response.get_data(as_text=True)
