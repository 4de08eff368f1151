"""The second wall: PostgreSQL's row-level security shows a transaction only the rows of the
tenant the app names, whatever the SQL says. Always on PostgreSQL, whichever database the
rest of the run uses: SQLite has no such wall."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.tenancy import rls
from portal.tenancy.scoping import tenant_scope, unscoped
from tests.conftest import build_tenant, postgres_app
from tests.factories import LeadFactory


@pytest.fixture(scope="module")
def app():
    with postgres_app("portal_test_rls_") as app:
        yield app


@pytest.fixture
def two(app):
    """Tenants A and B, each with a lead of its own."""
    with app.app_context():
        a, b = build_tenant("rls-a"), build_tenant("rls-b")
        for tenant, company in ((a, "Alpha GmbH"), (b, "Beta Ltd")):
            with tenant_scope(tenant.id):
                LeadFactory(company_name=company)
                db.session.commit()
    return a, b


def companies():
    """Every lead's company the raw SQL sees: no tenant filter in it."""
    return sorted(db.session.execute(sa.text("SELECT company_name FROM lead")).scalars())


def test_every_tenant_table_is_behind_a_forced_policy(app):
    with app.app_context():
        connection = db.session.connection()
        tables = rls.tenant_tables(connection)
        walled = dict(
            connection.execute(
                sa.text(
                    "SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).all()
        )
        policies = dict(
            connection.execute(
                sa.text(
                    "SELECT tablename, qual || ' / ' || with_check FROM pg_policies"
                    " WHERE schemaname = current_schema() AND policyname = :name"
                ),
                {"name": rls.POLICY},
            ).all()
        )
    assert {"lead", "offer", "lead_event", "partner", "user_account", "statement"} <= set(tables)
    # A new tenant table without the wall fails here: its migration must call the policy in.
    assert [t for t in tables if not walled.get(t)] == []
    assert [t for t in tables if t not in policies] == []
    # One rule everywhere: a table left with an older policy would show up here.
    assert len(set(policies.values())) == 1, policies


def test_the_app_s_role_is_held_by_the_policies(app):
    with app.app_context():
        row = db.session.execute(
            sa.text(
                "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles"
                " WHERE rolname = current_user"
            )
        ).one()
    assert row[1:] == (False, False), row


def test_raw_sql_without_a_tenant_filter_sees_only_the_tenant_in_scope(app, two):
    a, b = two
    with app.app_context():
        with tenant_scope(a.id):
            assert companies() == ["Alpha GmbH"]
            # The same transaction, another scope: the next statement names the new tenant.
            with tenant_scope(b.id):
                assert companies() == ["Beta Ltd"]
            assert companies() == ["Alpha GmbH"]
        assert companies() == []  # no tenant in scope: nothing at all
        with unscoped():
            assert companies() == ["Alpha GmbH", "Beta Ltd"]


def test_a_row_for_another_tenant_is_refused(app, two):
    a, b = two
    with app.app_context(), tenant_scope(a.id):
        with pytest.raises(sa.exc.DBAPIError, match="row-level security"):
            db.session.execute(
                sa.text(
                    "INSERT INTO rejection_reason (tenant_id, code, label, active, position,"
                    " comment_required) VALUES (:t, 'sneaky', 'Sneaky', true, 99, false)"
                ),
                {"t": b.id},
            )
        db.session.rollback()
        # Nor can an UPDATE reach the other tenant's rows.
        moved = db.session.execute(
            sa.text("UPDATE lead SET company_name = 'Taken' WHERE tenant_id = :t"), {"t": b.id}
        ).rowcount
        assert moved == 0


def test_a_savepoint_rolled_back_leaves_the_tenant_named_right(app, two):
    a, b = two
    with app.app_context(), tenant_scope(a.id):
        assert companies() == ["Alpha GmbH"]
        savepoint = db.session.begin_nested()
        with tenant_scope(b.id):
            assert companies() == ["Beta Ltd"]
        savepoint.rollback()  # takes the setting made inside it with it
        assert companies() == ["Alpha GmbH"]
        with tenant_scope(b.id):
            assert companies() == ["Beta Ltd"]


def test_a_new_transaction_names_its_tenant_afresh(app, two):
    a, b = two
    with app.app_context():
        with tenant_scope(a.id):
            assert companies() == ["Alpha GmbH"]
            db.session.commit()
        with tenant_scope(b.id):
            assert companies() == ["Beta Ltd"]
