"""Taking leads in: validate, find duplicates, score, and move to MQL or nurture.

Every lead is taken in once: a known external id returns the lead already there. A likely
duplicate (same contact e-mail, or same company domain and product recently) is taken in
and flagged for a channel manager, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from portal.db import utcnow
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.leads import intake_rules, lead_score
from portal.leads.lifecycle import LeadState, next_state
from portal.leads.models import (
    EngagementRule,
    Lead,
    LeadActivity,
    LeadEvent,
    QualificationSettings,
    ScoringRule,
)
from portal.leads.scoring import EngagementRuleSpec, ProfileRule
from portal.partners import validation as places
from portal.partners.models import Product

DUPLICATE_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Intake:
    lead: Lead
    created: bool  # False: the external id was known, and this is the lead taken in before


def criteria() -> lead_score.Criteria:
    """The tenant's scoring criteria as plain values."""
    settings = db.session.scalar(sa.select(QualificationSettings))
    profile = tuple(
        ProfileRule(r.field, r.operator, tuple(r.values), r.points)
        for r in db.session.scalars(sa.select(ScoringRule).order_by(ScoringRule.id))
    )
    engagement = tuple(
        EngagementRuleSpec(r.activity_type, r.points, r.decay_days)
        for r in db.session.scalars(sa.select(EngagementRule).order_by(EngagementRule.id))
    )
    return lead_score.Criteria(
        profile_rules=profile,
        engagement_rules=engagement,
        threshold=settings.mql_threshold if settings else 60,
        required_fields=tuple(settings.required_fields if settings else ()),
    )


def product_code(raw: object) -> str | None:
    """A product reference as the tenant's codes are written, or None if there is none."""
    if raw is None or not str(raw).strip():
        return None
    return str(raw).strip().upper()


def clean_item(data: Mapping[str, Any], product_ids: Mapping[str, int]) -> dict[str, Any]:
    """A lead's values from any channel, its product resolved; ValidationFailed names bad fields."""
    errors: dict[str, str] = {}
    try:
        values = intake_rules.clean_lead(data)
    except intake_rules.LeadProblems as exc:
        errors.update(exc.errors)
        values = {}
    code = product_code(data.get("product"))
    values["product_id"] = product_ids.get(code) if code else None
    if code and values["product_id"] is None:
        errors.setdefault(
            "product", f"No product has the code {str(data.get('product')).strip()!r}."
        )
    if errors:
        raise ValidationFailed(errors)
    return values


def products_by_code(codes: Iterable[str | None]) -> dict[str, int]:
    """The ids of the tenant's products with these codes (as product_code gives them).

    A code no product can have is not looked up: it could not match, and text PostgreSQL
    cannot hold (a NUL) would fail the query instead of the lead's validation.
    """
    wanted = {code for code in codes if code and places.is_code(code)}
    if not wanted:
        return {}
    query = sa.select(Product.code, Product.id).where(Product.code.in_(wanted))
    return dict(db.session.execute(query).all())


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return clean_item(data, products_by_code([product_code(data.get("product"))]))


def actor_label(actor: Any) -> str:
    """How an event names who acted: a user's e-mail, or the label of a key or a command."""
    return getattr(actor, "email", None) or str(actor)


def _duplicate_of(values: dict[str, Any], now: datetime) -> int | None:
    """An earlier lead that is likely the same person or the same buying company.

    A lead merged away is history; the lead it went into is the one to compare with.
    """
    same = []
    if values.get("contact_email"):
        same.append(Lead.contact_email == values["contact_email"])
    if values.get("company_domain") and values.get("product_id"):
        same.append(
            sa.and_(
                Lead.company_domain == values["company_domain"],
                Lead.product_id == values["product_id"],
                Lead.created_at >= now - DUPLICATE_WINDOW,
            )
        )
    if not same:
        return None
    query = (
        sa.select(Lead.id)
        .where(sa.or_(*same), Lead.state != LeadState.MERGED.value)
        .order_by(Lead.id)
        .limit(1)
    )
    return db.session.scalar(query)


def take_in(data: dict[str, Any], *, actor: Any, channel: str) -> Intake:
    """Take one lead in from a form, the API or a file, score it, and commit."""
    values = _clean(data)
    if values.get("external_id"):
        known = db.session.scalar(sa.select(Lead).where(Lead.external_id == values["external_id"]))
        if known is not None:
            return Intake(known, created=False)
    now = utcnow()
    lead = Lead(**values, state=LeadState.NEW.value, created_at=now)
    lead.duplicate_of_id = _duplicate_of(values, now)
    db.session.add(lead)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # Another request took the same external id in first: answer with its lead.
        db.session.rollback()
        known = db.session.scalar(sa.select(Lead).where(Lead.external_id == values["external_id"]))
        if known is None:
            raise
        return Intake(known, created=False)
    _score(lead, now, actor_label(actor), taken_in_by=channel)
    db.session.commit()
    if lead.state == LeadState.MQL.value:
        hand_to_routing()
    return Intake(lead, created=True)


def hand_to_routing() -> None:
    """Have the tenant's new MQLs routed; after the commit that made them."""
    from portal.routing.tasks import hand_over  # routing builds on intake, not the reverse

    hand_over()


def add_event(
    lead: Lead,
    action: str,
    before: LeadState | None,
    after: LeadState,
    actor_label: str,
    reason: str,
    data: dict[str, Any],
    *,
    offer_id: int | None = None,
) -> None:
    """Append one event to the lead's history, in the caller's transaction."""
    db.session.add(
        LeadEvent(
            lead_id=lead.id,
            offer_id=offer_id,
            action=action,
            from_state=before.value if before else None,
            to_state=after.value,
            actor_label=actor_label,
            reason=reason,
            data=data,
        )
    )


SCORED_FIELDS = (
    "industry", "employees", "job_title", "country", "company_domain", "contact_email",
    "contact_phone", "postal_code", "product_id", "bant",
)  # fmt: skip


def lead_values(fields: Mapping[str, Any]) -> dict[str, object]:
    """What scoring reads of a lead, from its column values."""
    values: dict[str, object] = {name: fields.get(name) for name in SCORED_FIELDS}
    values["product"] = values.pop("product_id")
    values["bant"] = values["bant"] or {}
    return values


def _lead_values(lead: Lead) -> dict[str, object]:
    return lead_values({name: getattr(lead, name) for name in SCORED_FIELDS})


def _score(lead: Lead, now: datetime, actor_label: str, *, taken_in_by: str | None = None) -> None:
    """Score the lead and move it to MQL or nurture, with the event that says why.

    A lead just taken in (taken_in_by names the channel) gets one event for both: from no
    state, since it is created scored and its state "new" never outlives the transaction.
    """
    result = lead_score.score_lead(_lead_values(lead), _activities(lead), criteria(), now)
    action = lead_score.scoring_action(result)
    before = LeadState(lead.state)
    after = next_state(before, action)
    lead.score, lead.score_breakdown, lead.state = result.total, result.breakdown(), after.value
    reason = result.verdict()
    data: dict[str, Any] = {"score": result.total, "missing": list(result.missing_fields)}
    from_state: LeadState | None = before
    if taken_in_by is not None:
        from_state, reason = None, taken_in_reason(taken_in_by, reason)
        if lead.duplicate_of_id:
            data["duplicate_of"] = lead.duplicate_of_id
    add_event(lead, action.value, from_state, after, actor_label, reason, data)


def taken_in_reason(channel: str, verdict: str) -> str:
    """Why a lead just taken in is in its first state: where it came from and its score."""
    return f"Taken in by {channel}. {verdict}"


def get_lead(lead_id: int) -> Lead:
    lead = db.session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("no such lead")
    return lead


def record_activity(
    lead_id: int, activity_type: str, occurred_at: datetime | None, *, actor: Any
) -> Lead:
    """Record an engagement and score the lead again; a nurtured lead may become an MQL.

    An activity of a lead merged into another belongs to the lead it went into, which is
    the lead that is answered.
    """
    lead = surviving(get_lead(lead_id))
    now = utcnow()
    kind = (activity_type or "").strip().lower()
    if not kind:
        raise ValidationFailed(
            {"activity_type": "Name the activity, for example webinar_attended."}
        )
    if intake_rules.holds_nul(kind):
        raise ValidationFailed({"activity_type": intake_rules.NUL_MESSAGE})
    if occurred_at is not None:
        occurred_at = _in_utc(occurred_at)
    if occurred_at is not None and occurred_at > now + timedelta(minutes=5):
        raise ValidationFailed({"occurred_at": "An activity cannot happen in the future."})
    db.session.add(
        LeadActivity(lead_id=lead.id, activity_type=kind, occurred_at=occurred_at or now)
    )
    db.session.flush()
    rescore(lead, now, actor_label(actor))
    db.session.commit()
    if lead.state == LeadState.MQL.value:
        hand_to_routing()
    return lead


def _in_utc(moment: datetime) -> datetime:
    """The moment in UTC; a field error for one UTC cannot show (it would be in year 0 or 10000)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationFailed(
            {"occurred_at": "Give a time from the year 1 to 9999 in UTC."}
        ) from None


def surviving(lead: Lead) -> Lead:
    """The lead that carries on for this one: itself, or the lead it was merged into."""
    seen = {lead.id}
    while lead.merged_into_id is not None and lead.merged_into_id not in seen:
        lead = get_lead(lead.merged_into_id)
        seen.add(lead.id)
    return lead


def rescore(lead: Lead, now: datetime, label: str) -> None:
    """Score the lead again after new facts; a nurtured lead may become an MQL."""
    if LeadState(lead.state) in (LeadState.NEW, LeadState.NURTURE):
        _score(lead, now, label)
        return
    # Past qualification the score is kept up to date, but the state is routing's business.
    result = lead_score.score_lead(_lead_values(lead), _activities(lead), criteria(), now)
    lead.score, lead.score_breakdown = result.total, result.breakdown()


def _activities(lead: Lead) -> list[lead_score.Activity]:
    query = sa.select(LeadActivity).where(LeadActivity.lead_id == lead.id)
    return [lead_score.Activity(a.activity_type, a.occurred_at) for a in db.session.scalars(query)]
