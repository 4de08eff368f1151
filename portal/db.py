"""The declarative base, shared column types and the tenant mixin every tenant table uses."""

from __future__ import annotations

import contextlib
import itertools
import json
import operator
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Primary keys are INTEGER columns: 32-bit on PostgreSQL. Larger ids cannot exist.
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


# A pooled connection unused for this long is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0


def ping_when_idle(engine: sa.Engine) -> None:
    """Ping a pooled connection before use only if it sat unused for a while.

    A connection is found dead after a database restart or a network cut, both of which
    leave it idle for a while first; one given back a moment ago by the previous request
    is alive. pool_pre_ping would ping before every checkout: a round trip per request.
    A failed ping makes the pool replace the connection (and, a disconnect, the others).
    """

    @sa.event.listens_for(engine, "checkin")
    def _given_back(dbapi_connection: Any, record: Any) -> None:
        record.info["given_back_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _handed_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        given_back = record.info.get("given_back_at")
        if given_back is None or time.monotonic() - given_back < PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.DisconnectionError(f"pooled connection is dead: {exc}") from exc
        if not alive:
            raise sa.exc.DisconnectionError("pooled connection is dead")


# A transaction that ran anything but these, or used the driver's connection directly, may
# have changed something: it is rolled back as asked.
_WROTE = "portal_may_have_written"
_PLAIN_READ = re.compile(r"\s*SELECT\b(?!.*\bINTO\b)", re.IGNORECASE | re.DOTALL)


def may_have_written(connection: sa.Connection) -> None:
    """Say that the connection's transaction may have changed something no statement event
    saw (COPY and other work done on the driver's connection directly)."""
    connection.info[_WROTE] = True


def keep_prepared_statements(engine: sa.Engine) -> None:
    """End a PostgreSQL transaction that only read with COMMIT, where ROLLBACK was asked for.

    psycopg prepares a statement on the server once a connection has run it five times, and
    PostgreSQL then stops planning it on every run; but psycopg forgets every prepared
    statement at a ROLLBACK (one could name something the rollback undid). A request that only
    reads ends its transaction with a rollback when its session closes, so nothing stayed
    prepared, and planning took two fifths of the database's time for the partners' pages
    (the offer's query with its joins and tenant policies planned for 0.8 ms to run for 0.1).
    For a transaction that changed nothing, COMMIT and ROLLBACK do the same; one that may
    have changed something, or failed, is rolled back as asked.
    """

    @sa.event.listens_for(engine, "begin")
    def _began(connection: sa.Connection) -> None:
        connection.info[_WROTE] = False

    @sa.event.listens_for(engine, "before_cursor_execute", named=True)
    def _statement(conn: sa.Connection, statement: str, **ignored: Any) -> None:
        if not _PLAIN_READ.match(statement):
            conn.info[_WROTE] = True

    @sa.event.listens_for(engine, "rollback")
    def _ending(connection: sa.Connection) -> None:
        if connection.info.pop(_WROTE, True):
            return
        driver = connection.connection.driver_connection
        if driver is None or driver.info.transaction_status.name != "INTRANS":
            return
        # If the commit fails, the rollback that follows ends the transaction or finds the
        # connection gone.
        with contextlib.suppress(connection.dialect.loaded_dbapi.Error):
            driver.commit()


def json_text(value: Any) -> str:
    """A JSON column's value as the text stored, by orjson: several times json.dumps' speed,
    which counts where thousands of offers and events are written at once. Keys that are not
    text are written as text, as json.dumps does."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: pass a timezone-aware UTC value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


class TenantScoped:
    """Marks a table as owned by one tenant; the session filters it by the current tenant."""

    # False on a table whose composite indexes lead with tenant_id, or that is never read
    # by tenant alone: an index no query needs is only work for every insert.
    tenant_id_index: ClassVar[bool] = True
    # False on a table whose tenant_id is part of a composite foreign key to a parent that
    # references the tenant itself: one check per row instead of two.
    tenant_id_foreign_key: ClassVar[bool] = True

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        references = (
            (sa.ForeignKey("tenant.id", ondelete="CASCADE"),) if cls.tenant_id_foreign_key else ()
        )
        return mapped_column(*references, nullable=False, index=cls.tenant_id_index)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def copy_rows(
    connection: sa.Connection,
    table: sa.Table,
    rows: Iterable[Mapping[str, Any]] | Iterable[Sequence[Any]],
    names: Sequence[str] | None = None,
) -> None:
    """Insert rows on PostgreSQL with one COPY, in the connection's transaction.

    COPY streams the rows in one statement instead of one INSERT each. It is written as
    an INSERT would be: every row gives the same columns, a column left out takes its
    Python-side default, and each value goes through its column type's bind processing
    (JSON text, UTC times). A failure is raised as SQLAlchemy's exception, so a unique
    key taken meanwhile is an IntegrityError as with an INSERT. Rows are mappings of
    column names to values or, with the names given, sequences of values in their order.

    The rows may be made as they are taken (a generator): the server works on the rows
    already sent while the next ones are made, so work done there costs no extra time
    as long as the server is the slower of the two.

    A value that several rows share (the same object: one time for a whole batch, one
    JSON document for many rows) is processed once, and JSON and times go to the driver as
    text, which it passes on as it is.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return
    dialect = connection.dialect
    given = list(names if names is not None else first)  # type: ignore[arg-type]
    defaults = [c for c in table.c if c.name not in given and _python_default(c)]
    columns = [table.c[name] for name in given] + defaults
    processors = [
        (i, _once_per_value(process))
        for i, column in enumerate(columns)
        if (process := _bind_processor(column.type, dialect))
    ]
    quote = dialect.identifier_preparer
    listed = ", ".join(quote.quote(c.name) for c in columns)
    pick = list if names is not None else _picker(given)
    from portal import page_versions
    from portal.tenancy import rls  # the tenancy room builds on this module

    rls.tell(connection)  # COPY goes past the events that name the tenant
    page_versions.copied_into(table.name)  # and past those that see writes
    target = quote.format_table(table)
    staged = _row_security_active(connection, table)
    if staged:
        # PostgreSQL refuses COPY into a table whose row-level security applies to the
        # role: the rows go to a temporary table of the same columns, then into the table
        # with one INSERT ... SELECT, which the policy checks row by row.
        target = f"copy_{table.name}_{next(_staging_names)}"
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {target} ON COMMIT DROP AS"
            f" SELECT {listed} FROM {quote.format_table(table)} WITH NO DATA"
        )
    statement = f"COPY {target} ({listed}) FROM STDIN"
    may_have_written(connection)
    driver = connection.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in itertools.chain((first,), iterator):
                values = pick(row)
                if defaults:
                    values += [_default(c) for c in defaults]
                for i, process in processors:
                    values[i] = process(values[i])
                copy.write_row(values)
    except dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc
    if staged:
        connection.exec_driver_sql(
            f"INSERT INTO {quote.format_table(table)} ({listed}) SELECT {listed} FROM {target}"
        )
        connection.exec_driver_sql(f"DROP TABLE {target}")


_staging_names = itertools.count(1)
_RLS_ACTIVE = "portal_row_security_active"


def _row_security_active(connection: sa.Connection, table: sa.Table) -> bool:
    """Whether row-level security holds the connection's role on the table; asked once a
    table per database connection (the role does not change)."""
    known = connection.info.setdefault(_RLS_ACTIVE, {})
    if table.name not in known:
        known[table.name] = bool(
            connection.exec_driver_sql(
                "SELECT row_security_active(%(name)s::regclass)", {"name": table.name}
            ).scalar()
        )
    return known[table.name]


def draw_ids(connection: sa.Connection, table: sa.Table, count: int) -> list[int]:
    """count new ids from the sequence of the table's id column (PostgreSQL), ascending."""
    query = sa.text(
        "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
    )
    return sorted(connection.execute(query, {"table": table.name, "count": count}).scalars())


# Under row-level security a COPY goes through a temporary table (five round trips and the
# catalog work of a table made and dropped); below this many rows the INSERT is cheaper.
COPY_FROM_ROWS = 100


def insert_rows(
    connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert the rows (each with the same columns) in one statement; their new ids, in order.

    Many rows on PostgreSQL: the ids are drawn from the sequence first and the rows copied.
    Otherwise one INSERT .. RETURNING gives the ids. Rows of a tenant table name their
    tenant, since no session stands between: the caller writes for the tenant in scope.
    """
    if not rows:
        return []
    if connection.dialect.name != "postgresql" or len(rows) < COPY_FROM_ROWS:
        query = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(connection.execute(query, list(rows)).scalars())
    ids = draw_ids(connection, table, len(rows))
    copy_rows(connection, table, ({**row, "id": i} for row, i in zip(rows, ids, strict=True)))
    return ids


def _picker(names: list[str]) -> Callable[[Mapping[str, Any]], list[Any]]:
    pick = operator.itemgetter(*names)
    if len(names) == 1:  # itemgetter of one key gives the value itself, not a 1-tuple
        return lambda row: [pick(row)]
    return lambda row: [*pick(row)]


def _bind_processor(
    column_type: sa.types.TypeEngine[Any], dialect: sa.Dialect
) -> Callable[[Any], Any] | None:
    """The column type's bind processing, giving the text COPY reads where the driver would
    otherwise make it row by row: JSON as SQLAlchemy's JSON type writes it, times in ISO 8601.
    """
    impl = column_type.dialect_impl(dialect)
    if isinstance(impl, sa.JSON):
        serialize = dialect._json_serializer or json.dumps  # type: ignore[attr-defined]
        return impl._make_bind_processor(None, serialize)  # type: ignore[attr-defined]
    process = impl.bind_processor(dialect)
    if _holds_times(column_type):
        return lambda value: _iso(process(value) if process else value)
    return process


def _holds_times(column_type: sa.types.TypeEngine[Any]) -> bool:
    try:
        return issubclass(column_type.python_type, datetime)
    except NotImplementedError:
        return False


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _once_per_value(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """process, run once per distinct object of one COPY (the same time or JSON document)."""
    done: dict[int, tuple[Any, Any]] = {}  # by id; the value is kept so its id stays its own

    def once(value: Any) -> Any:
        seen = done.get(id(value))
        if seen is None:
            seen = done[id(value)] = (value, process(value))
        return seen[1]

    return once


def _python_default(column: sa.Column[Any]) -> bool:
    default = column.default
    if default is None or default.is_sequence:
        return False
    if default.is_clause_element:
        raise ValueError(f"copy_rows cannot apply the SQL default of {column}; give its value")
    return True


def _default(column: sa.Column[Any]) -> Any:
    default = column.default
    return default.arg(None) if default.is_callable else default.arg  # type: ignore[union-attr]
