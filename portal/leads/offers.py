"""An offer's answer and what follows: accept, reject, expiry, a manager's recall, reassign
and deadline extension; then the accepted lead's way to SQL, won or lost.

Every change is conditional on the state the row is in now (an UPDATE ... WHERE state =
...), so two answers to one offer, or an answer racing the expiry, end with exactly one
outcome; the loser changes nothing and hears why. A lead that goes back to mql (rejected,
expired, recalled) is handed to routing after the commit, which offers it to the next
partner that has not had it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import defer, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from portal import audit, money
from portal.db import utcnow
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.leads.intake import actor_label, add_event, hand_to_routing
from portal.leads.lifecycle import Action, IllegalTransition, LeadState
from portal.leads.models import Lead, Offer, RejectionReason
from portal.leads.transitions import move
from portal.page_versions import for_partners
from portal.partners.validation import InvalidValue
from portal.sla.policy import answer_seconds, default_policy, first_reminder, partner_sla
from portal.sla.tasks import schedule_expiry
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import current_tenant_id

SLA_LABEL = "SLA clock"
PAST = {Action.QUALIFY: "moved to SQL", Action.WIN: "won", Action.LOSE: "lost"}
COMMENT_MAX = 1000
REASON_MAX = 500
MAX_EXTENSION = timedelta(days=30)
OPEN = "open"


# Reading ----------------------------------------------------------------------------------


def partner_offer(offer_id: int, partner_id: int | None) -> Offer:
    """One of the partner's offers; NotFound for any other, whose existence is not its business."""
    # The routing explanation (kilobytes of JSON) is not the partner's to see. The offer and
    # its lead are read as they are now, even where this session holds them already: an
    # answer moves the lead from the state read here.
    offer = db.session.scalar(
        sa.select(Offer)
        .where(Offer.id == offer_id, Offer.partner_id == partner_id)
        .options(
            defer(Offer.explanation),
            joinedload(Offer.lead, innerjoin=True).joinedload(Lead.product),
        )
        .execution_options(populate_existing=True)
    )
    if offer is None or partner_id is None:
        raise NotFound("no such offer")
    return offer


def get_offer(offer_id: int) -> Offer:
    offer = db.session.get(Offer, offer_id)
    if offer is None:
        raise NotFound("no such offer")
    return offer


def mark_opened(offer: Offer, actor: Any) -> None:
    """Record the first time a partner user opened the offer while it is open; later views,
    and a view of an offer that closed meanwhile (its lead moved on), change nothing."""
    if offer.opened_at is not None:
        return
    now = utcnow()
    opened = db.session.execute(
        sa.update(Offer)
        .where(Offer.id == offer.id, Offer.opened_at.is_(None), Offer.state == OPEN)
        .values(opened_at=now)
        .execution_options(synchronize_session=False, **for_partners([offer.partner_id]))
    ).rowcount
    if opened:
        state = LeadState(offer.lead.state)
        add_event(
            offer.lead, "open_offer", state, state, actor_label(actor), "Offer opened.", {},
            offer_id=offer.id,
        )  # fmt: skip
    db.session.commit()


@dataclass(frozen=True)
class Reason:
    """A reason a partner may give now: a value, so that a request may keep it for the next."""

    code: str
    label: str
    comment_required: bool


def rejection_reasons() -> tuple[Reason, ...]:
    """The reasons a partner may give now, in the catalogue's order."""
    rows = db.session.execute(
        sa.select(RejectionReason.code, RejectionReason.label, RejectionReason.comment_required)
        .where(RejectionReason.active)
        .order_by(RejectionReason.position, RejectionReason.id)
    )
    return tuple(Reason(*row) for row in rows)


# Answers ------------------------------------------------------------------------------------


def _why_not_open(offer_id: int, now: datetime) -> str:
    """Why an answer came too late, from the offer as it is now."""
    db.session.rollback()
    offer = get_offer(offer_id)
    if offer.state == OPEN and offer.due_at <= now:
        return "The deadline for this offer has passed; the lead moves on to another partner."
    words = {
        "accepted": "was accepted already",
        "rejected": "was rejected already",
        "expired": "expired: the deadline passed",
        "recalled": "was recalled by the channel manager",
    }
    return f"This offer {words.get(offer.state, offer.state)}; nothing was changed."


BEFORE_DEADLINE, AFTER_DEADLINE = "before", "after"


def _close(offer: Offer, state: str, now: datetime, *, when: str | None, **values: Any) -> bool:
    """Close an open offer; False if it is no longer open, or not on the deadline's side
    the action needs (an answer before it, an expiry after it)."""
    query = sa.update(Offer).where(Offer.id == offer.id, Offer.state == OPEN)
    if when == BEFORE_DEADLINE:
        query = query.where(Offer.due_at > now)
    elif when == AFTER_DEADLINE:
        query = query.where(Offer.due_at <= now)
    changes = {"state": state, "decided_at": now, **values}
    closed = db.session.execute(
        query.values(**changes).execution_options(
            synchronize_session=False, **for_partners([offer.partner_id])
        )
    ).rowcount
    if closed:
        # What the UPDATE wrote, without reading the row back.
        for name, value in changes.items():
            set_committed_value(offer, name, value)
    return bool(closed)


def _answer_seconds(offer: Offer, now: datetime) -> int:
    return answer_seconds(partner_sla(offer.partner, default_policy()), offer.offered_at, now)


def _lead_moves(
    offer: Offer, action: Action, now: datetime, *, read: bool = True, **values: Any
) -> LeadState:
    """Move the offer's lead, with the other column values given; read=False when the lead
    was read in this transaction (partner_offer), not taken from an earlier one."""
    lead = offer.lead
    if read:
        db.session.refresh(lead)
    before = move(lead, action, now, **values)
    if before is None:
        db.session.rollback()
        raise Conflict(f"Lead {lead.id} moved on meanwhile; nothing was changed.")
    return before


def accept(offer_id: int, *, actor: Any) -> Offer:
    """The partner takes the lead: it becomes a sales accepted lead (SAL)."""
    now = utcnow()
    offer = partner_offer(offer_id, getattr(actor, "partner_id", None))
    if not _close(
        offer, "accepted", now, when=BEFORE_DEADLINE,
        decided_by_id=actor.id, response_seconds=_answer_seconds(offer, now),
    ):  # fmt: skip
        raise Conflict(_why_not_open(offer_id, now))
    before = _lead_moves(offer, Action.ACCEPT, now, read=False, partner_updated_at=now)
    add_event(
        offer.lead, Action.ACCEPT.value, before, LeadState.ACCEPTED, actor_label(actor),
        f"Accepted by {offer.partner.name}.", {"partner_id": offer.partner_id},
        offer_id=offer.id,
    )  # fmt: skip
    db.session.commit()
    _quality_may_change(offer.partner_id)
    return offer


def _reason(
    code: str | None, comment: str | None, reasons: Sequence[Reason] | None = None
) -> tuple[Reason, str | None]:
    """The active reason of the code, among `reasons` when the caller has read them
    (rejection_reasons()), else among those read now."""
    comment = (comment or "").strip() or None
    reasons = rejection_reasons() if reasons is None else reasons
    reason = next((r for r in reasons if r.code == code), None) if code else None
    errors = {}
    if reason is None:
        errors["reason_code"] = "Choose a reason from the list."
    elif reason.comment_required and not comment:
        errors["comment"] = f"Say a few words: '{reason.label}' needs a comment."
    if comment and len(comment) > COMMENT_MAX:
        errors["comment"] = f"Keep the comment to {COMMENT_MAX} characters."
    if errors:
        raise ValidationFailed(errors)
    return reason, comment  # type: ignore[return-value]


def reject(
    offer_id: int,
    reason_code: str | None,
    comment: str | None,
    *,
    actor: Any,
    reasons: Sequence[Reason] | None = None,
) -> Offer:
    """The partner turns the lead down with a reason; routing offers it to the next partner.

    `reasons`: the active reasons, when the caller has read them (rejection_reasons()).
    """
    offer = partner_offer(offer_id, getattr(actor, "partner_id", None))
    reason, comment = _reason(reason_code, comment, reasons)
    now = utcnow()
    if not _close(
        offer, "rejected", now, when=BEFORE_DEADLINE, decided_by_id=actor.id,
        response_seconds=_answer_seconds(offer, now), reason_code=reason.code, comment=comment,
    ):  # fmt: skip
        raise Conflict(_why_not_open(offer_id, now))
    before = _lead_moves(offer, Action.REJECT, now, read=False)
    words = f"Rejected by {offer.partner.name}: {reason.label}." + (
        f" {comment}" if comment else ""
    )
    add_event(
        offer.lead, Action.REJECT.value, before, LeadState.MQL, actor_label(actor), words,
        {"partner_id": offer.partner_id, "reason_code": reason.code, "comment": comment},
        offer_id=offer.id,
    )  # fmt: skip
    db.session.commit()
    _quality_may_change(offer.partner_id)
    hand_to_routing()
    return offer


@dataclass(frozen=True)
class Answered:
    offer_id: int
    ok: bool
    message: str


def answer_many(
    offer_ids: list[int],
    accept_them: bool,
    reason_code: str | None = None,
    comment: str | None = None,
    *,
    actor: Any,
    reasons: Sequence[Reason] | None = None,
) -> list[Answered]:
    """Accept or reject several offers, each on its own: one that cannot be answered (gone,
    late, answered by a colleague) is reported and does not stop the others. The reasons
    are read once for the batch (or given, as reject takes them)."""
    if not offer_ids:
        raise ValidationFailed({"offer_ids": "Tick at least one lead."})
    if not accept_them:
        reasons = rejection_reasons() if reasons is None else reasons
        _reason(reason_code, comment, reasons)  # a bad reason stops the batch before any change
    results = []
    for offer_id in dict.fromkeys(offer_ids):
        try:
            if accept_them:
                accept(offer_id, actor=actor)
            else:
                reject(offer_id, reason_code, comment, actor=actor, reasons=reasons)
        except NotFound:
            results.append(Answered(offer_id, False, "This offer is not yours to answer."))
        except Conflict as exc:
            results.append(Answered(offer_id, False, str(exc)))
        else:
            results.append(Answered(offer_id, True, "accepted" if accept_them else "rejected"))
    return results


def expire(offer_id: int, now: datetime | None = None, *, route: bool = True) -> bool:
    """Close an open offer whose deadline has passed; the lead goes back to routing.

    Idempotent: an offer answered, recalled or expired already is left alone (False).
    """
    now = now or utcnow()
    offer = db.session.get(Offer, offer_id)
    if offer is None or offer.state != OPEN or offer.due_at > now:
        db.session.rollback()
        return False
    # Conditional on the deadline too: an extension committed meanwhile wins.
    if not _close(offer, "expired", now, when=AFTER_DEADLINE):
        db.session.rollback()
        return False
    try:
        before = _lead_moves(offer, Action.EXPIRE, now)
    except Conflict:
        return False
    add_event(
        offer.lead, Action.EXPIRE.value, before, LeadState.MQL, SLA_LABEL,
        f"{offer.partner.name} did not answer by the deadline.",
        {"partner_id": offer.partner_id, "due_at": offer.due_at.isoformat()},
        offer_id=offer.id,
    )  # fmt: skip
    partner_id = offer.partner_id
    db.session.commit()
    _quality_may_change(partner_id)
    if route:
        hand_to_routing()
    return True


# A channel manager's actions ------------------------------------------------------------


def _quality_may_change(partner_id: int) -> None:
    """After the commit: the partner's scorecard quality, which routing reads, is worked
    out again."""
    from portal.scorecards.tasks import offers_resolved  # scorecards build on leads

    offers_resolved([partner_id])


def _check_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "Say why, for the lead's history and the partner."})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": f"Keep the reason to {REASON_MAX} characters."})
    return reason


def open_offer_of(lead_id: int) -> Offer:
    offer = db.session.scalar(sa.select(Offer).where(Offer.lead_id == lead_id, Offer.state == OPEN))
    if offer is None:
        raise Conflict(f"Lead {lead_id} has no open offer now; nothing was changed.")
    return offer


def _recall(offer: Offer, reason: str, actor: Any) -> None:
    """Close the offer as recalled and send the lead back to mql, in the caller's transaction."""
    now = utcnow()
    if not _close(offer, "recalled", now, when=None, decided_by_id=actor.id, comment=reason):
        raise Conflict(_why_not_open(offer.id, now))
    before = _lead_moves(offer, Action.RECALL, now)
    label = actor_label(actor)
    add_event(
        offer.lead, Action.RECALL.value, before, LeadState.MQL, label,
        f"Recalled from {offer.partner.name} by {label}: {reason}",
        {"partner_id": offer.partner_id}, offer_id=offer.id,
    )  # fmt: skip
    audit.record(
        db.session, actor=actor, action="offer.recalled", obj=offer.lead,
        changes={"offer": offer.id, "partner": offer.partner.name, "reason": reason},
    )  # fmt: skip


def recall(offer_id: int, reason: str | None, *, actor: Any) -> Offer:
    """Pull an open offer back from its partner; routing offers the lead to the next one."""
    reason = _check_reason(reason)
    offer = get_offer(offer_id)
    _recall(offer, reason, actor)
    db.session.commit()
    _quality_may_change(offer.partner_id)
    hand_to_routing()
    return offer


def reassign(lead_id: int, partner_id: Any, reason: str | None, *, actor: Any) -> Offer:
    """Recall the lead's open offer and offer the lead to the partner the manager chose."""
    from portal.routing import lead_routing  # routing builds on leads

    reason = _check_reason(reason)
    offer = open_offer_of(lead_id)
    if str(partner_id) == str(offer.partner_id):
        raise ValidationFailed({"partner_id": f"{offer.partner.name} holds this lead already."})
    # One transaction, under the routing lock, so routing cannot take the lead in between.
    lead_routing.lock_and_check(lead_id, partner_id, LeadState.OFFERED)
    _recall(offer, reason, actor)
    return lead_routing.assign_now(lead_id, partner_id, reason, actor)


def extend(offer_id: int, hours: Any, reason: str | None, *, actor: Any) -> Offer:
    """Move an open offer's deadline later by some hours."""
    reason = _check_reason(reason)
    text = str(hours or "").strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_EXTENSION.days * 24:
        raise ValidationFailed(
            {"hours": f"Give a whole number of hours from 1 to {MAX_EXTENSION.days * 24}."}
        )
    offer = get_offer(offer_id)
    now = utcnow()
    before_due = offer.due_at
    new_due = max(before_due, now) + timedelta(hours=int(text))
    remind_at = first_reminder(offer.partner, offer.offered_at, new_due)
    moved = db.session.execute(
        sa.update(Offer)
        .where(Offer.id == offer.id, Offer.state == OPEN, Offer.due_at == before_due)
        .values(due_at=new_due, reminders_sent=[], remind_at=remind_at)
        .execution_options(synchronize_session=False, **for_partners([offer.partner_id]))
    ).rowcount
    if not moved:
        raise Conflict(_why_not_open(offer_id, now))
    db.session.refresh(offer)
    label = actor_label(actor)
    state = LeadState(offer.lead.state)
    add_event(
        offer.lead, "extend_deadline", state, state, label,
        f"Deadline of {offer.partner.name} moved by {text} hours by {label}: {reason}",
        {"from": before_due.isoformat(), "to": new_due.isoformat()}, offer_id=offer.id,
    )  # fmt: skip
    audit.record(
        db.session, actor=actor, action="offer.extended", obj=offer.lead,
        changes={"offer": offer.id, "due_at": [before_due.isoformat(), new_due.isoformat()],
                 "reason": reason},
    )  # fmt: skip
    db.session.commit()
    schedule_expiry([(offer.id, new_due)])
    return offer


# After acceptance -----------------------------------------------------------------------


def held_lead(lead_id: int, partner_id: int | None) -> tuple[Lead, Offer]:
    """A lead the partner accepted, with the accepted offer; NotFound for anyone else's."""
    offer = db.session.scalar(
        sa.select(Offer)
        .where(Offer.lead_id == lead_id, Offer.partner_id == partner_id, Offer.state == "accepted")
        .options(
            defer(Offer.explanation),
            joinedload(Offer.lead, innerjoin=True).joinedload(Lead.product),
        )
    )
    if offer is None or partner_id is None:
        raise NotFound("no such lead")
    return offer.lead, offer


def _tenant_currency() -> str:
    return db.session.scalar(
        sa.select(Tenant.default_currency).where(Tenant.id == current_tenant_id())
    )


def _amount(raw: Mapping[str, Any], field: str, lead: Lead) -> tuple[int, str]:
    currency = lead.currency or _tenant_currency()
    given = (raw.get("currency") or "").strip().upper()
    if given and given != currency:
        raise ValidationFailed(
            {"currency": f"Amounts of this lead are in {currency}; give the amount in {currency}."}
        )
    try:
        amount = money.parse_amount(raw.get(field))
        minor = money.to_minor(amount, currency)
    except InvalidValue as exc:
        raise ValidationFailed({field: str(exc)}) from None
    if minor <= 0:
        raise ValidationFailed({field: "Give an amount above zero."})
    return minor, currency


def _date(raw: Mapping[str, Any], field: str, *, future_only: bool) -> date:
    value = raw.get(field)
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, date):
        raise ValidationFailed({field: "Give a date, for example 2026-12-31."})
    today = utcnow().date()
    if future_only and value < today:
        raise ValidationFailed({field: "An expected close date cannot be in the past."})
    if not future_only and value > today + timedelta(days=1):
        raise ValidationFailed({field: "A deal cannot close in the future."})
    if abs((value - today).days) > 3660:
        raise ValidationFailed({field: "Give a date within ten years of today."})
    return value


def _progress(
    lead: Lead, offer: Offer, action: Action, actor: Any, words: str, data: dict[str, Any]
) -> Lead:
    now = utcnow()
    try:
        before = move(lead, action, now)
    except IllegalTransition:
        db.session.rollback()
        raise Conflict(
            f"Lead {lead.id} is {lead.state} now and cannot be {PAST[action]}; nothing was changed."
        ) from None
    if before is None:
        db.session.rollback()
        raise Conflict(f"Lead {lead.id} moved on meanwhile; nothing was changed.")
    lead.partner_updated_at = now
    add_event(
        lead, action.value, before, LeadState(lead.state), actor_label(actor), words, data,
        offer_id=offer.id,
    )  # fmt: skip
    partner_id = offer.partner_id
    db.session.commit()
    _quality_may_change(partner_id)
    return lead


def qualify(lead_id: int, raw: Mapping[str, Any], *, actor: Any) -> Lead:
    """The partner opens an opportunity (SQL) with its expected amount and close date."""
    lead, offer = held_lead(lead_id, getattr(actor, "partner_id", None))
    minor, currency = _amount(raw, "amount", lead)
    close_on = _date(raw, "close_on", future_only=True)
    lead.opportunity_minor, lead.opportunity_currency = minor, currency
    lead.expected_close_on = close_on
    words = f"Opportunity of {money.format_money(minor, currency)}, expected to close {close_on}."
    return _progress(lead, offer, Action.QUALIFY, actor, words, {"amount_minor": minor})


def win(lead_id: int, raw: Mapping[str, Any], *, actor: Any) -> Lead:
    """The partner won the deal: the amount and the day it closed."""
    lead, offer = held_lead(lead_id, getattr(actor, "partner_id", None))
    minor, currency = _amount(raw, "amount", lead)
    closed_on = _date(raw, "close_on", future_only=False)
    lead.won_minor, lead.won_currency, lead.closed_on = minor, currency, closed_on
    words = f"Won: {money.format_money(minor, currency)}, closed {closed_on}."
    return _progress(lead, offer, Action.WIN, actor, words, {"amount_minor": minor})


def lose(lead_id: int, raw: Mapping[str, Any], *, actor: Any) -> Lead:
    """The partner lost the deal, and says why."""
    lead, offer = held_lead(lead_id, getattr(actor, "partner_id", None))
    reason = (raw.get("reason") or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "Say why the deal was lost."})
    if len(reason) > 200:
        raise ValidationFailed({"reason": "Keep the reason to 200 characters."})
    lead.lost_reason, lead.closed_on = reason, utcnow().date()
    return _progress(lead, offer, Action.LOSE, actor, f"Lost: {reason}", {"reason": reason})
