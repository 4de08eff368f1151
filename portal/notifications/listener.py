"""The session hook that hands each committed transaction's lead events to the fan-out.

It looks at the objects the ORM flushed and at the events written past the ORM that
portal.leads.events lists (routing and expiry write thousands at once); intake and scoring
events are skipped by a set lookup, and bulk intake's own COPY of them is not listed at all.
Ids are collected per tenant and handed over once the commit has happened.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.leads.events import WRITTEN
from portal.leads.models import LeadEvent
from portal.notifications.rules import ACTIONS

KEY = "notify_event_ids"


@event.listens_for(Session, "after_flush")
def _collect(session: Session, flush_context: Any) -> None:
    for obj in session.new:
        if type(obj) is LeadEvent and obj.action in ACTIONS:
            session.info.setdefault(KEY, {}).setdefault(obj.tenant_id, []).append(obj.id)


@event.listens_for(Session, "after_commit")
def _hand_over(session: Session) -> None:
    pending = session.info.pop(KEY, None)
    for tenant_id, event_id, action in session.info.pop(WRITTEN, ()):
        if action in ACTIONS:
            pending = pending or {}
            pending.setdefault(tenant_id, []).append(event_id)
    if pending:
        from portal.notifications.tasks import hand_over  # tasks import the whole room

        hand_over(pending)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(KEY, None)
    session.info.pop(WRITTEN, None)
