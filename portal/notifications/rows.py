"""Inserting rows that may exist already: the unique keys make every fan-out idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from portal.extensions import db


def insert_new(table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[int]:
    """Insert the rows whose unique key is not taken yet; the ids of those inserted."""
    if not rows:
        return []
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(table.c.id)
    )
    return list(db.session.scalars(statement))
