"""Files the browser saves rather than shows."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response


def csv_download(body: str | Iterable[str], filename: str) -> Response:
    """A CSV file (a whole text, or lines as they are made) saved under filename."""
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
