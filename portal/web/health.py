"""Whether the database and the job queue's Redis answer, for load balancers and monitors."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.extensions import db, queue

# "in-process": no REDIS_URL is set and jobs run inline, which is a healthy embedded default.
HEALTHY = ("ok", "in-process")


def _database() -> str:
    try:
        db.session.execute(sa.text("SELECT 1"))
        return "ok"
    except Exception as exc:  # a health check reports every failure rather than raising
        return f"error: {type(exc).__name__}"


def _redis() -> str:
    try:
        queue.connection.ping()
        return "ok" if queue.is_async else "in-process"
    except Exception as exc:  # a health check reports every failure rather than raising
        return f"error: {type(exc).__name__}"


def report() -> dict[str, Any]:
    """Each dependency's check and the overall status: "ok" only if every check is healthy."""
    checks = {"database": _database(), "redis": _redis()}
    healthy = all(answer in HEALTHY for answer in checks.values())
    return {"status": "ok" if healthy else "degraded", "checks": checks}
