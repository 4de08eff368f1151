"""The flask command group: tenants, users and their errors."""

import json
import zipfile

import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.tenancy.models import Tenant, User
from portal.tenancy.scoping import tenant_scope, unscoped


def test_tenant_create_makes_a_tenant(app):
    result = app.test_cli_runner().invoke(args=["tenant", "create", "initech", "--name", "Initech"])
    assert result.exit_code == 0, result.output
    with app.app_context(), unscoped():
        assert (
            db.session.scalar(sa.select(Tenant.name).where(Tenant.slug == "initech")) == "Initech"
        )


def test_a_taken_or_malformed_slug_is_refused_with_the_reason(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["tenant", "create", "initech"])
    taken = runner.invoke(args=["tenant", "create", "initech"])
    malformed = runner.invoke(args=["tenant", "create", "Not A Slug!"])
    assert taken.exit_code != 0 and "exists already" in taken.output
    assert malformed.exit_code != 0 and "lower-case" in malformed.output


def test_user_create_makes_a_user_who_can_sign_in(app, client):
    runner = app.test_cli_runner()
    runner.invoke(args=["tenant", "create", "initech"])
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--tenant",
            "initech",
            "--email",
            "Peter@Initech.example",
            "--name",
            "Peter",
            "--role",
            "admin",
            "--password",
            "tps-report-cover",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context(), unscoped():
        user = db.session.scalar(sa.select(User).where(User.email == "peter@initech.example"))
    assert user.role == "admin"
    from tests.conftest import login

    assert login(client, "peter@initech.example", "tps-report-cover").status_code == 302


def test_user_create_explains_each_refusal(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["tenant", "create", "initech"])
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--tenant",
            "initech",
            "--email",
            "bad",
            "--name",
            "X",
            "--role",
            "partner_user",
            "--password",
            "password",
        ]
    )
    assert result.exit_code != 0
    assert "email:" in result.output and "partner_id:" in result.output
    assert "password:" in result.output
    missing = runner.invoke(
        args=[
            "user",
            "create",
            "--tenant",
            "nope",
            "--email",
            "a@b.example",
            "--name",
            "A",
            "--role",
            "admin",
            "--password",
            "long-enough-pass",
        ]
    )
    assert missing.exit_code != 0 and "no tenant" in missing.output


def _create_key(app, email: str, tenant: str = "tenant-a"):
    return app.test_cli_runner().invoke(
        args=["apikey", "create", "--tenant", tenant, "--name", "CRM", "--by", email]
    )


def test_apikey_create_prints_a_key_that_opens_the_tenant_s_api(app, client, world):
    result = _create_key(app, "Admin@Tenant-A.example")
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    answer = client.get("/api/v1/tenant", headers={"Authorization": f"Bearer {secret}"})
    assert (answer.status_code, answer.get_json()["tenant"]["slug"]) == (200, "tenant-a")


def test_apikey_create_is_refused_for_anyone_but_an_admin_of_the_tenant(app, world):
    for email, tenant in (
        ("channel_manager@tenant-a.example", "tenant-a"),
        ("admin@tenant-b.example", "tenant-a"),
        ("nobody@tenant-a.example", "tenant-a"),
    ):
        result = _create_key(app, email, tenant)
        assert result.exit_code != 0 and "no active admin" in result.output, (email, result.output)
    assert "no tenant" in _create_key(app, "admin@tenant-a.example", "nope").output


def test_tenant_export_writes_the_admin_s_zip_to_a_folder_and_audits_it(app, world, tmp_path):
    result = app.test_cli_runner().invoke(args=["tenant", "export", "tenant-a", "--to", tmp_path])
    assert result.exit_code == 0, result.output
    [path] = tmp_path.glob("tenant-a-export-*.zip")
    assert f"Wrote {path}" in result.output and "users.jsonl 5" in result.output
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("manifest.json"))["files"]["users.jsonl"] == 5
    with app.app_context(), tenant_scope(world.a.id):
        label = db.session.scalar(
            sa.select(AuditEvent.actor_label).where(AuditEvent.action == "tenant.exported")
        )
    assert label == "cli"
    unknown = app.test_cli_runner().invoke(args=["tenant", "export", "nobody", "--to", tmp_path])
    assert unknown.exit_code != 0 and "no tenant 'nobody'" in unknown.output
