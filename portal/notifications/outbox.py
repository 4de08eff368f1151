"""Sending what waits in the outbox: a claim, one attempt, and its outcome recorded.

A message is claimed by pushing its next attempt past a lease, in a conditional UPDATE, so
two workers never send it at once; a worker that dies mid-send leaves it to be retried once
the lease runs out. A failed attempt is retried with a growing delay, then given up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from portal.db import utcnow
from portal.extensions import db
from portal.notifications import rules

ERROR_MAX = 1000


def claim(model: Any, row_id: int, now: datetime, lease: timedelta) -> Any | None:
    """Take a pending, due message for one attempt; None if it is not due or taken already."""
    claimed = claim_many(model, [row_id], now, lease)
    return claimed[0] if claimed else None


def claim_many(model: Any, row_ids: Sequence[int], now: datetime, lease: timedelta) -> list[Any]:
    """Take those of these messages that are pending and due, for one attempt each, in one
    UPDATE and one commit; them, in id order."""
    claimed = db.session.scalars(
        sa.update(model)
        .where(model.id.in_(list(row_ids)), model.state == "pending", model.next_attempt_at <= now)
        .values(next_attempt_at=now + lease, attempts=model.attempts + 1)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    ).all()
    if not claimed:
        db.session.rollback()
        return []
    db.session.commit()
    return list(
        db.session.scalars(sa.select(model).where(model.id.in_(claimed)).order_by(model.id))
    )


def record_failure(
    row: Any, error: str, now: datetime, max_attempts: int, *, field: str = "last_error"
) -> None:
    """Note the failed attempt; try again later, or give up after the last attempt."""
    setattr(row, field, error[:ERROR_MAX])
    if rules.gives_up(row.attempts, max_attempts):
        row.state = "failed"
    else:
        row.next_attempt_at = now + rules.retry_delay(row.attempts)
    db.session.commit()


def due_ids(model: Any, now: datetime, limit: int = 500) -> list[int]:
    """Messages pending whose next attempt is due, oldest first (the state index finds them)."""
    return list(
        db.session.scalars(
            sa.select(model.id)
            .where(model.state == "pending", model.next_attempt_at <= now)
            .order_by(model.next_attempt_at, model.id)
            .limit(limit)
        )
    )


def each_due(model: Any, send: Callable[[int], Any], now: datetime | None = None) -> int:
    """Attempt every due message of the tenant; how many were attempted."""
    ids = due_ids(model, now or utcnow())
    db.session.rollback()
    for row_id in ids:
        send(row_id)
    return len(ids)
