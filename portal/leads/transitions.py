"""Moving a lead from one state to the next in the database, only from the state it is in."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from portal.extensions import db
from portal.leads.lifecycle import Action, LeadState, next_state
from portal.leads.models import Lead


def move(lead: Lead, action: Action, now: datetime, **values: Any) -> LeadState | None:
    """Apply the action to the lead if it is still in the state this session last saw, and
    write the other column values given in the same UPDATE.

    Returns the state it left, or None when another transaction moved it first; the
    caller then changes nothing else. An action the life cycle does not allow from that
    state raises IllegalTransition.
    """
    before = LeadState(lead.state)
    after = next_state(before, action)
    changes = {"state": after.value, "updated_at": now, **values}
    moved = db.session.execute(
        sa.update(Lead)
        .where(Lead.id == lead.id, Lead.state == before.value)
        .values(**changes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        return None
    for name, value in changes.items():
        set_committed_value(lead, name, value)
    return before


def move_many(moves: Iterable[tuple[Lead, Action]], now: datetime) -> dict[int, LeadState]:
    """Apply each action to its lead, as move() does, with one UPDATE per (state, action):
    the states the leads that moved left, by lead id; a lead another transaction moved first
    is not among them."""
    groups: dict[tuple[LeadState, Action], list[Lead]] = defaultdict(list)
    for lead, action in moves:
        groups[(LeadState(lead.state), action)].append(lead)
    left: dict[int, LeadState] = {}
    for (before, action), leads in groups.items():
        after = next_state(before, action)
        moved = set(
            db.session.scalars(
                sa.update(Lead)
                .where(Lead.id.in_([lead.id for lead in leads]), Lead.state == before.value)
                .values(state=after.value, updated_at=now)
                .returning(Lead.id)
                .execution_options(synchronize_session=False)
            )
        )
        for lead in leads:
            if lead.id in moved:
                set_committed_value(lead, "state", after.value)
                left[lead.id] = before
    return left
