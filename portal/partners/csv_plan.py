"""Partners as CSV: reading a file, checking each line, and planning what an import changes.

Pure: plain values in, plain values out. The service gives it the tenant's partners and
catalogue as plain records and applies the plan; nothing here touches a database.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

from email_validator import EmailNotValidError, validate_email

from portal.csvtext import FileProblem, unquote_formula, write_rows
from portal.partners import validation as rules
from portal.partners.validation import PARTNER_STATUSES

COLUMNS = (
    "name", "tier", "status", "capacity", "country", "timezone", "sla_policy",
    "contact_name", "contact_email", "contact_phone", "territories", "products",
)  # fmt: skip
MAX_LINES = 20_000


@dataclass(frozen=True)
class PartnerRecord:
    """A partner as the CSV describes it: references by name and code, coverage as sets."""

    name: str
    tier: str
    status: str
    capacity: int
    country: str
    timezone: str
    sla_policy: str  # "" means the tenant's default
    contact_name: str
    contact_email: str
    contact_phone: str
    territories: frozenset[str]
    products: frozenset[tuple[str, int]]


@dataclass(frozen=True)
class Catalogue:
    """What a line may refer to: names and codes as the tenant spells them."""

    tiers: frozenset[str]
    sla_policies: frozenset[str]
    territories: frozenset[str]
    products: frozenset[str]
    # Codes of files written before postal prefixes had codes like DE-PC-80: old code to new.
    territory_aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass
class LinePlan:
    line: int
    name: str
    action: str  # "create", "update", "unchanged" or "error"
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    record: PartnerRecord | None = None


@dataclass
class ImportPlan:
    lines: list[LinePlan]

    def count(self, action: str) -> int:
        return sum(1 for line in self.lines if line.action == action)

    @property
    def ok(self) -> bool:
        return bool(self.lines) and self.count("error") == 0

    def summary(self) -> dict[str, int]:
        return {a: self.count(a) for a in ("create", "update", "unchanged", "error")}


# Reading ---------------------------------------------------------------------------------


def read_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, cells by column) for each data row; FileProblem for a bad header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    _check_header(header)
    rows = []
    start = reader.line_num + 1
    for cells in reader:
        if any(c.strip() for c in cells):
            rows.append((start, _cells(header, cells)))
        if len(rows) > MAX_LINES:
            raise FileProblem(
                f"The file has more than {MAX_LINES:,} partners; split it into smaller files."
            )
        start = reader.line_num + 1
    if not rows:
        raise FileProblem("The file has a header but no partner lines.")
    return rows


def _check_header(header: list[str]) -> None:
    missing = [c for c in COLUMNS if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    repeated = sorted({h for h in header if header.count(h) > 1})
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unknown:
        problems.append("unknown " + ", ".join(repr(u) for u in unknown))
    if repeated:
        problems.append("repeated " + ", ".join(repeated))
    if problems:
        raise FileProblem(
            f"The header line is wrong ({'; '.join(problems)}). It must name these columns: "
            + ", ".join(COLUMNS)
            + "."
        )


def _cells(header: list[str], cells: list[str]) -> dict[str, str]:
    values = {column: "" for column in COLUMNS}
    for column, cell in zip(header, cells, strict=False):
        values[column] = unquote_formula(cell.strip())
    if len(cells) > len(header):
        values["__extra__"] = "yes"
    return values


# Checking a line -------------------------------------------------------------------------


def _pick(name: str, allowed: Iterable[str], what: str) -> str:
    by_lower = {a.lower(): a for a in allowed}
    if name.lower() not in by_lower:
        raise rules.InvalidValue(f"unknown {what} {name!r}")
    return by_lower[name.lower()]


def _territories(raw: str, catalogue: Catalogue) -> frozenset[str]:
    named = {c.strip().upper() for c in raw.replace(",", ";").split(";") if c.strip()}
    codes = {code if code in catalogue.territories else _alias(code, catalogue) for code in named}
    unknown = sorted(codes - catalogue.territories)
    if unknown:
        raise rules.InvalidValue("unknown territories " + ", ".join(unknown))
    return frozenset(codes)


def _alias(code: str, catalogue: Catalogue) -> str:
    return catalogue.territory_aliases.get(code, code)


def _products(raw: str, catalogue: Catalogue) -> frozenset[tuple[str, int]]:
    """'CODE:level; CODE:level' with levels 0 to 3 (a missing level is 0)."""
    items: dict[str, int] = {}
    for item in (i.strip() for i in raw.replace(",", ";").split(";")):
        if not item:
            continue
        code, _, level = item.partition(":")
        code = code.strip().upper()
        if code not in catalogue.products:
            raise rules.InvalidValue(f"unknown product {code!r}")
        items[code] = rules.certification(level.strip() or 0)
    return frozenset(items.items())


def _email(raw: str) -> str:
    if not raw:
        return ""
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise rules.InvalidValue(str(exc)) from None


def _status(raw: str) -> str:
    value = (raw or "active").lower()
    if value not in PARTNER_STATUSES:
        raise rules.InvalidValue(f"status must be one of {', '.join(PARTNER_STATUSES)}")
    return value


def check_line(
    cells: Mapping[str, str], catalogue: Catalogue
) -> tuple[PartnerRecord | None, list[str]]:
    """The partner a line describes, or every problem with it."""
    errors: list[str] = []
    if cells.get("__extra__"):
        errors.append("more cells than columns in the header")

    def take(column: str, check: object, *args: object) -> object:
        try:
            return check(cells[column], *args)  # type: ignore[operator]
        except rules.InvalidValue as exc:
            errors.append(f"{column}: {exc}")
            return None

    values = {
        "name": take("name", rules.name),
        "tier": take("tier", _pick, catalogue.tiers, "tier"),
        "status": take("status", _status),
        "capacity": take("capacity", rules.capacity),
        "country": take("country", rules.country),
        "timezone": take("timezone", rules.timezone),
        "sla_policy": take(
            "sla_policy", lambda v: _pick(v, catalogue.sla_policies, "SLA policy") if v else ""
        ),
        "contact_name": cells["contact_name"][:120],
        "contact_email": take("contact_email", _email),
        "contact_phone": cells["contact_phone"][:40],
        "territories": take("territories", _territories, catalogue),
        "products": take("products", _products, catalogue),
    }
    if errors:
        return None, errors
    return PartnerRecord(**values), []  # type: ignore[arg-type]


# Planning --------------------------------------------------------------------------------


def plan(
    rows: list[tuple[int, dict[str, str]]],
    existing: Mapping[str, PartnerRecord],
    catalogue: Catalogue,
) -> ImportPlan:
    """What importing these rows would do to partners keyed by lower-case name."""
    lines, seen = [], {}
    for number, cells in rows:
        record, errors = check_line(cells, catalogue)
        name = (record.name if record else cells.get("name", "")) or "(no name)"
        key = name.lower()
        if record and key in seen:
            errors = [f"name: {name!r} appears already on line {seen[key]}"]
            record = None
        seen.setdefault(key, number)
        if record is None:
            lines.append(LinePlan(number, name, "error", errors=errors))
            continue
        before = existing.get(key)
        changes = differences(before, record) if before else {}
        action = "create" if before is None else ("update" if changes else "unchanged")
        lines.append(LinePlan(number, name, action, changes=changes, record=record))
    return ImportPlan(lines)


def differences(before: PartnerRecord, after: PartnerRecord) -> dict[str, tuple[str, str]]:
    """Each field that differs, as text fit to show: {field: (before, after)}."""
    out = {}
    for f in fields(PartnerRecord):
        old, new = getattr(before, f.name), getattr(after, f.name)
        if old != new:
            out[f.name] = (cell_text(f.name, old), cell_text(f.name, new))
    return out


def cell_text(column: str, value: object) -> str:
    """A record's value as its CSV cell."""
    if column == "territories":
        return "; ".join(sorted(value))  # type: ignore[arg-type]
    if column == "products":
        return "; ".join(f"{code}:{level}" for code, level in sorted(value))  # type: ignore[arg-type]
    return "" if value is None else str(value)


def write_csv(records: Iterable[PartnerRecord]) -> str:
    """The CSV text of these partners, safe to open in a spreadsheet, readable by read_rows."""
    return write_rows(
        COLUMNS, ([cell_text(c, getattr(record, c)) for c in COLUMNS] for record in records)
    )
