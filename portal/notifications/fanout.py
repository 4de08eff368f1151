"""Turning new lead events into notifications, e-mails and webhook deliveries.

Every transition writes a lead event in its own transaction; those events are the outbox.
`fan_out` reads a batch of them and creates what the rules table asks for, each row keyed
by (event, recipient or endpoint), so running it twice for an event creates nothing more.
`catch_up` follows a per-tenant cursor to fan out the events whose own job was lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload
from werkzeug.routing import BuildError

from portal.db import utcnow
from portal.extensions import db
from portal.leads.models import Lead, LeadEvent, Offer
from portal.notifications import rules
from portal.notifications.models import (
    FanOutCursor,
    Notification,
    OutboundEmail,
    WebhookDelivery,
    WebhookEndpoint,
)
from portal.notifications.rows import insert_new
from portal.notifications.rules import Audience
from portal.tenancy.models import User
from portal.tenancy.roles import Role
from portal.tenancy.scoping import current_tenant_id
from portal.web.timefmt import local_time_of

BATCH = 500


@dataclass(frozen=True)
class Made:
    """The ids of what one fan-out created, for the jobs that send them."""

    emails: list[int]
    deliveries: list[int]
    notifications: int = 0


def path_for(endpoint: str, fallback: str, **values: Any) -> str:
    """The path of an endpoint, built without a request; the fallback if it does not exist."""
    try:
        return current_app.url_map.bind("localhost").build(endpoint, values)
    except BuildError:
        return fallback


def events_by_id(event_ids: Iterable[int]) -> list[LeadEvent]:
    """The tenant's events among these ids that the rules know, with their lead and offer."""
    ids = sorted(set(event_ids))
    if not ids:
        return []
    return list(
        db.session.scalars(
            sa.select(LeadEvent)
            .where(LeadEvent.id.in_(ids), LeadEvent.action.in_(rules.ACTIONS))
            .options(selectinload(LeadEvent.lead))
            .order_by(LeadEvent.id)
        )
    )


def fan_out(event_ids: Iterable[int]) -> Made:
    """Create the notifications, e-mails and deliveries of these events; commits once."""
    events = events_by_id(event_ids)
    if not events:
        db.session.rollback()
        return Made([], [])
    context = _Context.load(events)
    notes, mails, sends = [], [], []
    for event in events:
        rule = rules.rule_for(event.action)
        if rule is None:
            continue
        offer = context.offers.get(event.offer_id)
        for user in context.audience(rule.audience, offer):
            text, link = _message(rule, event, offer, user)
            notes.append(_note(event, user, text, link))
            mails.append(_mail(event, user, rule, offer, text, link))
        if rule.webhook:
            sends += [
                _delivery(event, endpoint, rule.webhook, offer)
                for endpoint in context.endpoints
                if rule.webhook in (endpoint.events or [])
            ]
    made = Made(
        emails=insert_new(OutboundEmail.__table__, mails, ["event_id", "recipient"]),
        deliveries=insert_new(WebhookDelivery.__table__, sends, ["event_id", "endpoint_id"]),
        notifications=len(insert_new(Notification.__table__, notes, ["event_id", "user_id"])),
    )
    db.session.commit()
    return made


@dataclass
class _Context:
    offers: dict[int, Offer]
    endpoints: list[WebhookEndpoint]
    partner_users: dict[int, list[User]]
    managers: list[User]

    @classmethod
    def load(cls, events: Sequence[LeadEvent]) -> _Context:
        offer_ids = {e.offer_id for e in events if e.offer_id is not None}
        offers = {
            o.id: o
            for o in db.session.scalars(
                sa.select(Offer).where(Offer.id.in_(offer_ids)).options(selectinload(Offer.partner))
            )
        }
        partner_ids = {o.partner_id for o in offers.values()}
        users = db.session.scalars(
            sa.select(User)
            .where(
                User.active,
                sa.or_(User.partner_id.in_(partner_ids), User.role == Role.CHANNEL_MANAGER.value),
            )
            .order_by(User.id)
        ).all()
        by_partner: dict[int, list[User]] = {}
        for user in users:
            if user.partner_id is not None:
                by_partner.setdefault(user.partner_id, []).append(user)
        endpoints = db.session.scalars(
            sa.select(WebhookEndpoint).where(WebhookEndpoint.active).order_by(WebhookEndpoint.id)
        ).all()
        managers = [u for u in users if u.role == Role.CHANNEL_MANAGER.value]
        return cls(offers, list(endpoints), by_partner, managers)

    def audience(self, audience: Audience | None, offer: Offer | None) -> list[User]:
        if audience is Audience.MANAGERS:
            return self.managers
        if audience is Audience.PARTNER and offer is not None:
            return self.partner_users.get(offer.partner_id, [])
        return []


def _message(
    rule: rules.Rule, event: LeadEvent, offer: Offer | None, user: User
) -> tuple[str, str]:
    """The line a user reads, and where it takes them: partner users only to their offer."""
    lead = event.lead
    partner = offer.partner.name if offer else ""
    text = rules.subject(rule, lead.company_name, partner)
    if user.partner_id is None:
        return _with_reason(text, event), path_for(
            "leads.detail", f"/leads/{lead.id}", lead_id=lead.id
        )
    if event.action == "recall" or offer is None:
        return text + ".", path_for("leads.inbox", "/inbox/")
    if event.action in ("route", "assign", "remind"):
        # Written once for this reader, and read in their zone as every page's times are.
        text += f"; answer by {local_time_of(user, offer.due_at)}."
    return text, path_for("leads.offer", f"/inbox/offers/{offer.id}", offer_id=offer.id)


def _with_reason(text: str, event: LeadEvent) -> str:
    reason = (event.reason or "").strip()
    return f"{text}. {reason}"[:300] if reason else text + "."


def _note(event: LeadEvent, user: User, text: str, link: str) -> dict[str, Any]:
    return {
        "tenant_id": current_tenant_id(),
        "user_id": user.id,
        "event_id": event.id,
        "text": text[:300],
        "link": link,
        "created_at": utcnow(),
    }


def _mail(
    event: LeadEvent, user: User, rule: rules.Rule, offer: Offer | None, text: str, link: str
) -> dict[str, Any]:
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    body = f"Hello {user.name},\n\n{text}\n\nOpen it in the partner portal: {base}{link}\n"
    partner = offer.partner.name if offer else ""
    now = utcnow()
    return {
        "tenant_id": current_tenant_id(),
        "event_id": event.id,
        "recipient": user.email,
        "subject": rules.subject(rule, event.lead.company_name, partner)[:300],
        "body": body,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def payload(event: LeadEvent, event_type: str, offer: Offer | None) -> dict[str, Any]:
    """What a webhook receives of a lead event; a CRM keys its records on lead and external id."""
    lead: Lead = event.lead
    return {
        "event": event_type,
        "event_id": event.id,
        "lead_id": lead.id,
        "external_id": lead.external_id,
        "state": event.to_state,
        "partner": {"id": offer.partner_id, "name": offer.partner.name} if offer else None,
        "offer_id": event.offer_id,
        "occurred_at": event.at.isoformat(),
    }


def _delivery(
    event: LeadEvent, endpoint: WebhookEndpoint, event_type: str, offer: Offer | None
) -> dict[str, Any]:
    now = utcnow()
    return {
        "tenant_id": current_tenant_id(),
        "endpoint_id": endpoint.id,
        "event_id": event.id,
        "event_type": event_type,
        "payload": payload(event, event_type, offer),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


# The catch-up ------------------------------------------------------------------------------


def cursor_position() -> int:
    """The last event of the tenant the catch-up has fanned out."""
    return db.session.scalar(sa.select(FanOutCursor.last_event_id)) or 0


def catch_up(upto: int, skip: Callable[[list[int]], set[int]] | None = None) -> tuple[int, Made]:
    """Fan out the tenant's events after its cursor, up to the event id upto; moves the cursor.
    skip names, of a batch of event ids, those known to be fanned out already.

    Returns the number of events read and what was made of them.
    """
    after = cursor_position()
    emails: list[int] = []
    deliveries: list[int] = []
    read = 0
    while after < upto:
        ids = list(
            db.session.scalars(
                sa.select(LeadEvent.id)
                .where(
                    LeadEvent.id > after,
                    LeadEvent.id <= upto,
                    LeadEvent.action.in_(rules.ACTIONS),
                )
                .order_by(LeadEvent.id)
                .limit(BATCH)
            )
        )
        done = skip(ids) if skip and ids else set()
        todo = [i for i in ids if i not in done]
        made = fan_out(todo) if todo else Made([], [])
        emails += made.emails
        deliveries += made.deliveries
        read += len(ids)
        after = ids[-1] if len(ids) == BATCH else upto
        _move_cursor(after)
    return read, Made(emails, deliveries)


def _move_cursor(to: int) -> None:
    insert_new(
        FanOutCursor.__table__,
        [{"tenant_id": current_tenant_id(), "last_event_id": 0}],
        ["tenant_id"],
    )
    db.session.execute(
        sa.update(FanOutCursor)
        .where(FanOutCursor.last_event_id < to)
        .values(last_event_id=to)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
