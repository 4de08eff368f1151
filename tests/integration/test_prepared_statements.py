"""A transaction that only read ends with COMMIT, so psycopg keeps its prepared statements
and PostgreSQL stops planning them; one that may have written is rolled back as asked."""

import pytest
import sqlalchemy as sa

from portal import db as portal_db
from tests.conftest import PG_ADMIN_URL
from tests.databases import postgres_database

ROWS = sa.Table("kept_rows", sa.MetaData(), sa.Column("x", sa.Integer))
READ = sa.text("SELECT count(*) FROM kept_rows WHERE x > :floor")


@pytest.fixture
def engine():
    with postgres_database(PG_ADMIN_URL, "portal_test_", app_role=True) as url:
        engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        with engine.begin() as connection:
            ROWS.create(connection)
        portal_db.keep_prepared_statements(engine)
        yield engine
        engine.dispose()


def prepared(connection) -> list[str]:
    return list(
        connection.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars()
    )


def count(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.text("SELECT count(*) FROM kept_rows"))


def test_a_read_run_in_many_requests_stays_prepared(engine):
    for floor in range(8):
        # As a request's session does: the transaction begins, reads, and is rolled back.
        with engine.connect() as connection:
            assert connection.execute(READ, {"floor": floor}).scalar() == 0
    with engine.connect() as connection:
        assert any("FROM kept_rows WHERE x >" in s for s in prepared(connection))


def test_a_transaction_that_wrote_is_rolled_back(engine):
    with engine.connect() as connection:
        connection.execute(READ, {"floor": 0})
        connection.execute(ROWS.insert(), [{"x": 1}, {"x": 2}])
        connection.rollback()
    assert count(engine) == 0


def test_rows_copied_on_the_driver_connection_are_rolled_back(engine):
    with engine.connect() as connection:
        connection.execute(READ, {"floor": 0})
        portal_db.copy_rows(connection, ROWS, [{"x": 1}, {"x": 2}])
        assert connection.scalar(sa.text("SELECT count(*) FROM kept_rows")) == 2
        connection.rollback()
    assert count(engine) == 0


def test_a_select_that_makes_a_table_counts_as_a_write(engine):
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1 AS x INTO made_by_select")
        connection.rollback()
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT to_regclass('made_by_select')")) is None


def test_a_transaction_that_failed_on_a_read_is_rolled_back_and_the_connection_lives(engine):
    with engine.connect() as connection:
        with pytest.raises(sa.exc.DataError):
            connection.execute(sa.text("SELECT 1 / 0"))
        connection.rollback()
        assert connection.execute(READ, {"floor": 0}).scalar() == 0
