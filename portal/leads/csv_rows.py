"""Leads as CSV: the columns a file may have, mapping them to lead fields, and reading lines.

Pure: text in, plain values out. A line becomes the same mapping of lead data that the
form and the API give intake, so a lead is checked by the same rules whichever way it
comes; what only a file can get wrong (a formula, a cell too many) is caught here.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from portal.csvtext import FileProblem, is_formula, unquote_formula


@dataclass(frozen=True)
class LeadField:
    name: str
    label: str
    # Other ways a header may name the column, compared without case, spaces or punctuation.
    aliases: tuple[str, ...] = ()


FIELDS = (
    LeadField("external_id", "External id", ("id", "lead id", "crm id", "record id")),
    LeadField("source", "Source", ("lead source", "channel")),
    LeadField("campaign", "Campaign", ("campaign name", "utm campaign")),
    LeadField("company_name", "Company", ("company", "account", "account name", "organisation",
                                          "organization")),
    LeadField("company_domain", "Company website", ("domain", "website", "web site", "url")),
    LeadField("industry", "Industry", ("sector", "vertical")),
    LeadField("employees", "Employees", ("employee count", "company size", "headcount", "size")),
    LeadField("contact_name", "Contact name", ("name", "full name", "contact")),
    LeadField("contact_email", "Contact e-mail", ("email", "e-mail", "email address", "mail")),
    LeadField("contact_phone", "Contact phone", ("phone", "telephone", "phone number", "mobile")),
    LeadField("job_title", "Job title", ("title", "position", "role")),
    LeadField("country", "Country", ("country code",)),
    LeadField("subdivision", "Subdivision", ("state", "region", "province", "county")),
    LeadField("postal_code", "Postal code", ("postcode", "zip", "zip code", "postal")),
    LeadField("city", "City", ("town",)),
    LeadField("product", "Product", ("product code", "product of interest", "interest")),
    LeadField("deal_size", "Expected deal size", ("deal size", "amount", "budget amount",
                                                  "expected amount", "deal value")),
    LeadField("currency", "Currency", ("currency code",)),
    LeadField("bant_budget", "BANT: budget", ("budget",)),
    LeadField("bant_authority", "BANT: authority", ("authority", "decision maker")),
    LeadField("bant_need", "BANT: need", ("need",)),
    LeadField("bant_timeline", "BANT: timeline", ("timeline", "timeframe")),
)  # fmt: skip
FIELD_NAMES = tuple(f.name for f in FIELDS)
LABELS = {f.name: f.label for f in FIELDS}
REQUIRED = ("company_name",)
MAX_LINES = 200_000
MAX_COLUMNS = 200
_YES = {"yes", "y", "true", "1", "x"}
_NO = {"no", "n", "false", "0"}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


_BY_KEY = {
    _key(alias): f.name for f in FIELDS for alias in (f.name, f.label, *f.aliases)
}  # fmt: skip


def read_header(text: str) -> list[str]:
    """The file's column names; FileProblem if there are none."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip() for cell in next(reader, [])]
    except csv.Error as exc:
        raise FileProblem(f"The header line cannot be read: {exc}.") from None
    if not any(header):
        raise FileProblem("The first line must name the columns; it is empty.")
    if len(header) > MAX_COLUMNS:
        raise FileProblem(f"The file has more than {MAX_COLUMNS} columns.")
    return header


def guess_mapping(header: Sequence[str]) -> list[str | None]:
    """The lead field each column most likely holds; a field is given to one column only."""
    taken: set[str] = set()
    mapping: list[str | None] = []
    for column in header:
        name = _BY_KEY.get(_key(column))
        mapping.append(name if name and name not in taken else None)
        if name:
            taken.add(name)
    return mapping


def mapping_errors(mapping: Sequence[str | None]) -> dict[int, str]:
    """Problems of a mapping by column position; -1 for what no single column is to blame for."""
    errors: dict[int, str] = {}
    first: dict[str, int] = {}
    for position, name in enumerate(mapping):
        if name is None:
            continue
        if name not in LABELS:
            errors[position] = "Choose a lead field from the list."
        elif name in first:
            errors[position] = f"{LABELS[name]} is already taken from column {first[name] + 1}."
        else:
            first[name] = position
    missing = [LABELS[name] for name in REQUIRED if name not in first]
    if missing:
        errors[-1] = "Choose the column that holds: " + ", ".join(missing) + "."
    return errors


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where it starts, cells) of every non-blank line after the header.

    A quoted cell may hold line breaks, so a record can span lines; it is numbered by its
    first line, which is where a spreadsheet user looks for it.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        next(reader, None)
        start = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FileProblem(f"Line {reader.line_num} cannot be read: {exc}.") from None


def count_records(text: str) -> int:
    """How many lead lines the file has; FileProblem past the limit or with none."""
    count = 0
    for count, _ in enumerate(records(text), start=1):
        if count > MAX_LINES:
            raise FileProblem(f"The file has more than {MAX_LINES:,} leads; split it up.")
    if not count:
        raise FileProblem("The file has a header but no lead lines.")
    return count


def lead_data(
    cells: Sequence[str], mapping: Sequence[str | None]
) -> tuple[dict[str, object], dict[str, str]]:
    """The lead data a line gives intake, and the problems only a file can have."""
    data: dict[str, object] = {}
    bant: dict[str, object] = {}
    errors: dict[str, str] = {}
    if len(cells) > len(mapping) and any(c.strip() for c in cells[len(mapping) :]):
        errors["line"] = f"The line has {len(cells)} cells but the header names {len(mapping)}."
    for cell, name in zip(cells, mapping, strict=False):
        if name is None:
            continue
        value = cell.strip()
        if is_formula(value):
            errors[name] = (
                f"The cell holds a spreadsheet formula ({value[:40]}); give its value instead."
            )
            continue
        value = unquote_formula(value)
        if name.startswith("bant_"):
            bant[name.removeprefix("bant_")] = _answer(value)
        else:
            data[name] = value or None
    if bant:
        data["bant"] = {key: value for key, value in bant.items() if value is not None}
    return data, errors


def _answer(value: str) -> object:
    """A BANT cell: yes and no as booleans, anything else as the text given."""
    lowered = value.lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    return value or None


def rejected_line(line: int, problems: Mapping[str, str], cells: Sequence[str]) -> list[str]:
    """A line of the rejected-lines report: where, what is wrong, then the cells as uploaded."""
    described = "; ".join(
        f"{LABELS.get(field, field.replace('_', ' '))}: {message}"
        for field, message in problems.items()
    )
    return [str(line), described, *cells]
