"""The admin's pages: users, API keys and the audit log; and the API keys at work."""

import re

import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.tenancy.models import ApiKey, User
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token, login, post_form

NEW_USER = {
    "name": "Nora Field",
    "email": "Nora.Field@Tenant-A.example",
    "role": "channel_manager",
    "partner_id": "",
    "password": "a-long-enough-secret",
}


def _audit_actions(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def test_the_admin_creates_a_user_who_can_then_sign_in(app, client, login_as, world):
    login_as("admin")
    response = post_form(client, "/admin/users/new", NEW_USER)
    assert response.status_code == 302
    assert "nora.field@tenant-a.example" in client.get("/admin/users").get_data(as_text=True)
    assert "user.created" in _audit_actions(app, world.a.id)
    assert (
        login(app.test_client(), "nora.field@tenant-a.example", NEW_USER["password"]).status_code
        == 302
    )


def test_a_partner_user_is_created_for_a_partner_of_this_tenant(app, client, login_as, world):
    login_as("admin")
    data = {**NEW_USER, "role": "partner_user", "partner_id": str(world.a.partner_id)}
    assert post_form(client, "/admin/users/new", data).status_code == 302
    with app.app_context(), tenant_scope(world.a.id):
        user = db.session.scalar(sa.select(User).where(User.email == "nora.field@tenant-a.example"))
    assert user.partner_id == world.a.partner_id


def test_bad_user_input_is_shown_next_to_each_field_and_nothing_is_saved(
    app, client, login_as, world
):
    login_as("admin")
    data = {
        "name": "",
        "email": "not-an-email",
        "role": "partner_user",
        "partner_id": "",
        "password": "short",
    }
    response = post_form(client, "/admin/users/new", data, page="/admin/users/new")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter the person&#39;s name." in page
    assert 'id="email-error"' in page
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 5


def test_a_partner_of_another_tenant_cannot_be_chosen(client, login_as, world):
    login_as("admin")
    data = {**NEW_USER, "role": "partner_user", "partner_id": str(world.b.partner_id)}
    response = post_form(client, "/admin/users/new", data)
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_a_duplicate_email_in_the_same_tenant_is_refused(client, login_as, world):
    login_as("admin")
    data = {**NEW_USER, "email": world.a.staff.email}
    response = post_form(client, "/admin/users/new", data)
    assert "A user with this e-mail exists already." in response.get_data(as_text=True)


def test_the_same_email_may_hold_an_account_in_another_tenant(client, login_as, world):
    login_as("admin", "b")
    data = {**NEW_USER, "email": world.a.staff.email}
    assert post_form(client, "/admin/users/new", data).status_code == 302


def test_deactivating_and_reactivating_a_user_is_audited(app, client, login_as, world):
    login_as("admin")
    token = csrf_token(client, "/admin/users")
    client.post(f"/admin/users/{world.a.staff.id}/deactivate", data={"csrf_token": token})
    assert login(app.test_client(), world.a.staff.email).status_code == 401
    client.post(f"/admin/users/{world.a.staff.id}/reactivate", data={"csrf_token": token})
    assert login(app.test_client(), world.a.staff.email).status_code == 302
    actions = _audit_actions(app, world.a.id)
    assert "user.deactivated" in actions and "user.activated" in actions


def test_the_admin_cannot_deactivate_their_own_account(client, login_as, world):
    login_as("admin")
    token = csrf_token(client, "/admin/users")
    response = client.post(
        f"/admin/users/{world.a.admin.id}/deactivate",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "You cannot deactivate your own account." in response.get_data(as_text=True)


def test_an_api_key_is_shown_once_stored_hashed_and_opens_the_api(app, client, login_as, world):
    login_as("admin")
    page = post_form(client, "/admin/api-keys", {"name": "Marketing automation"}).get_data(
        as_text=True
    )
    secret = re.search(r"(pp_[A-Za-z0-9_\-]{20,})", page).group(1)
    assert secret not in client.get("/admin/api-keys").get_data(as_text=True)
    with app.app_context(), tenant_scope(world.a.id):
        stored = db.session.scalar(sa.select(ApiKey))
    assert secret not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64
    api = app.test_client().get("/api/v1/tenant", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200 and api.get_json()["tenant"]["slug"] == "tenant-a"


def test_a_revoked_api_key_opens_nothing(app, client, login_as, world):
    login_as("admin")
    page = post_form(client, "/admin/api-keys", {"name": "CRM"}).get_data(as_text=True)
    secret = re.search(r"(pp_[A-Za-z0-9_\-]{20,})", page).group(1)
    with app.app_context(), tenant_scope(world.a.id):
        key_id = db.session.scalar(sa.select(ApiKey.id))
    token = csrf_token(client, "/admin/api-keys")
    assert (
        client.post(f"/admin/api-keys/{key_id}/revoke", data={"csrf_token": token}).status_code
        == 302
    )
    api = app.test_client().get("/api/v1/tenant", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401 and api.mimetype == "application/problem+json"
    assert "revoked" in api.get_json()["detail"]


def test_an_api_key_name_is_required(client, login_as):
    login_as("admin")
    response = post_form(client, "/admin/api-keys", {"name": ""})
    assert response.status_code == 400 and "Name the key." in response.get_data(as_text=True)


def test_another_tenants_key_cannot_be_revoked(app, client, login_as, world):
    with app.app_context(), tenant_scope(world.b.id):
        from portal.tenancy import services

        key, _ = services.create_api_key("B's key", actor=services.get_user(world.b.admin.id))
    login_as("admin", "a")
    token = csrf_token(client, "/admin/api-keys")
    assert (
        client.post(f"/admin/api-keys/{key.id}/revoke", data={"csrf_token": token}).status_code
        == 404
    )


def test_the_api_without_a_key_answers_401_in_json(client):
    response = client.get("/api/v1/tenant")
    assert response.status_code == 401
    assert "Bearer" in response.get_json()["detail"]


def test_a_made_up_api_key_gets_401(client):
    response = client.get("/api/v1/tenant", headers={"Authorization": "Bearer pp_made-up"})
    assert response.status_code == 401


def test_the_audit_log_lists_changes_newest_first(client, login_as):
    login_as("admin")
    post_form(client, "/admin/api-keys", {"name": "First"})
    post_form(client, "/admin/api-keys", {"name": "Second"})
    page = client.get("/admin/audit").get_data(as_text=True)
    assert page.index("Second") < page.index("First")
