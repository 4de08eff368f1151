"""A pooled connection that died while it sat unused (a database restart, a cut network) is
replaced before it is handed out; one given back a moment ago is used without a ping."""

import pytest
import sqlalchemy as sa

from portal import db as portal_db
from tests.conftest import PG_ADMIN_URL
from tests.databases import postgres_database


@pytest.fixture
def engine():
    with postgres_database(PG_ADMIN_URL, "portal_test_", app_role=True) as url:
        engine = sa.create_engine(url)
        portal_db.ping_when_idle(engine)
        yield engine
        engine.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def terminate(pid: int) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
    admin.dispose()


def test_a_connection_that_died_while_idle_is_replaced_before_use(engine, monkeypatch):
    dead = backend_pid(engine)
    terminate(dead)
    monkeypatch.setattr(portal_db, "PING_AFTER_IDLE_S", 0.0)
    assert backend_pid(engine) != dead


def test_a_connection_given_back_a_moment_ago_is_not_pinged(engine, monkeypatch):
    pings = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(1) or True)
    monkeypatch.setattr(portal_db, "PING_AFTER_IDLE_S", 3600.0)
    first = backend_pid(engine)
    assert backend_pid(engine) == first and pings == []
    monkeypatch.setattr(portal_db, "PING_AFTER_IDLE_S", 0.0)
    assert backend_pid(engine) == first and pings == [1]
