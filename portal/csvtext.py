"""CSV files from and for spreadsheets: decoding an upload, and keeping formulas inert.

Pure: bytes and strings in, strings out. Every CSV import and export of the portal goes
through here, so they all read the same encodings and quote formulas the same way.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

# The encodings an upload may be read as: what spreadsheets save as "CSV".
ENCODINGS = {
    "utf-8": "UTF-8 (recommended)",
    "cp1252": "Latin-1 / Windows-1252 (older Excel on Windows)",
}
# Spreadsheets run a cell starting with one of these as a formula; export quotes them with "'".
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A cell that starts like a formula but is only a signed number or a phone number.
_SIGNED_NUMBER = re.compile(r"^[+-][\d\s().,/-]*$")


class FileProblem(ValueError):
    """The file as a whole cannot be read; nothing in it is imported."""


def decode(raw: bytes, encoding: str = "utf-8") -> str:
    """The file's text in the given encoding; UTF-8 may start with a byte-order mark."""
    if not raw.strip():
        raise FileProblem("The file is empty.")
    if encoding not in ENCODINGS:
        raise FileProblem(f"Unknown encoding {encoding!r}.")
    try:
        return raw.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        if encoding == "utf-8":
            raise FileProblem(
                f"The file is not UTF-8 text (byte {exc.start + 1} cannot be read). "
                "Save it as 'CSV UTF-8' and upload it again."
            ) from None
        raise FileProblem(
            f"The file is not {ENCODINGS[encoding]} text (byte {exc.start + 1} cannot be read)."
        ) from None


def unquote_formula(cell: str) -> str:
    """A cell as written, without the apostrophe an export put before a formula character."""
    if len(cell) > 1 and cell[0] == "'" and cell[1].startswith(_FORMULA_STARTS):
        return cell[1:]
    return cell


def quote_formula(cell: str) -> str:
    """A cell a spreadsheet shows as text instead of running it."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def is_formula(cell: str) -> bool:
    """Whether a spreadsheet would run this cell: =, @, or + and - before anything but a number."""
    if not cell or not cell.startswith(_FORMULA_STARTS):
        return False
    return not _SIGNED_NUMBER.match(cell)


def write_rows(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text of a header and rows, every cell as text a spreadsheet will not run."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([quote_formula(str(cell)) for cell in header])
    for row in rows:
        writer.writerow([quote_formula("" if cell is None else str(cell)) for cell in row])
    return out.getvalue()
