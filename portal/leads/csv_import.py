"""Importing leads from CSV: upload, map the columns, check every line, then import by job.

An upload is kept whole, so the dry run and the import read the same lines. Both run as
jobs that work through the file in chunks; each chunk commits its leads, its problems and
the import's counters together, under a condition on the counter, so a chunk is imported
once even if a job is run twice, and a stopped job resumes where it stopped.

States: uploaded -> checking -> checked -> importing -> imported; failed from either job.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from portal import audit, csvtext
from portal.db import utcnow
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db, queue
from portal.jobs import job
from portal.leads import csv_rows, intake
from portal.leads.bulk_intake import ItemResult, preview_batch, take_in_batch
from portal.leads.models import LeadImport, LeadImportProblem
from portal.tenancy.scoping import current_tenant_id, tenant_scope

CHUNK = 1_000
SAMPLE_LINES = 3
RUNNING = ("checking", "importing")
# The columns may change until the import begins; a failed dry run may be run again.
MAPPABLE = ("uploaded", "checked", "failed")
# A chunk takes seconds; this long without one means the job's worker has gone.
STALL_AFTER = timedelta(minutes=10)
Line = tuple[int, list[str]]


class _Overtaken(Exception):
    """Another run of the job has moved the import on; this one stops without writing."""


# Upload and mapping ---------------------------------------------------------------------------


def stage(filename: str, raw: bytes, encoding: str, *, actor: Any) -> LeadImport:
    """Keep an uploaded file, with the columns guessed; nothing is checked or imported yet."""
    try:
        text = csvtext.decode(raw, encoding)
        header = csv_rows.read_header(text)
        total = csv_rows.count_records(text)
    except csvtext.FileProblem as exc:
        raise ValidationFailed({"file": str(exc)}) from None
    upload = LeadImport(
        filename=(filename or "leads.csv")[:255],
        encoding=encoding,
        content=text,
        header=header,
        mapping=csv_rows.guess_mapping(header),
        total_lines=total,
        created_by_id=getattr(actor, "id", None),
        created_by_label=intake.actor_label(actor),
    )
    db.session.add(upload)
    db.session.flush()
    audit.record(
        db.session,
        actor=actor,
        action="lead_import.uploaded",
        obj=upload,
        changes={"file": upload.filename, "lines": total, "encoding": encoding},
    )
    db.session.commit()
    return upload


def get_import(import_id: int) -> LeadImport:
    upload = db.session.get(LeadImport, import_id)
    if upload is None:
        raise NotFound("no such import")
    return upload


def samples(upload: LeadImport) -> list[list[str]]:
    """Per column, the first few values of the file, to help map it."""
    columns: list[list[str]] = [[] for _ in upload.header]
    for _, cells in islice(csv_rows.records(upload.content), SAMPLE_LINES):
        for position, cell in enumerate(cells[: len(columns)]):
            columns[position].append(cell)
    return columns


def recent_imports(limit: int = 10) -> list[LeadImport]:
    query = sa.select(LeadImport).order_by(LeadImport.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def check(import_id: int, mapping: Sequence[str | None], *, actor: Any) -> LeadImport:
    """Save the column mapping and start the dry run over every line."""
    upload = get_import(import_id)
    mapping = list(mapping)
    if len(mapping) != len(upload.header):
        raise ValidationFailed({"mapping": "Map every column of the file, or leave it out."})
    errors = csv_rows.mapping_errors(mapping)
    if errors:
        raise ValidationFailed(
            {("mapping" if at < 0 else f"column-{at}"): message for at, message in errors.items()}
        )
    moved = _move(
        import_id,
        MAPPABLE,
        "checking",
        LeadImport.started_at.is_(None),
        mapping=mapping,
        processed=0,
        counts={},
        error=None,
        checked_at=None,
        started_at=None,
        progress_at=utcnow(),
    )
    if not moved:
        raise Conflict("The import has begun, so its columns can no longer change.")
    db.session.execute(sa.delete(LeadImportProblem).where(LeadImportProblem.import_id == import_id))
    audit.record(
        db.session,
        actor=actor,
        action="lead_import.checked",
        obj=upload,
        changes={"mapping": _described(upload.header, mapping)},
    )
    db.session.commit()
    queue.enqueue(check_lines, current_tenant_id(), import_id)
    return get_import(import_id)


def mapping_open(upload: LeadImport) -> bool:
    """Whether the columns of the file may still be mapped anew."""
    return upload.state in MAPPABLE and upload.started_at is None


def _described(header: Sequence[str], mapping: Sequence[str | None]) -> dict[str, str]:
    return {
        column: csv_rows.LABELS[name]
        for column, name in zip(header, mapping, strict=True)
        if name is not None
    }


def start(import_id: int, *, actor: Any) -> LeadImport:
    """Import the lines the dry run found valid; at most once per upload."""
    upload = get_import(import_id)
    moved = _move(
        import_id,
        ("checked",),
        "importing",
        processed=0,
        counts={},
        started_at=utcnow(),
        progress_at=utcnow(),
        started_by_label=intake.actor_label(actor),
    )
    if not moved:
        raise Conflict(
            "This file is being imported or has been imported already."
            if upload.started_at
            else "Finish the check of the file first."
        )
    audit.record(
        db.session,
        actor=actor,
        action="lead_import.started",
        obj=upload,
        changes={"file": upload.filename, "lines": upload.total_lines},
    )
    db.session.commit()
    queue.enqueue(import_lines, current_tenant_id(), import_id)
    return get_import(import_id)


def stalled(upload: LeadImport) -> bool:
    """A job that stopped without saying so (its worker was killed): no progress for a while."""
    if upload.state == "failed":
        return True
    last = upload.progress_at
    return upload.state in RUNNING and last is not None and utcnow() - last > STALL_AFTER


def resume(import_id: int, *, actor: Any) -> LeadImport:
    """Run a stopped job again from the last chunk it finished."""
    upload = get_import(import_id)
    running = "importing" if upload.started_at else "checking"
    moved = db.session.execute(
        sa.update(LeadImport)
        .where(LeadImport.id == import_id)
        .where(
            sa.or_(
                LeadImport.state == "failed",
                sa.and_(
                    LeadImport.state == running,
                    LeadImport.progress_at < utcnow() - STALL_AFTER,
                ),
            )
        )
        .values(state=running, error=None, progress_at=utcnow())
    ).rowcount
    if not moved:
        raise Conflict("Only a stopped import can be resumed; this one is still running or done.")
    audit.record(
        db.session,
        actor=actor,
        action="lead_import.resumed",
        obj=upload,
        changes={"lines_done_before": upload.processed},
    )
    db.session.commit()
    queue.enqueue(
        import_lines if running == "importing" else check_lines, current_tenant_id(), import_id
    )
    return get_import(import_id)


def _move(
    import_id: int, expected: Sequence[str], state: str, *conditions: Any, **values: Any
) -> bool:
    """Move the import to a state only from the expected ones: a conditional update."""
    query = (
        sa.update(LeadImport)
        .where(LeadImport.id == import_id, LeadImport.state.in_(expected), *conditions)
        .values(state=state, **values)
    )
    return bool(db.session.execute(query).rowcount)


# The jobs -----------------------------------------------------------------------------------


@job("default", timeout=3 * 3600, long_running=True)
def check_lines(tenant_id: int, import_id: int) -> str:
    """The dry run: every line checked by intake's rules, problems kept, nothing imported."""
    with tenant_scope(tenant_id):
        return _work(import_id, "checking", "checked", _check_chunk)


@job("default", timeout=3 * 3600, long_running=True)
def import_lines(tenant_id: int, import_id: int) -> str:
    """The import: valid lines taken in as leads, one transaction per chunk."""
    with tenant_scope(tenant_id):
        return _work(import_id, "importing", "imported", _import_chunk)


def _work(
    import_id: int, state: str, done: str, handle: Callable[[LeadImport, list[Line]], None]
) -> str:
    upload = db.session.get(LeadImport, import_id)
    if upload is None or upload.state != state:
        return "nothing to do"
    try:
        lines = csv_rows.records(upload.content)
        deque(islice(lines, upload.processed), maxlen=0)  # what an earlier run finished
        for chunk in iter(lambda: list(islice(lines, CHUNK)), []):
            handle(upload, chunk)
        finished = {"checked_at" if done == "checked" else "finished_at": utcnow()}
        if _move(import_id, (state,), done, **finished):
            db.session.commit()
        return done
    except _Overtaken:
        db.session.rollback()
        return "overtaken"
    except Exception as exc:
        db.session.rollback()
        # Only the run that holds the import's place marks it failed, not one that lost a race.
        db.session.execute(
            sa.update(LeadImport)
            .where(LeadImport.id == import_id, LeadImport.state == state)
            .where(LeadImport.processed == upload.processed)
            .values(state="failed", error=f"Stopped by an error: {type(exc).__name__}.")
        )
        db.session.commit()
        raise


def _split(upload: LeadImport, chunk: list[Line]) -> tuple[list[dict[str, Any]], list[dict]]:
    """Each line's lead data, and each line's file problems (formulas, extra cells)."""
    items, problems = [], []
    for _, cells in chunk:
        data, errors = csv_rows.lead_data(cells, upload.mapping)
        items.append(data)
        problems.append(errors)
    return items, problems


def _check_chunk(upload: LeadImport, chunk: list[Line]) -> None:
    items, file_problems = _split(upload, chunk)
    results = preview_batch(items)
    tally = {"new": 0, "existing": 0, "invalid": 0}
    rows = []
    for (line, _), result, extra in zip(chunk, results, file_problems, strict=True):
        problems = {**result.errors, **extra}
        tally["invalid" if problems else result.status] += 1
        rows += _problem_rows(upload, "check", line, problems)
    counts = _record_progress(upload, len(chunk), tally, rows)
    db.session.commit()
    _advance(upload, len(chunk), counts)


def _import_chunk(upload: LeadImport, chunk: list[Line]) -> None:
    items, file_problems = _split(upload, chunk)
    clean = [i for i, extra in enumerate(file_problems) if not extra]
    refused = [i for i, extra in enumerate(file_problems) if extra]
    # A refused line's report names its other problems too, so it is fixed in one go.
    other_problems = preview_batch([items[i] for i in refused]) if refused else []
    base_rows = []
    for position, result in zip(refused, other_problems, strict=True):
        problems = {**result.errors, **file_problems[position]}
        base_rows += _problem_rows(upload, "import", chunk[position][0], problems)
    counts: dict[str, int] = {}

    def keep(results: list[ItemResult]) -> None:
        # Built afresh on each call: intake retries a batch that lost a race for an external id.
        tally = {"created": 0, "existing": 0, "invalid": len(refused)}
        rows = list(base_rows)
        for position, result in zip(clean, results, strict=True):
            tally[result.status] += 1
            rows += _problem_rows(upload, "import", chunk[position][0], result.errors)
        counts.clear()
        counts.update(_record_progress(upload, len(chunk), tally, rows))

    if clean:
        take_in_batch(
            [items[i] for i in clean],
            actor=f"{upload.started_by_label} (CSV {upload.filename})",
            channel="CSV import",
            before_commit=keep,
        )
    else:
        keep([])
        db.session.commit()
    _advance(upload, len(chunk), counts)


def _problem_rows(
    upload: LeadImport, phase: str, line: int, problems: dict[str, str]
) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": upload.tenant_id,
            "import_id": upload.id,
            "phase": phase,
            "line": line,
            "field": field[:40],
            "message": message,
        }
        for field, message in problems.items()
    ]


def _record_progress(
    upload: LeadImport, lines: int, tally: dict[str, int], problems: list[dict[str, Any]]
) -> dict[str, int]:
    """Count the chunk, but only if no other run counted it first; then keep its problems."""
    counts = dict(upload.counts or {})
    for key, value in tally.items():
        counts[key] = counts.get(key, 0) + value
    moved = db.session.execute(
        sa.update(LeadImport)
        .where(LeadImport.id == upload.id, LeadImport.processed == upload.processed)
        .where(LeadImport.state.in_(RUNNING))
        .values(processed=upload.processed + lines, counts=counts, progress_at=utcnow())
        # The in-memory import moves on after the commit (_advance), not before it.
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        raise _Overtaken()
    if problems:
        db.session.execute(sa.insert(LeadImportProblem), problems)
    return counts


def _advance(upload: LeadImport, lines: int, counts: dict[str, int]) -> None:
    """After the commit: the in-memory import catches up with the row, without a write."""
    set_committed_value(upload, "processed", upload.processed + lines)
    set_committed_value(upload, "counts", counts)


# Reports ----------------------------------------------------------------------------------


def phase(upload: LeadImport) -> str:
    """Which run's problems describe the file now: the import's once it has begun."""
    return "import" if upload.started_at else "check"


def problems_page(upload: LeadImport, page: int, per_page: int) -> Any:
    query = (
        sa.select(LeadImportProblem)
        .where(LeadImportProblem.import_id == upload.id)
        .where(LeadImportProblem.phase == phase(upload))
        .order_by(LeadImportProblem.line, LeadImportProblem.id)
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def rejected_lines_csv(upload: LeadImport) -> Iterator[str]:
    """The lines that were not imported, as uploaded, each with its line number and problems."""
    query = (
        sa.select(LeadImportProblem.line, LeadImportProblem.field, LeadImportProblem.message)
        .where(LeadImportProblem.import_id == upload.id)
        .where(LeadImportProblem.phase == phase(upload))
        .order_by(LeadImportProblem.line, LeadImportProblem.id)
    )
    by_line: dict[int, dict[str, str]] = {}
    for line, field, message in db.session.execute(query):
        by_line.setdefault(line, {})[field] = message
    return _csv_lines(["line", "problems", *upload.header], by_line, upload.content)


def _csv_lines(
    header: list[str], by_line: dict[int, dict[str, str]], content: str
) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def row(cells: Sequence[str]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow([csvtext.quote_formula(cell) for cell in cells])
        return out.getvalue()

    yield "\ufeff" + row(header)  # a BOM, so spreadsheets read the file as UTF-8
    for line, cells in csv_rows.records(content):
        if line in by_line:
            yield row(csv_rows.rejected_line(line, by_line[line], cells))


def progress(upload: LeadImport) -> dict[str, Any]:
    """What the import page shows while a job runs."""
    total = upload.total_lines or 1
    return {
        "state": upload.state,
        "processed": upload.processed,
        "total": upload.total_lines,
        "percent": min(100, round(100 * upload.processed / total)),
        "counts": upload.counts or {},
        "running": upload.state in RUNNING,
    }
