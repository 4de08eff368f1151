"""Idempotency-Key: a retried request gets the first answer instead of acting twice.

The first request with a key claims it (a committed row, so a concurrent retry sees the
claim), does its work, then stores its answer. A retry with the same body gets that answer;
the same key with another body is a 409. A claim whose request died is given up after a
while, so a key is never stuck.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, request

from portal.api.models import IdempotencyKey
from portal.db import utcnow
from portal.errors import Conflict
from portal.extensions import db

HEADER = "Idempotency-Key"
ABANDONED_AFTER = timedelta(minutes=2)
MAX_KEY_LENGTH = 255


def _find(key: str) -> IdempotencyKey | None:
    return db.session.scalar(sa.select(IdempotencyKey).where(IdempotencyKey.key == key))


def claim(key: str, body: bytes) -> tuple[int, Any] | None:
    """None if this request may act for the key; else the (status, body) first given."""
    digest = hashlib.sha256(body).hexdigest()
    for _ in range(2):
        found = _find(key)
        if found is not None:
            if found.request_hash != digest:
                raise Conflict(f"This {HEADER} was used before with a different request body.")
            if found.status_code is not None:
                return found.status_code, found.response_body
            if utcnow() - found.created_at < ABANDONED_AFTER:
                raise Conflict(f"A request with this {HEADER} is still being answered; retry soon.")
            _give_up(found)
        db.session.add(IdempotencyKey(key=key, request_hash=digest))
        try:
            db.session.commit()
            return None
        except sa.exc.IntegrityError:
            db.session.rollback()  # a concurrent request claimed it first: read its claim
    raise Conflict(f"A request with this {HEADER} is still being answered; retry soon.")


def _give_up(claim: IdempotencyKey) -> None:
    """Remove the claim of a request that died before answering, unless it was answered since.

    Conditional, because concurrent retries may all find the same dead claim: the first one
    replaces it, and the others delete nothing, fail to insert, and read the new claim.
    """
    db.session.execute(
        sa.delete(IdempotencyKey).where(
            IdempotencyKey.id == claim.id, IdempotencyKey.status_code.is_(None)
        )
    )


def remember(key: str, status: int, body: Any) -> None:
    """Store the answer given for the key."""
    db.session.execute(
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.key == key)
        .values(status_code=status, response_body=body)
    )
    db.session.commit()


def release(key: str) -> None:
    """Give the key up after a failed request, so a corrected retry can use it."""
    db.session.rollback()
    db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.key == key))
    db.session.commit()


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Honour an Idempotency-Key header on a POST endpoint."""

    @functools.wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        key = (request.headers.get(HEADER) or "").strip()
        if not key:
            return view(*args, **kwargs)
        if len(key) > MAX_KEY_LENGTH:
            raise Conflict(f"An {HEADER} has at most {MAX_KEY_LENGTH} characters.")
        stored = claim(key, request.get_data())
        if stored is not None:
            response = current_app.response_class(
                response=current_app.json.dumps(stored[1]),
                status=stored[0],
                mimetype="application/json",
            )
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except Exception:
            release(key)
            raise
        remember(key, response.status_code, response.get_json())
        return response

    run.takes_idempotency_key = True  # type: ignore[attr-defined]
    return run


KEY_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": "Any text unique to this request, such as a UUID. A retry with the same key "
    "and body gets the first answer (with Idempotent-Replayed: true) instead of acting twice.",
}


def document_key(spec: dict[str, Any]) -> dict[str, Any]:
    """Declare the Idempotency-Key header on the operations that honour it."""
    operations = {
        view._spec.get("operation_id")
        for view in current_app.view_functions.values()
        if getattr(view, "takes_idempotency_key", False) and hasattr(view, "_spec")
    }
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and operation.get("operationId") in operations:
                operation.setdefault("parameters", []).append(dict(KEY_PARAMETER))
    return spec
