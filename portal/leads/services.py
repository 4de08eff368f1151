"""Use cases of leads that pages read."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.leads.lifecycle import LeadState
from portal.leads.models import Lead, Offer


def leads_page(page: int, per_page: int, state: str | None = None) -> Any:
    """The tenant's leads, newest first, optionally in one state."""
    query = (
        sa.select(Lead)
        .options(selectinload(Lead.product))
        .order_by(Lead.created_at.desc(), Lead.id.desc())
    )
    if state:
        query = query.where(Lead.state == LeadState(state).value)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def lead_counts_by_state() -> dict[str, int]:
    """How many of the tenant's leads are in each state, every state listed."""
    rows = db.session.execute(sa.select(Lead.state, sa.func.count()).group_by(Lead.state))
    counts = {state.value: 0 for state in LeadState}
    counts.update({state: count for state, count in rows})
    return counts


def leads_after(
    cursor: int | None, limit: int, state: str | None = None
) -> tuple[list[Lead], int | None]:
    """A page of leads in id order after the cursor, and the cursor of the next page."""
    query = sa.select(Lead).options(selectinload(Lead.product)).order_by(Lead.id).limit(limit + 1)
    if cursor:
        query = query.where(Lead.id > cursor)
    if state:
        query = query.where(Lead.state == LeadState(state).value)
    rows = list(db.session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def open_offer_count(partner_id: int) -> int:
    """How many offers wait for the partner's answer."""
    query = sa.select(sa.func.count(Offer.id)).where(
        Offer.partner_id == partner_id, Offer.state == "open"
    )
    return db.session.scalar(query) or 0
