"""A second wall between tenants, in PostgreSQL itself: row-level security.

Every table with a tenant_id has a policy that lets a statement read and write only the
rows of the tenant the transaction names in its ``portal.tenant_id`` setting, or every row
when ``portal.all_tenants`` is on (login, the CLI and system-wide jobs, which say
``unscoped()``). The app sets both with set_config(..., true), the function form of SET
LOCAL, from the tenant in scope: before the first statement of each transaction, and again
when the scope changes within one. So a statement that forgets its tenant filter, even raw
SQL, still sees one tenant. The tables FORCE row-level security, so the role that owns them
is held too; the app's role must be neither superuser nor BYPASSRLS (both skip every
policy), which the health of a deployment depends on and the tests check.

SQLite has no row-level security; there the session's own scoping (scoping.py) is the wall.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.db import may_have_written
from portal.tenancy.scoping import UNSCOPED, scope

TENANT_SETTING = "portal.tenant_id"
ALL_TENANTS_SETTING = "portal.all_tenants"
POLICY = "tenant_isolation"
# What the transaction was last told, kept on the connection; None: nothing yet this time.
_TOLD = "portal_rls_told"
_CONTROL = frozenset(("SAVE", "RELE", "ROLL", "COMM", "BEGI"))
_SET = "SELECT set_config(%s, %s, true), set_config(%s, %s, true)"
# Each setting is read in a scalar subquery, which PostgreSQL works out once a statement (an
# InitPlan) instead of once a row: a quarter's million offers scan twice as fast, and
# tenant_id = (the subquery) can still use an index. A setting set once in a session
# reads '' afterwards, not NULL: nullif keeps the cast sane.
_ALLOWED = (
    f"(SELECT current_setting('{ALL_TENANTS_SETTING}', true) = 'on')"
    f" OR tenant_id = (SELECT nullif(current_setting('{TENANT_SETTING}', true), '')::integer)"
)


def wanted() -> tuple[str, str]:
    """The settings the tenant in scope asks for: (tenant id or '', 'on' or 'off')."""
    current = scope()
    if current is UNSCOPED:
        return "", "on"
    if current is None:
        return "", "off"
    return str(current), "off"


def tell(connection: sa.Connection) -> None:
    """Make sure the connection's transaction names the tenant in scope; call it before
    using the driver's connection directly (COPY, pipelines), which no event sees. The
    transaction then counts as one that may have written (portal/db.py)."""
    if connection.dialect.name == "postgresql":
        _tell(connection, connection.connection.driver_connection)
        may_have_written(connection)


def _tell(connection: sa.Connection, driver: Any) -> None:
    settings = wanted()
    if connection.info.get(_TOLD) == settings:
        return
    tenant, every = settings
    # The driver's connection, not the statement's cursor: a server-side cursor of a
    # streamed read must not be used for anything else.
    driver.execute(_SET, (TENANT_SETTING, tenant, ALL_TENANTS_SETTING, every))
    connection.info[_TOLD] = settings


def install(engine: sa.Engine) -> None:
    """Have every transaction on the engine's connections name the tenant in scope."""

    @sa.event.listens_for(engine, "begin")
    def _new_transaction(connection: sa.Connection) -> None:
        connection.info.pop(_TOLD, None)

    # A savepoint rolled back takes the settings made inside it with it.
    @sa.event.listens_for(engine, "rollback_savepoint")
    def _savepoint_undone(connection: sa.Connection, name: str, context: Any) -> None:
        connection.info.pop(_TOLD, None)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before_statement(
        connection: sa.Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        # Transaction control reads no rows, and may run in a transaction that already
        # failed, where even set_config is refused.
        if statement[:4].upper() not in _CONTROL:
            _tell(connection, connection.connection.driver_connection)


def enable_statements(table: str) -> list[str]:
    """The DDL that puts a tenant table behind the wall; migrations run it for each new one."""
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS {POLICY} ON "{table}"',
        f'CREATE POLICY {POLICY} ON "{table}" USING ({_ALLOWED}) WITH CHECK ({_ALLOWED})',
    ]


def disable_statements(table: str) -> list[str]:
    return [
        f'DROP POLICY IF EXISTS {POLICY} ON "{table}"',
        f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY',
    ]


def tenant_tables(connection: sa.Connection) -> list[str]:
    """The tables of the connection's schema with a tenant_id column."""
    return list(
        connection.execute(
            sa.text(
                "SELECT table_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND column_name = 'tenant_id'"
                " ORDER BY table_name"
            )
        ).scalars()
    )
