"""Taking many leads in at once: take_in's rules, scoring and events, with set-based queries.

A batch behaves as if intake.take_in ran for each item in order: a known external id
(in the tenant, or earlier in the batch) answers with the lead already there, a likely
duplicate (in the tenant, or earlier in the batch) is taken in and flagged, and an
invalid item is answered with its field errors without stopping the others. The whole
batch is one transaction with a handful of statements, so a thousand leads cost about as
much as a few single ones.

Where the work allows, the client and the server work at the same time: the server looks
up one part of the batch's keys while the next part is checked, and stores the rows of
the COPY already sent while the next rows are scored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from portal.db import copy_rows, draw_ids, utcnow
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.leads import intake, lead_score
from portal.leads.lifecycle import Action, LeadState, next_state
from portal.leads.models import Lead, LeadEvent
from portal.tenancy import rls
from portal.tenancy.scoping import TenantScopeError, current_tenant_id

Status = Literal["created", "existing", "invalid", "new"]  # "new": a preview would create it
NOT_AN_OBJECT = "Give the lead as an object of fields."
# Scoring moves a new lead to MQL or nurture.
_AFTER_SCORING = {
    action: next_state(LeadState.NEW, action).value
    for action in (Action.SCORE_ABOVE, Action.SCORE_BELOW)
}


@dataclass(frozen=True)
class ItemResult:
    """What became of one item of a batch; index is its position in the batch."""

    index: int
    status: Status
    lead_id: int | None
    errors: dict[str, str] = field(default_factory=dict)


# An item's clean values, or None and its field errors.
_Cleaned = tuple[dict[str, Any] | None, dict[str, str]]


@dataclass(frozen=True)
class _New:
    """An item to create: its position in the batch and its clean values."""

    index: int
    values: dict[str, Any]


def take_in_batch(
    items: Sequence[Mapping[str, Any]],
    *,
    actor: Any,
    channel: str,
    before_commit: Callable[[list[ItemResult]], None] | None = None,
) -> list[ItemResult]:
    """Take many leads in as take_in would one by one, score them, and commit once.

    before_commit writes what the caller keeps about the batch (an import's progress) in
    the same transaction as the leads; if it raises, nothing of the batch is written.
    """
    if not items:
        return []
    cleaned, found = _clean_and_find(items)
    values = [v for v, _ in cleaned if v is not None]
    known = -1
    while True:
        try:
            answers = _take_in_batch(cleaned, found, actor, channel, before_commit)
        except sa.exc.IntegrityError:
            # A concurrent request committed some of our external ids first, and the next
            # attempt answers with their leads. Each such loss makes at least one more id
            # known, so this ends; a failure that taught us nothing new is not that race.
            db.session.rollback()
            found = _find(values)
            if len(found.known) <= known:
                raise
            known = len(found.known)
        else:
            if any(answer.status == "created" for answer in answers):
                intake.hand_to_routing()
            return answers


def preview_batch(items: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
    """What take_in_batch would do with these items, without writing anything."""
    results: dict[int, ItemResult] = {}
    valid: list[_New] = []
    cleaned, found = _clean_and_find(items)
    for index, (values, errors) in enumerate(cleaned):
        if values is None:
            results[index] = ItemResult(index, "invalid", None, errors)
        else:
            valid.append(_New(index, values))
    new, repeats = _split_known(valid, results, found.known)
    for item in new:
        results[item.index] = ItemResult(item.index, "new", None, {})
    for index in repeats:
        results[index] = ItemResult(index, "existing", None, {})
    return [results[index] for index in range(len(items))]


def _take_in_batch(
    cleaned: list[_Cleaned],
    found: _Found,
    actor: Any,
    channel: str,
    before_commit: Callable[[list[ItemResult]], None] | None,
) -> list[ItemResult]:
    results: dict[int, ItemResult] = {}
    valid: list[_New] = []
    for index, (values, errors) in enumerate(cleaned):
        if values is None:
            results[index] = ItemResult(index, "invalid", None, errors)
        else:
            valid.append(_New(index, values))
    new, repeats = _split_known(valid, results, found.known)
    ids = _create(new, found, intake.actor_label(actor), channel) if new else []
    created = {item.index: lead_id for item, lead_id in zip(new, ids, strict=True)}
    results.update({i: ItemResult(i, "created", lead_id, {}) for i, lead_id in created.items()})
    for index, first in repeats.items():
        results[index] = ItemResult(index, "existing", created[first], {})
    answers = [results[index] for index in range(len(cleaned))]
    if before_commit is not None:
        before_commit(answers)
    db.session.commit()
    return answers


# Validation ---------------------------------------------------------------------------------


def _clean_and_find(items: Sequence[Mapping[str, Any]]) -> tuple[list[_Cleaned], _Found]:
    """Each item's clean values, or None and its field errors; and the stored leads that the
    valid items' keys match.

    Checking items needs no database and looking up keys needs nothing else, so the items
    are checked a part at a time and each part's keys are sent to be looked up at once:
    on PostgreSQL the server looks up one part while the next is checked.
    """
    products = _products_for(items)
    cleaned: list[_Cleaned] = []
    with _finder() as finder:
        for start in range(0, len(items), _PART):
            part = [_clean_one(item, products) for item in items[start : start + _PART]]
            finder.send([values for values, _ in part if values is not None])
            cleaned += part
        return cleaned, finder.found()


# Big enough that a part's lookups are worth a statement, small enough that the server is
# soon given work: a batch of 1,000 goes in four parts.
_PART = 250


def _products_for(items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The ids of the products the items name, by code, found in one query."""
    return intake.products_by_code(
        intake.product_code(item.get("product")) for item in items if isinstance(item, Mapping)
    )


def _clean_one(item: object, products: dict[str, int]) -> _Cleaned:
    if not isinstance(item, Mapping):
        return None, {"lead": NOT_AN_OBJECT}
    try:
        return intake.clean_item(item, products), {}
    except ValidationFailed as exc:
        return None, exc.errors


# Known external ids -------------------------------------------------------------------------


def _split_known(
    valid: list[_New], results: dict[int, ItemResult], known: dict[str, int]
) -> tuple[list[_New], dict[int, int]]:
    """The items to create; known ids go into results, repeats map to their first item."""
    first: dict[str, int] = {}
    new: list[_New] = []
    repeats: dict[int, int] = {}
    for item in valid:
        external_id = item.values["external_id"]
        if external_id in known:
            results[item.index] = ItemResult(item.index, "existing", known[external_id], {})
        elif external_id in first:
            repeats[item.index] = first[external_id]
        else:
            if external_id is not None:
                first[external_id] = item.index
            new.append(item)
    return new, repeats


# Finding stored leads ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """The lowest id of the tenant's leads per key: per external id, per contact e-mail, and
    per company domain and product among the leads of the duplicate window."""

    known: dict[str, int]
    by_email: dict[str, int]
    by_company: dict[tuple[str, int], int]


def _find(values: list[dict[str, Any]]) -> _Found:
    """The stored leads that these clean values' keys match."""
    with _finder() as finder:
        finder.send(values)
        return finder.found()


@contextmanager
def _finder() -> Iterator[_PipelinedFinder | _GatheringFinder]:
    """A finder for the current tenant's leads, on PostgreSQL one that looks up as it is
    given keys."""
    _refresh_statistics()  # once a batch, before its first lookup
    since = utcnow() - intake.DUPLICATE_WINDOW
    if not _on_postgresql():
        yield _GatheringFinder(since)
        return
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantScopeError("leads are looked up for one tenant; none is in scope")
    connection = db.session.connection()
    rls.tell(connection)  # the pipeline goes past the events that name the tenant
    driver = connection.connection.driver_connection
    try:
        with driver.pipeline():
            yield _PipelinedFinder(driver, tenant_id, since)
    except connection.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(
            _FIND, None, exc, connection.dialect.loaded_dbapi.Error
        ) from exc


class _Keys:
    """The lookup keys of clean values: external ids, e-mails, companies (domain, product)."""

    def __init__(self, values: list[dict[str, Any]]) -> None:
        self.external_ids = {v["external_id"] for v in values if v["external_id"]}
        matches = [_match_keys(v) for v in values]
        self.emails = {email for email, _ in matches if email}
        self.companies = {company for _, company in matches if company}


class _PipelinedFinder:
    """Sends each part's lookup as it is given (psycopg's pipeline mode) and reads the answers
    at the end, so the server works on one part while the caller makes the next.

    The statement is sent past the session, so it names the tenant itself, as the rows
    copy_rows writes do; the keys go as JSON text, which psycopg passes on as it is.
    """

    def __init__(self, driver: Any, tenant_id: int, since: datetime) -> None:
        self._driver = driver
        self._params = {"tenant": tenant_id, "since": since, "merged": LeadState.MERGED.value}
        self._cursors: list[Any] = []

    def send(self, values: list[dict[str, Any]]) -> None:
        if not values:
            return
        keys = _Keys(values)
        cursor = self._driver.cursor()
        cursor.execute(
            _FIND,
            {
                **self._params,
                "external_ids": json.dumps(list(keys.external_ids)),
                "emails": json.dumps(list(keys.emails)),
                "companies": json.dumps(list(keys.companies)),
            },
        )
        self._cursors.append(cursor)

    def found(self) -> _Found:
        found = _Found({}, {}, {})
        for cursor in self._cursors:
            for kind, key, product_id, lead_id in cursor.fetchall():
                if lead_id is None:
                    continue  # most keys find nothing
                if kind == "external_id":
                    found.known[key] = lead_id
                elif kind == "email":
                    found.by_email[key] = lead_id
                else:
                    found.by_company[(key, product_id)] = lead_id
            cursor.close()
        return found


# Per key, the lowest id of the tenant's leads that match it, tagged with the kind of key.
# Each key is one index probe, however many leads the tenant has: as IN lists, the planner
# chose to read all of the tenant's leads once the table grew, so every batch cost more than
# the one before. A lead merged away is history, as for intake._duplicate_of.
_FIND = """
SELECT 'external_id', k.value, NULL::int, (
    SELECT min(id) FROM lead WHERE tenant_id = %(tenant)s AND external_id = k.value)
FROM json_array_elements_text(%(external_ids)s::json) AS k(value)
UNION ALL
SELECT 'email', k.value, NULL::int, (
    SELECT min(id) FROM lead
    WHERE tenant_id = %(tenant)s AND contact_email = k.value AND state <> %(merged)s)
FROM json_array_elements_text(%(emails)s::json) AS k(value)
UNION ALL
SELECT 'company', k.domain, k.product, (
    SELECT min(id) FROM lead
    WHERE tenant_id = %(tenant)s AND company_domain = k.domain
        AND product_id = k.product AND created_at >= %(since)s
        AND state <> %(merged)s)
FROM (
    SELECT value ->> 0 AS domain, (value ->> 1)::int AS product
    FROM json_array_elements(%(companies)s::json)
    -- A fence: inlined, the JSON operators (not leakproof) would reach the lookup, where
    -- row-level security keeps them from the index and the lookup reads the whole table.
    OFFSET 0
) AS k
"""


class _GatheringFinder:
    """Gathers the keys and looks them up at the end, one IN list per kind of key, through
    the session (SQLite, the embedded default, has no pipeline and a single writer)."""

    def __init__(self, since: datetime) -> None:
        self._since = since
        self._values: list[dict[str, Any]] = []

    def send(self, values: list[dict[str, Any]]) -> None:
        self._values += values

    def found(self) -> _Found:
        keys = _Keys(self._values)
        live = Lead.state != LeadState.MERGED.value
        recent = Lead.created_at >= self._since
        known = _lowest_ids([Lead.external_id], {(e,) for e in keys.external_ids})
        by_email = _lowest_ids([Lead.contact_email], {(e,) for e in keys.emails}, live)
        by_company = _lowest_ids(
            [Lead.company_domain, Lead.product_id], keys.companies, recent, live
        )
        return _Found(
            {external_id: lead_id for (external_id,), lead_id in known.items()},
            {email: lead_id for (email,), lead_id in by_email.items()},
            by_company,
        )


# Leads this process inserted per tenant since it last analysed the table, and how many
# leads the planner then believed the tenant had at least.
_inserted: dict[int, int] = {}
_believed: dict[int, int] = {}
_inserted_lock = threading.Lock()
# The planner's belief is refreshed once the tenant has grown to this many times it.
_OUTGROWN = 10


def _count_inserted(tenant_id: int, count: int) -> None:
    with _inserted_lock:
        _inserted[tenant_id] = _inserted.get(tenant_id, 0) + count


def _refresh_statistics() -> None:
    """Let PostgreSQL see how many leads the tenant has before it plans the lookups below.

    A tenant that takes in thousands of leads a second (an import, a burst of batches)
    outruns autovacuum's statistics, most of all a new tenant beside a large one. Planning
    for a tenant of a few leads, PostgreSQL reads every lead of the tenant once per key,
    and each batch costs more than the last. So once this process has inserted nine times
    as many of the tenant's leads as the planner believes the tenant has (and at least
    1,000), the table is analysed: about once each time the tenant grows tenfold. A
    planner that believes in a thousand leads or more already probes the composite indexes
    once per key, so analysing more often (as when the tenant doubled) only cost time.
    The cumulative statistics views lag by a second or so, too much to decide this by.
    """
    tenant_id = current_tenant_id()
    if not _on_postgresql() or tenant_id is None:
        return
    inserted = _inserted.get(tenant_id, 0)
    # The planner's estimate only grows with the table, so an earlier one is a lower bound.
    if inserted < max(1000, (_OUTGROWN - 1) * _believed.get(tenant_id, 0)):
        return
    plan = db.session.scalar(
        sa.text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM lead WHERE tenant_id = {int(tenant_id)}")
    )
    believed = plan[0]["Plan"]["Plan Rows"]
    with _inserted_lock:
        _believed[tenant_id] = believed
        if _inserted.get(tenant_id, 0) < (_OUTGROWN - 1) * believed:
            return
        _inserted[tenant_id] = 0
        _believed[tenant_id] = 0  # to be asked again after the next thousand
    # On a connection of its own, so its lock ends with it, not with this batch.
    engine = db.session.get_bind().engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # The columns the lookups filter on; the JSON columns would only cost time.
        connection.exec_driver_sql(
            "ANALYZE lead (tenant_id, external_id, contact_email, company_domain, product_id,"
            " state, created_at)"
        )


def _lowest_ids(
    columns: list[sa.ColumnElement[Any]], keys: set[tuple[Any, ...]], *criteria: Any
) -> dict[tuple[Any, ...], int]:
    """The lowest id of the tenant's leads per key (values of the columns) meeting criteria."""
    if not keys:
        return {}
    query = (
        sa.select(*columns, sa.func.min(Lead.id))
        .where(*(c.in_({key[i] for key in keys}) for i, c in enumerate(columns)), *criteria)
        .group_by(*columns)
    )
    rows = ((tuple(row[:-1]), row[-1]) for row in db.session.execute(query))
    return {key: lead_id for key, lead_id in rows if lead_id is not None and key in keys}


# Duplicates -----------------------------------------------------------------------------------


def _duplicates(new: list[_New], found: _Found) -> tuple[list[int | None], list[int | None]]:
    """Per new item: the earliest duplicate lead in the tenant, else its first batch twin.

    Leads already stored have lower ids than any lead of this batch, so a stored match
    is always the one take_in would find first.
    """
    keys = [_match_keys(item.values) for item in new]
    by_email, by_company = found.by_email, found.by_company
    stored: list[int | None] = []
    in_batch: list[int | None] = []
    seen_email: dict[str, int] = {}
    seen_company: dict[tuple[str, int], int] = {}
    for position, (email, company) in enumerate(keys):
        found = _earliest(by_email.get(email), by_company.get(company))
        stored.append(found)
        twin = _earliest(seen_email.get(email), seen_company.get(company))
        in_batch.append(twin if found is None else None)
        if email:
            seen_email.setdefault(email, position)
        if company:
            seen_company.setdefault(company, position)
    return stored, in_batch


def _earliest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _match_keys(values: dict[str, Any]) -> tuple[str | None, tuple[str, int] | None]:
    email = values.get("contact_email") or None
    domain, product_id = values.get("company_domain"), values.get("product_id")
    return email, (domain, product_id) if domain and product_id else None


# Writing --------------------------------------------------------------------------------------


def _create(new: list[_New], found: _Found, actor_label: str, channel: str) -> list[int]:
    """Insert the new leads scored, flag their duplicates, and write the event of each."""
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantScopeError("leads are taken in for one tenant; none is in scope")
    now = utcnow()
    stored, in_batch = _duplicates(new, found)
    outcome_of = _scorer(now)
    outcomes: list[_Outcome | None] = [None] * len(new)

    def row(position: int) -> dict[str, Any]:
        # Scored as the row is written: the server stores the rows sent while this works.
        values = new[position].values
        outcome = outcomes[position] = outcome_of(values)
        return _lead_row(values, outcome, stored[position], tenant_id, now)

    ids = _insert_leads(new, row, in_batch)
    _count_inserted(tenant_id, len(ids))
    duplicate_of = [
        d if d is not None else _id_at(ids, p) for d, p in zip(stored, in_batch, strict=True)
    ]
    scored = [outcome for outcome in outcomes if outcome is not None]
    _insert_events(_event_rows(ids, scored, duplicate_of, actor_label, channel, tenant_id, now))
    return ids


def _on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _insert_leads(
    new: list[_New], row: Callable[[int], dict[str, Any]], in_batch: list[int | None]
) -> list[int]:
    """Insert each new item's row (row(position) makes it), each pointing at its first twin
    in the batch; their ids in order.

    On PostgreSQL the ids are drawn from the sequence first, so every row knows its twin's
    id and all go in one COPY, the rows made as they are written. Elsewhere one INSERT ..
    RETURNING gives the ids and one UPDATE points the twins; it is Core on the table,
    because the ORM's bulk insert starts a new statement whenever the set of None values
    changes, one round trip per lead.
    """
    leads = Lead.__table__
    if not _on_postgresql():
        query = sa.insert(leads).returning(leads.c.id, sort_by_parameter_order=True)
        ids = list(db.session.execute(query, [row(p) for p in range(len(new))]).scalars())
        _flag_batch_twins(ids, in_batch)
        return ids
    ids = draw_ids(db.session.connection(), leads, len(new))

    def rows_in_order() -> Iterator[dict[str, Any]]:
        # Concurrent batches that share external ids insert them in one order, so one waits
        # for the other's commit (and then retries) instead of each waiting for the other.
        for position in sorted(range(len(new)), key=lambda p: _external_id_order(new[p])):
            values = row(position)
            values["id"] = ids[position]
            twin = in_batch[position]
            if twin is not None:
                values["duplicate_of_id"] = ids[twin]
            yield values

    copy_rows(db.session.connection(), leads, rows_in_order())
    return ids


def _external_id_order(item: _New) -> tuple[bool, str]:
    external_id = item.values["external_id"]
    return external_id is None, external_id or ""


def _id_at(ids: list[int], position: int | None) -> int | None:
    return None if position is None else ids[position]


@dataclass(frozen=True)
class _Outcome:
    """What a score makes of a new lead: its state and breakdown, and why, for its event."""

    state: str
    score: int
    breakdown: list[dict[str, object]]
    action: str
    verdict: str
    data: dict[str, Any]


def _scorer(now: datetime) -> Callable[[dict[str, Any]], _Outcome]:
    """Scores new leads one by one; leads that score alike share one outcome, worded once.

    The Scorer gives leads without activities (every new lead) that meet the same rules
    one Score, so the words, the breakdown and the event data are made once per score
    and, shared, written once per batch. The criteria are read here, before any row.
    """
    scorer = lead_score.Scorer(intake.criteria())
    made: dict[int, _Outcome] = {}  # by id of the shared Score, which scorer keeps alive

    def outcome_of(values: dict[str, Any]) -> _Outcome:
        score = scorer.score(intake.lead_values(values), (), now)
        outcome = made.get(id(score))
        if outcome is None:
            outcome = made[id(score)] = _outcome(score)
        return outcome

    return outcome_of


def _outcome(score: lead_score.Score) -> _Outcome:
    action = lead_score.scoring_action(score)
    return _Outcome(
        state=_AFTER_SCORING[action],
        score=score.total,
        breakdown=score.breakdown(),
        action=action.value,
        verdict=score.verdict(),
        data={"score": score.total, "missing": list(score.missing_fields)},
    )


def _lead_row(
    values: dict[str, Any],
    outcome: _Outcome,
    duplicate_of: int | None,
    tenant_id: int,
    now: datetime,
) -> dict[str, Any]:
    """The lead's row: its clean values, completed in place (a retry sets every key again)."""
    values.update(
        tenant_id=tenant_id,
        state=outcome.state,
        score=outcome.score,
        score_breakdown=outcome.breakdown,
        duplicate_of_id=duplicate_of,
        created_at=now,
        updated_at=now,
    )
    return values


def _flag_batch_twins(ids: list[int], in_batch: list[int | None]) -> None:
    """Point leads that duplicate an earlier lead of the same batch at it, in one statement."""
    twins = [
        {"id": lead_id, "duplicate_of_id": ids[position]}
        for lead_id, position in zip(ids, in_batch, strict=True)
        if position is not None
    ]
    if twins:
        db.session.execute(sa.update(Lead), twins)


# The columns of the events bulk intake writes, in the order _event_rows gives them.
_EVENT_COLUMNS = (
    "tenant_id", "actor_label", "at", "lead_id", "action", "from_state", "to_state", "reason",
    "data",
)  # fmt: skip


def _event_rows(
    ids: list[int],
    outcomes: list[_Outcome],
    duplicates: list[int | None],
    actor_label: str,
    channel: str,
    tenant_id: int,
    now: datetime,
) -> list[tuple[Any, ...]]:
    """Per lead the one event take_in writes, score_above or score_below from no state, as
    values of _EVENT_COLUMNS."""
    reasons: dict[int, str] = {}  # by id of the shared outcome, so each is written once
    rows: list[tuple[Any, ...]] = []
    for lead_id, outcome, duplicate_of in zip(ids, outcomes, duplicates, strict=True):
        reason = reasons.get(id(outcome))
        if reason is None:
            reason = reasons[id(outcome)] = intake.taken_in_reason(channel, outcome.verdict)
        data = {**outcome.data, "duplicate_of": duplicate_of} if duplicate_of else outcome.data
        rows.append(
            (
                tenant_id, actor_label, now, lead_id, outcome.action, None, outcome.state,
                reason, data,
            )
        )  # fmt: skip
    return rows


def _insert_events(rows: list[tuple[Any, ...]]) -> None:
    """Insert the events in one COPY on PostgreSQL, else in one executemany."""
    table = LeadEvent.__table__
    if _on_postgresql():
        copy_rows(db.session.connection(), table, rows, _EVENT_COLUMNS)
    else:
        db.session.execute(
            sa.insert(table), [dict(zip(_EVENT_COLUMNS, row, strict=True)) for row in rows]
        )
