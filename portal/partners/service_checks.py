"""Small helpers the partner room's services share for checking input and counting rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.extensions import db
from portal.partners import validation


def check(errors: dict[str, str], field: str, rule: Any, *args: Any) -> Any:
    """Apply a validation rule; on failure note its message under the field and return None."""
    try:
        return rule(*args)
    except validation.InvalidValue as exc:
        errors[field] = str(exc)
        return None


def required(errors: dict[str, str], field: str, missing: str, rule: Any, raw: Any) -> Any:
    """Like check, with a message of its own for an empty value."""
    if not str(raw or "").strip():
        errors[field] = missing
        return None
    return check(errors, field, rule, raw)


def partners_cover(count: int) -> str:
    return f"{count} partner covers" if count == 1 else f"{count} partners cover"


def count_rows(column: Any, *where: Any) -> int:
    return db.session.scalar(sa.select(sa.func.count(column)).where(*where)) or 0


def coverage_counts(column: Any, ids: list[int]) -> dict[int, int]:
    """How many coverage rows point at each of the ids."""
    if not ids:
        return {}
    query = sa.select(column, sa.func.count()).where(column.in_(ids)).group_by(column)
    return dict(db.session.execute(query).all())
