"""Moving a lead from one state to the next in the database, only from the state it is in."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from portal.extensions import db
from portal.leads.lifecycle import Action, LeadState, next_state
from portal.leads.models import Lead


def move(lead: Lead, action: Action, now: datetime) -> LeadState | None:
    """Apply the action to the lead if it is still in the state this session last saw.

    Returns the state it left, or None when another transaction moved it first; the
    caller then changes nothing else. An action the life cycle does not allow from that
    state raises IllegalTransition.
    """
    before = LeadState(lead.state)
    after = next_state(before, action)
    moved = db.session.execute(
        sa.update(Lead)
        .where(Lead.id == lead.id, Lead.state == before.value)
        .values(state=after.value, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        return None
    set_committed_value(lead, "state", after.value)
    return before
