"""Which kept pages a committed write may have changed, told to Redis after the commit.

A page kept in Redis (portal/web/kept_pages.py) is stamped with the versions of the scopes
it shows: every write of its tenant, its partner's offers, its user's notifications, and
writes made across tenants. Every statement the app's engine runs is looked at here, in one
place rather than at each write path: which table it writes and, for the two tables a page
shows per partner or per user, whose rows. When the session's transaction has committed,
each scope written gets a new version, so no page kept before is served again.

A write this module cannot place changes every page of its tenant (of every tenant, outside
one): placing is what keeps the other partners' pages, never what keeps pages right. The
versions are random tokens, not counters, so a version that Redis dropped and made again can
never match an old stamp.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis
import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from portal.tenancy.scoping import scope

log = logging.getLogger(__name__)

EVERY_TENANT = "pv:all"
# Longer than any page is kept, so a stamp never outlives the version it was taken from.
VERSION_SECONDS = 24 * 3600
# The execution option a statement names the partners or users it writes for with.
OPTION = "kept_pages"
# Where an app keeps the Redis connection of its pages; absent, it keeps none.
EXTENSION = "portal_kept_pages"


def tenant_key(tenant_id: int) -> str:
    return f"pv:t:{tenant_id}"


def partner_key(partner_id: int) -> str:
    return f"pv:p:{partner_id}"


def user_key(user_id: int) -> str:
    return f"pv:u:{user_id}"


def for_partners(ids: Iterable[int]) -> dict[str, Any]:
    """Execution options of an UPDATE of offers that writes only these partners' offers."""
    return {OPTION: tuple(partner_key(i) for i in set(ids))}


def for_users(ids: Iterable[int]) -> dict[str, Any]:
    """Execution options of an UPDATE of notifications that writes only these users'."""
    return {OPTION: tuple(user_key(i) for i in set(ids))}


# Tables no kept page reads, written in bulk by the work behind every lead: a write to one
# changes no page. tests/integration/test_kept_pages.py checks the inbox reads none of them.
UNSHOWN = frozenset(
    {
        "audit_event",
        "fan_out_cursor",
        "idempotency_key",
        "lead_activity",
        "lead_event",
        "lead_import",
        "lead_import_problem",
        "outbound_email",
        "routing_simulation",
        "tier_quality",
        "webhook_delivery",
    }
)
# What the inbox shows of a lead: a lead written elsewhere (its state, its timestamps, its
# contact) changes no inbox; a new lead none, until an offer of it is made.
LEAD_COLUMNS_SHOWN = frozenset(
    {"company_name", "industry", "employees", "city", "country", "product_id", "score"}
)
# Columns written often that no kept page shows: a partner's quality and the tenant's
# configuration version (routing's inputs, recomputed after answers), a user's last login
# (the users list) and a login's last activity.
UNSHOWN_COLUMNS = {
    "partner": frozenset({"quality", "quality_at"}),
    "tenant": frozenset({"config_version"}),
    "user_account": frozenset({"last_login_at"}),
    "auth_session": frozenset({"last_seen_at"}),
}
# What the inbox reads of an offer: the reminders of an offer, its routing record and the
# like change no page.
OFFER_COLUMNS_SHOWN = frozenset({"due_at", "opened_at", "state", "partner_id", "lead_id"})
# Whose pages a row of these tables belongs to, by the column naming them.
OWNER_COLUMNS = {"offer": ("partner_id", partner_key), "notification": ("user_id", user_key)}

_FIRST_WORD = re.compile(r"\s*(\w+)")
_WRITE = re.compile(r'\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)
# Statements that change no row: reads, transaction control, session settings, statistics.
_READS = frozenset(
    {"SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "BEGIN", "SET", "SHOW", "PRAGMA"}
    | {"EXPLAIN", "ANALYZE", "VALUES"}
)
# A common table expression writes only if one of its parts does.
_WRITES_INSIDE = re.compile(r'\b(INSERT\s+INTO|UPDATE\s+"?\w+"?\s+SET|DELETE\s+FROM)\b', re.I)
_STAGING = re.compile(r"\s*(CREATE\s+TEMPORARY\s+TABLE|DROP\s+TABLE)\s+copy_", re.IGNORECASE)
_SET = re.compile(r"\sSET\s", re.IGNORECASE)
_SET_END = re.compile(r"\s(WHERE|RETURNING|FROM)\s", re.IGNORECASE)
_ASSIGNED = re.compile(r'\s*"?(\w+)"?\s*=')

_pending = threading.local()


def _default_scope() -> str:
    current = scope()
    return tenant_key(current) if isinstance(current, int) else EVERY_TENANT


def scopes_of(statement: str, parameters: Sequence[Mapping[str, Any]], named: Any) -> set[str]:
    """The version keys a statement changes: none for a read or an unshown table."""
    # Every statement the app runs comes here: its first word, without copying the text.
    word = _FIRST_WORD.match(statement)
    first = word.group(1).upper() if word else ""
    if first in _READS or _STAGING.match(statement):
        return set()
    if first == "WITH" and not _WRITES_INSIDE.search(statement):
        return set()
    found = _WRITE.match(statement)
    if found is None:  # a write this module cannot read (WITH ..., DDL): every page
        return {_default_scope()}
    verb, table = found.group(1).split()[0].upper(), found.group(2).lower()
    if table in UNSHOWN or (verb == "INSERT" and table in ("lead", "auth_session")):
        return set()  # a new lead is in no inbox until it is offered; a new login has no pages
    assigned = _set_columns(statement) if verb == "UPDATE" else None
    if assigned:
        if assigned <= UNSHOWN_COLUMNS.get(table, frozenset()):
            return set()
        if table == "lead" and not assigned & LEAD_COLUMNS_SHOWN:
            return set()
        if table == "offer" and not assigned & OFFER_COLUMNS_SHOWN:
            return set()
    elif verb == "UPDATE":
        return {_default_scope()}
    if table in OWNER_COLUMNS:
        owners = _owners(table, verb, parameters, named)
        if owners:
            return owners
    return {_default_scope()}


def _set_columns(statement: str) -> set[str] | None:
    """The columns an UPDATE assigns; None if its SET clause cannot be read."""
    found = _SET.search(statement)
    if found is None:
        return None
    rest = statement[found.end() :]
    columns, depth, start = set(), 0, 0
    for at, char in enumerate(rest):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and (char == "," or _SET_END.match(rest, at)):
            assigned = _ASSIGNED.match(rest, start, at)
            if assigned is None:
                return None
            columns.add(assigned.group(1))
            if char != ",":
                return columns
            start = at + 1
    assigned = _ASSIGNED.match(rest, start)
    return columns | {assigned.group(1)} if assigned else None


def _owners(table: str, verb: str, parameters: Sequence[Mapping[str, Any]], named: Any) -> set[str]:
    if verb != "INSERT":
        return set(named or ())
    column, key = OWNER_COLUMNS[table]
    owners = set()
    for row in parameters:
        values = [v for k, v in row.items() if k == column or _is_values_key(k, column)]
        if not values or any(v is None for v in values):
            return set()
        owners.update(key(v) for v in values)
    return owners


def _is_values_key(name: str, column: str) -> bool:
    """A multi-row VALUES insert binds the column's value of row n as <column>_m<n>."""
    return name.startswith(column + "_m") and name[len(column) + 2 :].isdigit()


def note(keys: Iterable[str]) -> None:
    """Remember version keys the current transaction changes, for after its commit."""
    pending = getattr(_pending, "keys", None)
    if pending is None:
        pending = _pending.keys = set()
    pending.update(keys)


def copied_into(table: str) -> None:
    """Note a COPY into the table, which goes past the engine's events."""
    note(scopes_of(f"INSERT INTO {table}", [], None))


def install(engine: sa.Engine) -> None:
    """Watch every statement the engine runs for the writes it makes."""

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _written(
        connection: sa.Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        compiled = getattr(context, "compiled_parameters", None) or []
        named = context.execution_options.get(OPTION) if context is not None else None
        keys = scopes_of(statement, compiled, named)
        if keys:
            note(keys)


@sa.event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    # After the commit, never before: a page read in between would be kept with the new
    # version and the old rows.
    keys = getattr(_pending, "keys", None)
    if not keys:
        return
    _pending.keys = None
    connection = current_app.extensions.get(EXTENSION) if has_app_context() else None
    if connection is not None:
        change(connection, keys)


def ensure(connection: redis.Redis, keys: Iterable[str]) -> None:
    """Give each key that has no version one (nothing written yet, or Redis emptied), and
    leave a version that is there as it is."""
    pipe = connection.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, secrets.token_hex(8), ex=VERSION_SECONDS, nx=True)
    pipe.execute()


def change(connection: redis.Redis, keys: Iterable[str]) -> None:
    """Give each key a new version. A Redis that cannot answer is logged, not raised: the
    commit stands, and pages kept meanwhile last at most their few seconds."""
    pipe = connection.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, secrets.token_hex(8), ex=VERSION_SECONDS)
    try:
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("kept pages: versions %s not changed: %s", sorted(keys), exc)
