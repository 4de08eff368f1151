"""Throwaway databases and migrated apps, shared by the tests and the benchmarks.

It imports no pytest, so bench/ scripts use it as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from portal import create_app
from portal.config import DEFAULT_KEPT_PAGE_SECONDS

# The role the app connects as in the tests, as in production: it owns its database, and
# is neither superuser nor BYPASSRLS, so row-level security holds it.
APP_ROLE = "portal_app_test"


@contextmanager
def postgres_database(admin_url: str, prefix: str, *, app_role: bool = False) -> Iterator[str]:
    """A new database named prefix + a random part on the server of admin_url; dropped after.

    With app_role, the database belongs to APP_ROLE and the URL given signs in as it;
    otherwise as admin_url's user.
    """
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    # Pre-ping: the server may have been restarted meanwhile (bench/chaos.py restarts its own).
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        owner = ""
        if app_role:
            connection.exec_driver_sql(
                "DO $$ BEGIN"
                f" CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;"
                " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
            owner = f" OWNER {APP_ROLE}"
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"{owner}')
    url = sa.make_url(admin_url).set(database=name)
    if app_role:
        url = url.set(username=APP_ROLE, password=None)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def make_app(database_url: str, **overrides: object) -> Flask:
    """An app of the testing environment on the given database, its schema migrated."""
    # One process: the in-process Redis of the jobs is every request's, so pages and logins
    # may be kept in it, as with a Redis server.
    config = {
        "PORTAL_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": None,
        "KEPT_PAGE_SECONDS": DEFAULT_KEPT_PAGE_SECONDS,
    }
    config.update(overrides)
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app
