"""A tenant's whole data as one ZIP of JSON Lines files, for the tenant's admin.

One file per kind, one JSON object per line. Rows are read in id order a batch at a time
(keyset pagination), so a big tenant never sits in memory at once, and the ZIP is written to
a spooled temporary file that moves to disk once it grows. Money stays integer minor units
next to its currency code; times are ISO 8601 in UTC; password hashes and API key hashes are
never written. manifest.json names the tenant, the time of the export, the format version
and the rows of each file. The files are read in one transaction that sees one moment of the
tenant. Every export is recorded in the audit trail.
"""

from __future__ import annotations

import dataclasses
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import IO, Any

import orjson
import sqlalchemy as sa

from portal import audit
from portal.db import utcnow
from portal.extensions import db
from portal.incentives.models import IncentivePlan, Statement, StatementLine
from portal.leads.models import Lead, LeadActivity, LeadEvent, Offer
from portal.partners.models import Partner, Product, Tier
from portal.scorecards import services as scorecards
from portal.scorecards.periods import month_of, trail
from portal.tenancy.models import ApiKey, Tenant, User
from portal.tenancy.scoping import TenantScopeError, current_tenant_id

FORMAT_VERSION = 1
BATCH = 1000
SCORECARD_MONTHS = 12
# Up to this many bytes the ZIP is kept in memory; past it, in a temporary file on disk.
SPOOL_IN_MEMORY = 8 * 1024 * 1024
_JSON = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
# Never exported: what would let someone sign in as a user or call the API as the tenant.
SECRETS = frozenset({"password_hash", "key_hash"})

# What each file holds, in the order they are written; the export page lists the same.
FILES: dict[str, str] = {
    "partners.jsonl": "Partners: tier, status, capacity, contact, SLA policy, quality.",
    "users.jsonl": "Users: e-mail, name, role, partner, active, last sign-in. No passwords.",
    "api_keys.jsonl": "API keys: name, first characters, created, last used, revoked. No keys.",
    "leads.jsonl": "Leads: company, contact, location, product, deal, score, state, duplicate "
    "and merge links, opportunity and won or lost outcome.",
    "lead_events.jsonl": "Every lead's history: each change of state, who, when and why.",
    "lead_activities.jsonl": "The engagements scoring counts (webinars, downloads, demos).",
    "offers.jsonl": "Every offer to a partner: deadline, answer, reason, why that partner.",
    "scorecards.jsonl": f"Each partner's scorecard of each of the last {SCORECARD_MONTHS} months.",
    "statements.jsonl": "Incentive statements, each with its lines.",
    "incentive_plans.jsonl": "Every version of the incentive plan.",
    "audit_events.jsonl": "The audit trail: who changed what, and when.",
}


@dataclasses.dataclass(frozen=True)
class Export:
    """A finished export: the ZIP (read from its start), its name and size, rows per file."""

    file: IO[bytes]
    filename: str
    size: int
    counts: dict[str, int]


def export_tenant(*, actor: Any, now: datetime | None = None) -> Export:
    """Write the current tenant's whole data to a spooled ZIP, record the export; commit."""
    _read_one_moment()
    tenant = _tenant_in_scope()
    now = now or utcnow()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        counts = write_zip(spool, tenant, now)
        size = spool.seek(0, 2)
        spool.seek(0)
        event = audit.record(
            db.session,
            actor=actor,
            action="tenant.exported",
            obj=tenant,
            changes={"files": counts, "format_version": FORMAT_VERSION},
        )
        event.at = now
        db.session.commit()
    except BaseException:
        spool.close()
        raise
    return Export(spool, f"{tenant.slug}-export-{now:%Y%m%d}.zip", size, counts)


def _read_one_moment() -> None:
    """Start the transaction the export reads in, so that every file shows the tenant as it
    was at one moment: a lead that arrives meanwhile is in none of them, rather than in the
    events file but not the leads file. PostgreSQL's default, READ COMMITTED, gives each
    query its own moment, so the export asks for REPEATABLE READ; SQLite's transaction reads
    one snapshot already. A session inside a caller's transaction (the tests' rollback) stays
    in it."""
    db.session.commit()
    bind = db.session.get_bind()
    if bind.dialect.name == "postgresql" and isinstance(bind, sa.Engine):
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _tenant_in_scope() -> Tenant:
    tenant_id = current_tenant_id()
    tenant = db.session.get(Tenant, tenant_id) if tenant_id is not None else None
    if tenant is None:
        raise TenantScopeError("an export is of one tenant; none is in scope")
    return tenant


def write_zip(out: IO[bytes], tenant: Tenant, now: datetime) -> dict[str, int]:
    """Write every file of the tenant's export and the manifest to out; rows per file."""
    readers = _readers(tenant.id, now)
    counts: dict[str, int] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in FILES:
            counts[name] = _write_lines(archive, _entry(name, now), readers[name]())
        document = orjson.dumps(manifest(tenant, now, counts), option=_JSON)
        archive.writestr(_entry("manifest.json", now), document)
    return counts


def _entry(name: str, now: datetime) -> zipfile.ZipInfo:
    """A file of the ZIP, dated at the export and readable by all once unpacked."""
    info = zipfile.ZipInfo(name, date_time=now.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def manifest(tenant: Tenant, now: datetime, counts: Mapping[str, int]) -> dict[str, Any]:
    """What the export is: whose, when, in which format, and how many rows each file holds."""
    return {
        "format_version": FORMAT_VERSION,
        "tenant": tenant.slug,
        "tenant_name": tenant.name,
        "exported_at": now,
        "files": dict(counts),
        "conventions": {
            "rows": "JSON Lines: one JSON object per line, in id order",
            "times": "ISO 8601 in UTC",
            "money": "integer minor units (cents) next to an ISO 4217 currency code",
        },
    }


def _write_lines(
    archive: zipfile.ZipFile, name: zipfile.ZipInfo, rows: Iterable[Mapping[str, Any]]
) -> int:
    count = 0
    with archive.open(name, "w", force_zip64=True) as entry:
        for row in rows:
            entry.write(orjson.dumps(row, option=_JSON))
            count += 1
    return count


# Reading ---------------------------------------------------------------------------------------


def _readers(tenant_id: int, now: datetime) -> dict[str, Callable[[], Iterator[dict[str, Any]]]]:
    def rows(model: Any, *joins: tuple[Any, Any, Any]) -> Callable[[], Iterator[Any]]:
        return lambda: _rows(tenant_id, model, joins)

    return {
        "partners.jsonl": rows(Partner, (Tier, Partner.tier_id == Tier.id, Tier.name)),
        "users.jsonl": rows(User),
        "api_keys.jsonl": rows(ApiKey),
        "leads.jsonl": rows(Lead, (Product, Lead.product_id == Product.id, Product.code)),
        "lead_events.jsonl": rows(LeadEvent),
        "lead_activities.jsonl": rows(LeadActivity),
        "offers.jsonl": rows(Offer),
        "scorecards.jsonl": lambda: _scorecards(now),
        "statements.jsonl": lambda: _statements(tenant_id),
        "incentive_plans.jsonl": rows(IncentivePlan),
        "audit_events.jsonl": rows(audit.AuditEvent),
    }


def _columns(model: Any) -> list[Any]:
    """The model's columns as exported: all but its tenant and any secret."""
    return [
        getattr(model, attr.key)
        for attr in sa.inspect(model).column_attrs
        if attr.key not in SECRETS and attr.key != "tenant_id"
    ]


def _rows(
    tenant_id: int, model: Any, joins: Iterable[tuple[Any, Any, Any]]
) -> Iterator[dict[str, Any]]:
    """The tenant's rows of the model; each join (table, on, column) adds the column's value
    under the table's name, as a tier's name next to its id, for a reader without the ids."""
    query = sa.select(*_columns(model)).where(model.tenant_id == tenant_id)
    for table, on, column in joins:
        query = query.add_columns(column.label(table.__tablename__)).outerjoin(table, on)
    for batch in _batches(query, model.id):
        yield from (dict(row) for row in batch)


def _batches(query: sa.Select[Any], key: Any) -> Iterator[list[Any]]:
    """The query's rows in key order, BATCH at a time: each batch starts after the last key."""
    after = 0
    while True:
        batch = db.session.execute(query.where(key > after).order_by(key).limit(BATCH))
        rows = list(batch.mappings())
        if rows:
            yield rows
        if len(rows) < BATCH:
            return
        after = rows[-1][key.key]


def _scorecards(now: datetime) -> Iterator[dict[str, Any]]:
    """Each partner's scorecard of each of the last months, the oldest month first."""
    for period in trail(month_of(now.date()), SCORECARD_MONTHS):
        for row in scorecards.cards(period):
            yield {
                "period": period.key,
                "partner_id": row.partner_id,
                "partner_name": row.name,
                "tier": row.tier,
                "country": row.country,
                **dataclasses.asdict(row.card),
            }


def _statements(tenant_id: int) -> Iterator[dict[str, Any]]:
    """Each statement with its lines; a line's amount is in its statement's currency."""
    query = sa.select(*_columns(Statement)).where(Statement.tenant_id == tenant_id)
    for batch in _batches(query, Statement.id):
        lines = _lines_of([row["id"] for row in batch])
        for row in batch:
            statement = dict(row)
            statement["lines"] = [
                {**line, "currency": statement["currency"]} for line in lines[statement["id"]]
            ]
            yield statement


def _lines_of(statement_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    query = (
        sa.select(*_columns(StatementLine))
        .where(StatementLine.statement_id.in_(statement_ids))
        .order_by(StatementLine.statement_id, StatementLine.position, StatementLine.id)
    )
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in db.session.execute(query).mappings():
        lines[line["statement_id"]].append(dict(line))
    return lines
