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


@contextmanager
def postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new database named prefix + a random part on the server of admin_url; dropped after."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def make_app(database_url: str, **overrides: object) -> Flask:
    """An app of the testing environment on the given database, its schema migrated."""
    config = {"PORTAL_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None}
    config.update(overrides)
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app
