"""A lead's routing as people see it, and the unroutable queue channel managers work.

The lead page shows each routing of the lead from what its offer or event stored. The
queue shows why each unroutable lead has no partner *now* (the engine is asked again, so
a configuration change shows at once), and lets a manager assign a partner by hand,
hand the lead to direct sales, or route it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from portal import audit
from portal.db import utcnow
from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.leads.intake import actor_label, add_event, get_lead
from portal.leads.lifecycle import Action, LeadState
from portal.leads.models import Lead, LeadEvent, Offer
from portal.leads.transitions import move
from portal.partners.models import Partner
from portal.routing import dispatch, explain
from portal.routing.engine import Decision, Outcome, route
from portal.sla.tasks import schedule_expiry

NOTE_MAX = 500
OUTCOME_TITLES = {
    "routed": "Routed by the engine",
    "fallback_partner": "Sent to the default partner",
    "direct_sales": "Handed to direct sales",
    "unroutable": "No eligible partner",
    "manual": "Assigned by hand",
}
# Partners listed in the assignment form beside those the engine considered; a network
# larger than this is searched by the considered ones only.
ALL_PARTNERS_LISTED = 500


# The lead page --------------------------------------------------------------------------


@dataclass(frozen=True)
class TermRow:
    label: str
    words: str
    points: float
    max_points: float


@dataclass(frozen=True)
class CandidateRow:
    position: int
    partner_name: str
    score: float
    terms: list[TermRow]
    chosen: bool


@dataclass(frozen=True)
class ExclusionRow:
    partner_name: str
    reasons: list[str]


@dataclass(frozen=True)
class RoutingRecord:
    """One routing of a lead: where it went, why, and who else was considered."""

    at: datetime
    outcome: str
    summary: str
    partner_name: str | None = None
    offer_state: str | None = None
    due_at: datetime | None = None
    assigned_by: str | None = None
    note: str | None = None
    candidates: list[CandidateRow] = field(default_factory=list)
    eligible: int = 0
    exclusions: list[ExclusionRow] = field(default_factory=list)
    exclusions_total: int = 0
    reason_lines: list[str] = field(default_factory=list)
    engine_reasons: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return OUTCOME_TITLES.get(self.outcome, self.outcome.replace("_", " "))


def _candidates(data: Mapping[str, Any], chosen: int | None) -> list[CandidateRow]:
    return [
        CandidateRow(
            position=c["position"],
            partner_name=c["partner_name"],
            score=c["score"],
            terms=[
                TermRow(
                    explain.TERM_LABELS.get(t["name"], t["name"]),
                    explain.stored_term_words(t),
                    t["points"],
                    t["max_points"],
                )
                for t in c["terms"]
            ],
            chosen=c["partner_id"] == chosen,
        )
        for c in data.get("candidates", [])
    ]


def _record(
    data: Mapping[str, Any], at: datetime, outcome: str, offer: Offer | None = None
) -> RoutingRecord:
    manual = data.get("manual") or {}
    return RoutingRecord(
        at=at,
        # A hand-over to direct sales is by hand too, but no partner was assigned.
        outcome="manual" if manual and offer is not None else outcome,
        summary=data.get("summary", ""),
        partner_name=offer.partner.name if offer else None,
        offer_state=offer.state if offer else None,
        due_at=offer.due_at if offer else None,
        assigned_by=manual.get("by"),
        note=manual.get("note"),
        candidates=_candidates(data, offer.partner_id if offer else None),
        eligible=data.get("eligible", 0),
        exclusions=[
            ExclusionRow(e["partner_name"], explain.stored_reasons(e))
            for e in data.get("exclusions", [])
        ],
        exclusions_total=data.get("exclusions_total", len(data.get("exclusions", []))),
        reason_lines=explain.reason_summary(data.get("reason_counts", {})),
        engine_reasons=list(manual.get("engine_reasons", [])),
    )


def routing_history(lead: Lead) -> list[RoutingRecord]:
    """Every routing of the lead, newest first, each as its decision was stored."""
    records = [
        _record(offer.explanation, offer.offered_at, offer.explanation.get("outcome", ""), offer)
        for offer in lead.offers
        if offer.explanation
    ]
    records += [
        _record(event.data or {}, event.at, event.data.get("outcome", event.action))
        for event in lead.events
        if event.action in (Action.NO_PARTNER.value, Action.TO_DIRECT_SALES.value) and event.data
    ]
    return sorted(records, key=lambda r: r.at, reverse=True)


# The unroutable queue -------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    lead: Lead
    since: datetime
    reason_lines: list[str]
    routable_now: str | None  # the partner the lead would go to if routed again now


def _decide_now(leads: Sequence[Lead]) -> dict[int, Decision]:
    """What routing would decide for each lead if it ran now; nothing is written."""
    if not leads:
        return {}
    now = utcnow()
    index = dispatch.current_index()
    load = dispatch.current_load(index.config, now)
    had = dispatch.partners_had(lead.id for lead in leads)
    return {
        lead.id: route(index, dispatch.lead_facts(lead, had.get(lead.id, ())), load, now)
        for lead in leads
    }


def _since(leads: Sequence[Lead]) -> dict[int, datetime]:
    ids = [lead.id for lead in leads]
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(LeadEvent.lead_id, sa.func.max(LeadEvent.at))
        .where(LeadEvent.lead_id.in_(ids), LeadEvent.to_state == LeadState.UNROUTABLE.value)
        .group_by(LeadEvent.lead_id)
    )
    return dict(rows.all())


def _queue_row(lead: Lead, decision: Decision, since: datetime | None) -> QueueRow:
    routable = None
    if decision.partner_id is not None:
        routable = decision.partner_name
    elif decision.outcome == Outcome.DIRECT_SALES:
        routable = "direct sales"
    lines = explain.reason_summary(decision.reason_counts()[1])
    if not lines:
        lines = ["No partner sells the lead's product or covers its location"]
    return QueueRow(lead, since or lead.updated_at, lines, routable)


def unroutable_page(page: int, per_page: int = 25) -> Any:
    """Unroutable leads, longest waiting first, each with the reasons it has no partner now."""
    query = (
        sa.select(Lead)
        .where(Lead.state == LeadState.UNROUTABLE.value)
        .order_by(Lead.updated_at, Lead.id)
        .options(sa.orm.selectinload(Lead.product))
    )
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    leads = list(pagination.items)
    decisions, since = _decide_now(leads), _since(leads)
    rows = [_queue_row(lead, decisions[lead.id], since.get(lead.id)) for lead in leads]
    return pagination, rows


@dataclass(frozen=True)
class PartnerChoice:
    id: int
    label: str


@dataclass(frozen=True)
class AssignView:
    lead: Lead
    row: QueueRow
    closest: list[PartnerChoice]
    others: list[PartnerChoice]
    history: list[RoutingRecord]


def assign_view(lead_id: int) -> AssignView:
    """The lead, why no partner is eligible, and the partners a manager can choose from."""
    lead = get_lead(lead_id)
    decision = _decide_now([lead])[lead.id]
    row = _queue_row(lead, decision, _since([lead]).get(lead.id))
    had = dispatch.partners_had([lead.id]).get(lead.id, set())
    closest = [
        PartnerChoice(e.partner_id, f"{e.partner_name}: {'; '.join(_short(e.reasons))}")
        for e in decision.exclusions
        if e.partner_id not in had and "inactive" not in e.reasons
    ]
    seen = {choice.id for choice in closest} | had
    active = db.session.execute(
        sa.select(Partner.id, Partner.name)
        .where(Partner.status == "active")
        .order_by(Partner.name)
        .limit(ALL_PARTNERS_LISTED)
    )
    others = [PartnerChoice(pid, name) for pid, name in active if pid not in seen]
    return AssignView(lead, row, closest, others, routing_history(lead))


def partners_for(lead: Lead) -> list[Partner]:
    """Active partners that have not had the lead, by name, for a manager to choose from."""
    had = dispatch.partners_had([lead.id]).get(lead.id, set())
    query = (
        sa.select(Partner)
        .where(Partner.status == "active")
        .order_by(Partner.name)
        .limit(ALL_PARTNERS_LISTED)
    )
    return [p for p in db.session.scalars(query) if p.id not in had]


def _short(reasons: Sequence[str]) -> list[str]:
    return [explain.singular_headline(r) for r in reasons]


def _check_note(note: str | None) -> str | None:
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationFailed({"note": f"Keep the note to {NOTE_MAX} characters."})
    return note


def _still_in(lead: Lead, expected: LeadState) -> None:
    """Conflict unless the lead, read again, is still in the state the manager saw."""
    db.session.refresh(lead)
    if lead.state != expected.value:
        raise Conflict(
            f"Lead {lead.id} is {lead.state.replace('_', ' ')} now, no longer "
            f"{expected.value.replace('_', ' ')}; nothing was changed."
        )


def lock_and_check(lead_id: int, partner_id: Any, expected: LeadState) -> tuple[Lead, Partner]:
    """Take the tenant's routing lock, then check the lead is still in the expected state and
    the partner can be offered it: one of the tenant's, active, and new to the lead."""
    dispatch.lock_tenant_routing()
    lead = get_lead(lead_id)
    _still_in(lead, expected)
    partner = db.session.get(Partner, int(partner_id)) if str(partner_id or "").isdigit() else None
    if partner is None:
        raise ValidationFailed({"partner_id": "Choose one of this programme's partners."})
    if partner.status != "active":
        raise ValidationFailed(
            {"partner_id": f"{partner.name} is {partner.status}; choose an active partner."}
        )
    if partner.id in dispatch.partners_had([lead.id]).get(lead.id, set()):
        raise ValidationFailed(
            {"partner_id": f"{partner.name} already had this lead; choose another partner."}
        )
    return lead, partner


def assign_now(lead_id: int, partner_id: Any, note: str | None, actor: Any) -> Offer:
    """Offer the lead to the partner, marked as manual; after lock_and_check, and commits."""
    lead = get_lead(lead_id)
    partner = db.session.get(Partner, int(partner_id))
    now = utcnow()
    decision = _decide_now([lead])[lead.id]
    data = dispatch.explanation(decision, dispatch.current_index())
    engine_reasons = [
        reason
        for e in decision.exclusions
        if e.partner_id == partner.id
        for reason in explain.stored_reasons(e.to_dict())
    ]
    label = actor_label(actor)
    data["manual"] = {"by": label, "note": note, "engine_reasons": engine_reasons}
    data["summary"] = f"Assigned by hand to {partner.name} by {label}."
    offer = dispatch.make_offer(
        lead,
        partner,
        Action.ASSIGN,
        now,
        explanation_data=data,
        territory_id=None,
        label=label,
        reason=data["summary"] + (f" {note}" if note else ""),
        assigned_by=actor,
    )
    if offer is None:
        db.session.rollback()
        raise Conflict(f"Lead {lead_id} moved on meanwhile; nothing was changed.")
    audit.record(
        db.session,
        actor=actor,
        action="lead.assigned",
        obj=lead,
        changes={"partner": [None, partner.name], "note": note, "engine_reasons": engine_reasons},
    )
    db.session.commit()
    schedule_expiry([(offer.id, offer.due_at)])
    return offer


def assign(lead_id: int, partner_id: Any, note: str | None, *, actor: Any) -> Offer:
    """Offer an unroutable lead to a partner the manager chose; audited, marked as manual."""
    note = _check_note(note)
    lock_and_check(lead_id, partner_id, LeadState.UNROUTABLE)
    return assign_now(lead_id, partner_id, note, actor)


def to_direct_sales(lead_id: int, note: str | None, *, actor: Any) -> Lead:
    """Hand an unroutable lead to the vendor's own sales team; audited."""
    note = _check_note(note)
    lead = get_lead(lead_id)
    _still_in(lead, LeadState.UNROUTABLE)
    label = actor_label(actor)
    if move(lead, Action.TO_DIRECT_SALES, utcnow()) is None:
        db.session.rollback()
        raise Conflict(f"Lead {lead_id} moved on meanwhile; nothing was changed.")
    reason = f"Handed to direct sales by {label}." + (f" {note}" if note else "")
    add_event(
        lead,
        Action.TO_DIRECT_SALES.value,
        LeadState.UNROUTABLE,
        LeadState.DIRECT_SALES,
        label,
        reason,
        {"outcome": "direct_sales", "summary": reason, "manual": {"by": label, "note": note}},
    )
    audit.record(
        db.session, actor=actor, action="lead.to_direct_sales", obj=lead, changes={"note": note}
    )
    db.session.commit()
    return lead


def retry(lead_ids: Sequence[int] | None, *, actor: Any) -> list[dispatch.Routed]:
    """Route unroutable leads again (the given ones, or all), after the configuration changed."""
    label = f"routing, retried by {actor_label(actor)}"
    if lead_ids is not None:
        return dispatch.route_leads(lead_ids, label=label)
    results: list[dispatch.Routed] = []
    after = 0
    while True:
        ids = list(
            db.session.scalars(
                sa.select(Lead.id)
                .where(Lead.state == LeadState.UNROUTABLE.value, Lead.id > after)
                .order_by(Lead.id)
                .limit(dispatch.BATCH)
            )
        )
        if not ids:
            return results
        results += dispatch.route_leads(ids, label=label)
        after = ids[-1]
