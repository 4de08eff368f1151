"""What a partner's inbox and its "my leads" list show, and the stale leads managers watch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import selectinload

from portal.db import utcnow
from portal.extensions import db
from portal.leads.lifecycle import LeadState
from portal.leads.models import Lead, LeadEvent, Offer
from portal.partners.models import Product
from portal.routing.models import RoutingSettings

# Under this much time left an offer is urgent, under the second it is about to expire.
SOON = timedelta(hours=8)
VERY_SOON = timedelta(hours=1)
STILL_OPEN = (LeadState.ACCEPTED.value, LeadState.SQL.value)
DEFAULT_STALE_DAYS = 14
# When the partner last moved or updated a lead it holds (its acceptance at the latest).
LAST_UPDATE = sa.func.coalesce(Lead.partner_updated_at, Lead.updated_at)


@dataclass(frozen=True)
class InboxRow:
    """What the inbox shows of an open offer and its lead."""

    offer_id: int
    due_at: datetime
    opened_at: datetime | None
    company_name: str
    industry: str | None
    employees: int | None
    city: str | None
    country: str | None
    product_name: str | None
    score: int
    left: timedelta

    @property
    def urgency(self) -> str:
        if self.left <= VERY_SOON:
            return "danger"
        return "warning" if self.left <= SOON else "secondary"

    @property
    def location(self) -> str:
        return ", ".join(part for part in (self.city, self.country) if part)


# The columns the inbox shows, read as plain rows: a page lists every open offer, and whole
# offers and leads (with an offer's routing explanation, kilobytes of JSON) would cost the
# page several times what it shows.
INBOX_COLUMNS = (
    Offer.id, Offer.due_at, Offer.opened_at, Lead.company_name, Lead.industry, Lead.employees,
    Lead.city, Lead.country, Product.name, Lead.score,
)  # fmt: skip


class ReadPage(Pagination):
    """A page whose rows and total one query has read already (a window count beside the
    rows), with Flask-SQLAlchemy's page arithmetic for the pager."""

    def _query_items(self) -> list[Any]:
        return self._query_args["items"]

    def _query_count(self) -> int:
        return self._query_args["total"]


def inbox(
    partner_id: int, page: int = 1, per_page: int = 25, now: datetime | None = None
) -> ReadPage:
    """A page of the partner's open offers, the nearest deadline first; one query.

    A page past the last shows the last: an answer from the last page can empty it.
    """
    now = now or utcnow()
    waiting = (Offer.partner_id == partner_id, Offer.state == "open")
    query = (
        sa.select(*INBOX_COLUMNS, sa.func.count().over())
        .join(Lead, Lead.id == Offer.lead_id)
        .outerjoin(Product, Product.id == Lead.product_id)
        .where(*waiting)
        .order_by(Offer.due_at, Offer.id)
        .limit(per_page)
    )
    page = max(page, 1)
    found = db.session.execute(query.offset((page - 1) * per_page)).all()
    if not found and page > 1:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Offer).where(*waiting))
        page = max(1, math.ceil(total / per_page))
        found = db.session.execute(query.offset((page - 1) * per_page)).all()
    rows = [InboxRow(*row[:-1], left=row[1] - now) for row in found]
    total = found[0][-1] if found else 0
    return ReadPage(page=page, per_page=per_page, error_out=False, items=rows, total=total)


def stale_after() -> timedelta:
    days = db.session.scalar(sa.select(RoutingSettings.stale_after_days))
    return timedelta(days=days or DEFAULT_STALE_DAYS)


def is_stale(lead: Lead, now: datetime, after: timedelta) -> bool:
    """An accepted lead (SAL or SQL) its partner has not updated for too long."""
    if lead.state not in STILL_OPEN:
        return False
    last = lead.partner_updated_at or lead.updated_at
    return last is not None and now - last > after


@dataclass(frozen=True)
class HeldRow:
    lead: Lead
    offer: Offer
    stale: bool


def my_leads(partner_id: int, page: int, per_page: int, state: str | None = None) -> Any:
    """Leads the partner accepted, open ones first (oldest update first), then closed ones."""
    query = (
        sa.select(Offer)
        .join(Lead, Lead.id == Offer.lead_id)
        .options(selectinload(Offer.lead).selectinload(Lead.product))
        .where(Offer.partner_id == partner_id, Offer.state == "accepted")
        .order_by(
            sa.case((Lead.state.in_(STILL_OPEN), 0), else_=1),
            LAST_UPDATE,
            Lead.id,
        )
    )
    if state:
        query = query.where(Lead.state == LeadState(state).value)
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    now, after = utcnow(), stale_after()
    rows = [HeldRow(o.lead, o, is_stale(o.lead, now, after)) for o in pagination.items]
    return pagination, rows


def stale_leads(page: int, per_page: int) -> Any:
    """Every partner's accepted leads with no update for too long, the oldest first."""
    cutoff = utcnow() - stale_after()
    last = LAST_UPDATE
    query = (
        sa.select(Lead)
        .options(selectinload(Lead.offers).selectinload(Offer.partner))
        .where(Lead.state.in_(STILL_OPEN), last < cutoff)
        .order_by(last, Lead.id)
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def holder(lead: Lead) -> Offer | None:
    """The accepted offer of a lead: the partner working it."""
    return next((o for o in lead.offers if o.state == "accepted"), None)


def partner_history(lead: Lead, partner_id: int) -> list[Any]:
    """The lead's events a partner may see: those of its own offers, in order; one query.

    Other partners' offers, and how routing ranked them, are not its business.
    """
    own = sa.select(Offer.id).where(Offer.lead_id == lead.id, Offer.partner_id == partner_id)
    return list(
        db.session.scalars(
            sa.select(LeadEvent)
            .where(LeadEvent.lead_id == lead.id, LeadEvent.offer_id.in_(own))
            .order_by(LeadEvent.id)
        )
    )


STALE_LABEL = "follow-up"


def flag_new_stale_leads(limit: int = 1000) -> int:
    """Write a "stale" event on each accepted lead that went quiet since it was last
    flagged, so its channel manager hears of it once per silence; commits."""
    from portal.leads.intake import add_event

    now = utcnow()
    after = stale_after()
    last = LAST_UPDATE
    flagged_since = (
        sa.select(LeadEvent.id)
        .where(LeadEvent.lead_id == Lead.id, LeadEvent.action == "stale", LeadEvent.at >= last)
        .exists()
    )
    leads = list(
        db.session.scalars(
            sa.select(Lead)
            .where(Lead.state.in_(STILL_OPEN), last < now - after, ~flagged_since)
            .order_by(Lead.id)
            .limit(limit)
        )
    )
    for lead in leads:
        held = holder(lead)
        state = LeadState(lead.state)
        name = held.partner.name if held else "the partner"
        add_event(
            lead, "stale", state, state, STALE_LABEL,
            f"No update from {name} for more than {after.days} days.",
            {"partner_id": held.partner_id if held else None},
            offer_id=held.id if held else None,
        )  # fmt: skip
    db.session.commit()
    return len(leads)
