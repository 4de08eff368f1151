"""Use cases of the qualification criteria and the rejection reason catalogue.

Each write is audited and commits its own transaction. Neither changes routing, so no
change here bumps the tenant's configuration version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal import audit
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.leads import scoring
from portal.leads.models import (
    EngagementRule,
    QualificationSettings,
    RejectionReason,
    ScoringRule,
)
from portal.partners import validation
from portal.tenancy.seeding import DEFAULT_REQUIRED_FIELDS

DEFAULT_THRESHOLD = 60


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# Qualification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DescribedRule:
    """A rule row with its meaning in plain words, for the qualification page."""

    id: int
    description: str


@dataclass(frozen=True)
class Qualification:
    """Everything the qualification page shows."""

    threshold: int
    required_fields: list[str]
    summary: str
    profile_rules: list[DescribedRule]
    engagement_rules: list[DescribedRule]


def _settings() -> QualificationSettings | None:
    return db.session.scalar(sa.select(QualificationSettings))


def profile_spec(rule: ScoringRule) -> scoring.ProfileRule:
    """The pure value of a stored profile rule."""
    return scoring.ProfileRule(rule.field, rule.operator, tuple(rule.values or ()), rule.points)


def engagement_spec(rule: EngagementRule) -> scoring.EngagementRuleSpec:
    """The pure value of a stored engagement rule."""
    return scoring.EngagementRuleSpec(rule.activity_type, rule.points, rule.decay_days)


def _described_profile_rules() -> list[DescribedRule]:
    query = sa.select(ScoringRule).order_by(ScoringRule.field, ScoringRule.id)
    return [
        DescribedRule(
            rule.id,
            scoring.describe_profile_rule(profile_spec(rule), validation.country_name),
        )
        for rule in db.session.scalars(query)
    ]


def _described_engagement_rules() -> list[DescribedRule]:
    query = sa.select(EngagementRule).order_by(EngagementRule.activity_type)
    return [
        DescribedRule(rule.id, scoring.describe_engagement_rule(engagement_spec(rule)))
        for rule in db.session.scalars(query)
    ]


def qualification() -> Qualification:
    """The tenant's threshold, required fields and rules, each in plain words."""
    settings = _settings()
    threshold = settings.mql_threshold if settings else DEFAULT_THRESHOLD
    fields = list(settings.required_fields) if settings else list(DEFAULT_REQUIRED_FIELDS)
    return Qualification(
        threshold=threshold,
        required_fields=fields,
        summary=scoring.describe_qualification(threshold, fields),
        profile_rules=_described_profile_rules(),
        engagement_rules=_described_engagement_rules(),
    )


def _collect(errors: dict[str, str], check: Any, *args: Any, field: str | None = None) -> Any:
    """check(*args), or None with its message filed under field (else the part it names)."""
    try:
        return check(*args)
    except (scoring.InvalidRule, validation.InvalidValue) as exc:
        errors[field or getattr(exc, "part", "values")] = str(exc)
        return None


def update_settings(data: dict[str, Any], *, actor: Any) -> QualificationSettings:
    """Set the MQL threshold and the fields a lead needs before it is offered."""
    errors: dict[str, str] = {}
    values = {
        "mql_threshold": _collect(errors, scoring.mql_threshold, data.get("mql_threshold")),
        "required_fields": _collect(
            errors, scoring.required_fields, data.get("required_fields") or []
        ),
    }
    if errors:
        raise ValidationFailed(errors)
    settings = _settings()
    if settings is None:
        settings = QualificationSettings()
        db.session.add(settings)
        db.session.flush()
    changes = audit.apply_changes(settings, values)
    if changes:
        audit.record(
            db.session, actor=actor, action="qualification.updated", obj=settings, changes=changes
        )
    db.session.commit()
    return settings


def _profile_values(field: str, data: dict[str, Any]) -> Any:
    if field == "employees":
        return [data.get("low"), data.get("high")]
    if field == "country":
        raw = data.get("values") or ""
        return validation.country_list(raw) if raw.strip() else []
    return data.get("values") or ""


def _new_profile_rule(data: dict[str, Any]) -> scoring.ProfileRule:
    errors: dict[str, str] = {}
    field = str(data.get("field") or "")
    operator = scoring.PROFILE_OPERATORS.get(field, "")
    raw = _collect(errors, _profile_values, field, data)
    values = None
    if raw is not None:
        values = _collect(errors, scoring.rule_values, field, operator, raw)
    points = _collect(errors, scoring.rule_points, data.get("points"))
    if values is not None and _same_rule_exists(field, list(values)):
        errors["values"] = "The same rule exists already; delete it first to change its points."
    if errors:
        raise ValidationFailed(errors)
    return scoring.ProfileRule(field, operator, values, points)


def _same_rule_exists(field: str, values: list[Any]) -> bool:
    rules = db.session.scalars(sa.select(ScoringRule).where(ScoringRule.field == field))
    return any(list(rule.values or []) == values for rule in rules)


def add_profile_rule(data: dict[str, Any], *, actor: Any) -> ScoringRule:
    """Add a profile rule: points when a lead field meets a condition."""
    spec = _new_profile_rule(data)
    rule = ScoringRule(
        field=spec.field, operator=spec.operator, values=list(spec.values), points=spec.points
    )
    db.session.add(rule)
    db.session.flush()
    audit.record(
        db.session,
        actor=actor,
        action="scoring_rule.created",
        obj=rule,
        changes={"rule": scoring.describe_profile_rule(spec), "values": list(spec.values)},
    )
    db.session.commit()
    return rule


def describe_profile_rule(rule: ScoringRule) -> str:
    """A stored profile rule in plain words."""
    return scoring.describe_profile_rule(profile_spec(rule), validation.country_name)


def delete_profile_rule(rule_id: int, *, actor: Any) -> ScoringRule:
    """Delete a profile rule; leads are scored without it from then on."""
    rule = db.session.get(ScoringRule, rule_id)
    if rule is None:
        raise NotFound("no such scoring rule")
    audit.record(
        db.session,
        actor=actor,
        action="scoring_rule.deleted",
        obj=rule,
        changes={"rule": describe_profile_rule(rule), "values": list(rule.values or [])},
    )
    db.session.delete(rule)
    db.session.commit()
    return rule


def add_engagement_rule(data: dict[str, Any], *, actor: Any) -> EngagementRule:
    """Add points for an activity type, optionally fading over some days."""
    errors: dict[str, str] = {}
    activity = _collect(errors, scoring.code_name, data.get("activity_type"), "activity_type")
    points = _collect(errors, scoring.rule_points, data.get("points"))
    decay = _collect(errors, scoring.decay_days, data.get("decay_days"))
    if activity and db.session.scalar(
        sa.select(EngagementRule.id).where(EngagementRule.activity_type == activity)
    ):
        errors["activity_type"] = f"A rule for {activity!r} exists already."
    if errors:
        raise ValidationFailed(errors)
    rule = EngagementRule(activity_type=activity, points=points, decay_days=decay)
    db.session.add(rule)
    db.session.flush()
    audit.record(
        db.session,
        actor=actor,
        action="engagement_rule.created",
        obj=rule,
        changes={"activity_type": activity, "points": points, "decay_days": decay},
    )
    db.session.commit()
    return rule


def delete_engagement_rule(rule_id: int, *, actor: Any) -> EngagementRule:
    """Delete an engagement rule; its activities earn no points from then on."""
    rule = db.session.get(EngagementRule, rule_id)
    if rule is None:
        raise NotFound("no such engagement rule")
    audit.record(
        db.session,
        actor=actor,
        action="engagement_rule.deleted",
        obj=rule,
        changes={
            "activity_type": rule.activity_type,
            "points": rule.points,
            "decay_days": rule.decay_days,
        },
    )
    db.session.delete(rule)
    db.session.commit()
    return rule


def describe_engagement_rule(rule: EngagementRule) -> str:
    """A stored engagement rule in plain words."""
    return scoring.describe_engagement_rule(engagement_spec(rule))


# Rejection reasons --------------------------------------------------------------------------


def rejection_reasons() -> list[RejectionReason]:
    """The whole catalogue in the order partners see it, inactive reasons included."""
    query = sa.select(RejectionReason).order_by(RejectionReason.position, RejectionReason.id)
    return list(db.session.scalars(query))


def active_rejection_reasons() -> list[RejectionReason]:
    """The reasons a partner may choose when rejecting a lead, in catalogue order."""
    return [reason for reason in rejection_reasons() if reason.active]


def get_rejection_reason(reason_id: int) -> RejectionReason:
    reason = db.session.get(RejectionReason, reason_id)
    if reason is None:
        raise NotFound("no such rejection reason")
    return reason


def _label(errors: dict[str, str], raw: Any, reason_id: int | None) -> str | None:
    label = _collect(errors, validation.name, raw, 120, field="label")
    if label is None:
        return None
    same_label = sa.func.lower(RejectionReason.label) == label.lower()
    query = sa.select(RejectionReason.id).where(same_label)
    if reason_id is not None:
        query = query.where(RejectionReason.id != reason_id)
    if db.session.scalar(query) is not None:
        errors["label"] = f"A reason labelled {label!r} exists already."
    return label


def create_rejection_reason(data: dict[str, Any], *, actor: Any) -> RejectionReason:
    """Add a reason at the end of the catalogue; its code can never change."""
    errors: dict[str, str] = {}
    code = _collect(errors, scoring.code_name, data.get("code"), "code", "no_budget")
    label = _label(errors, data.get("label"), None)
    taken = sa.select(RejectionReason.id).where(RejectionReason.code == code)
    if code and db.session.scalar(taken):
        errors["code"] = f"A reason with the code {code!r} exists already."
    if errors:
        raise ValidationFailed(errors)
    position = db.session.scalar(sa.select(sa.func.max(RejectionReason.position)))
    reason = RejectionReason(
        code=code,
        label=label,
        comment_required=bool(data.get("comment_required")),
        position=(position if position is not None else -1) + 1,
    )
    db.session.add(reason)
    db.session.flush()
    audit.record(
        db.session,
        actor=actor,
        action="rejection_reason.created",
        obj=reason,
        changes={"code": code, "label": label, "comment_required": reason.comment_required},
    )
    db.session.commit()
    return reason


def update_rejection_reason(reason_id: int, data: dict[str, Any], *, actor: Any) -> RejectionReason:
    """Change a reason's label or whether a comment is required; never its code."""
    reason = get_rejection_reason(reason_id)
    errors: dict[str, str] = {}
    label = _label(errors, data.get("label"), reason_id)
    if errors:
        raise ValidationFailed(errors)
    values = {"label": label, "comment_required": bool(data.get("comment_required"))}
    changes = audit.apply_changes(reason, values)
    if changes:
        audit.record(
            db.session,
            actor=actor,
            action="rejection_reason.updated",
            obj=reason,
            changes=changes,
        )
    db.session.commit()
    return reason


def set_rejection_reason_active(reason_id: int, active: bool, *, actor: Any) -> RejectionReason:
    """Offer a reason to partners again, or stop offering it; it is never deleted."""
    reason = get_rejection_reason(reason_id)
    if reason.active == active:
        raise Conflict(f"{reason.label!r} is already {'active' if active else 'inactive'}.")
    if not active and len(active_rejection_reasons()) <= 1:
        raise Conflict("Keep at least one reason active, or partners could not reject a lead.")
    reason.active = active
    audit.record(
        db.session,
        actor=actor,
        action="rejection_reason.activated" if active else "rejection_reason.deactivated",
        obj=reason,
        changes={"active": [not active, active]},
    )
    db.session.commit()
    return reason


def move_rejection_reason(reason_id: int, direction: str, *, actor: Any) -> RejectionReason:
    """Swap a reason with its neighbour above or below, then number them 0, 1, 2…"""
    reason = get_rejection_reason(reason_id)
    order = rejection_reasons()
    here = order.index(reason)
    there = here - 1 if direction == "up" else here + 1
    if not 0 <= there < len(order):
        raise Conflict(f"{reason.label!r} is already {'first' if there < 0 else 'last'}.")
    order[here], order[there] = order[there], order[here]
    changes = {}
    for position, each in enumerate(order):
        if each.position != position:
            changes[each.code] = [each.position, position]
            each.position = position
    audit.record(
        db.session, actor=actor, action="rejection_reason.reordered", obj=reason, changes=changes
    )
    db.session.commit()
    return reason
