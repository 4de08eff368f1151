"""Writing many lead events in one statement, heard by the notifications all the same.

The notifications' session hook hears of the events the ORM flushes. Events written past
the ORM (a COPY of thousands at once) are listed in the session's info under WRITTEN, and
the hook takes them from there; so a routing batch or an expiry sweep notifies partners and
webhooks as an answer in the inbox does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portal.db import insert_rows
from portal.extensions import db
from portal.leads.models import LeadEvent
from portal.tenancy.scoping import TenantScopeError, current_tenant_id

# session.info key: (tenant id, event id, action) of each event written past the ORM.
WRITTEN = "lead_events_written"


def event_row(
    lead_id: int,
    action: str,
    from_state: str | None,
    to_state: str,
    actor_label: str,
    reason: str,
    data: dict[str, Any],
    *,
    at: Any,
    offer_id: int | None = None,
) -> dict[str, Any]:
    """One event as the values of its row, for insert_events."""
    return {
        "lead_id": lead_id, "offer_id": offer_id, "at": at, "action": action,
        "from_state": from_state, "to_state": to_state, "actor_label": actor_label,
        "reason": reason, "data": data,
    }  # fmt: skip


def insert_events(rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert the current tenant's events in one statement, in the session's transaction;
    their ids. The notifications hear of them once the transaction commits."""
    if not rows:
        return []
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantScopeError("events are written for one tenant; none is in scope")
    ids = insert_rows(
        db.session.connection(),
        LeadEvent.__table__,
        [{**row, "tenant_id": tenant_id} for row in rows],
    )
    written = db.session.info.setdefault(WRITTEN, [])
    written.extend(
        (tenant_id, event_id, row["action"]) for event_id, row in zip(ids, rows, strict=True)
    )
    return ids
