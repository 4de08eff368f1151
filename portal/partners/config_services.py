"""Use cases of the programme's tiers and SLA policies. Each write commits its own transaction.

Every change is audited. Tiers drive routing, so their changes also bump the tenant's
configuration version; SLA policies only set deadlines of future offers, so theirs do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal import audit
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.partners import sla_rules, validation
from portal.partners.models import SLA_CLOCKS, Partner, SlaPolicy, Tier
from portal.partners.service_checks import check
from portal.routing.models import SegmentRule
from portal.tenancy.services import note_config_change


def _partners(count: int) -> str:
    return f"{count} partner{'' if count == 1 else 's'}"


# Tiers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierRow:
    """A tier with how many partners hold it, for the list page."""

    tier: Tier
    partners: int


def tier_choices() -> list[Tier]:
    """The tenant's tiers, top tier first."""
    return list(db.session.scalars(sa.select(Tier).order_by(Tier.rank, Tier.name, Tier.id)))


def tier_rows() -> list[TierRow]:
    """Every tier in rank order with the number of partners in it."""
    counts = dict(
        db.session.execute(
            sa.select(Partner.tier_id, sa.func.count(Partner.id)).group_by(Partner.tier_id)
        ).all()
    )
    return [TierRow(tier, counts.get(tier.id, 0)) for tier in tier_choices()]


def get_tier(tier_id: int) -> Tier:
    tier = db.session.get(Tier, tier_id)
    if tier is None:
        raise NotFound("no such tier")
    return tier


def _next_rank() -> int:
    return (db.session.scalar(sa.select(sa.func.max(Tier.rank))) or 0) + 1


def _tier_name_taken(name: str, tier_id: int | None) -> bool:
    query = sa.select(Tier.id).where(sa.func.lower(Tier.name) == name.lower())
    if tier_id is not None:
        query = query.where(Tier.id != tier_id)
    return db.session.scalar(query) is not None


def _tier_values(data: dict[str, Any], tier_id: int | None) -> dict[str, Any]:
    """Validate a tier's fields; ValidationFailed names every bad field."""
    errors: dict[str, str] = {}
    raw_rank = data.get("rank")
    if tier_id is None and (raw_rank is None or not str(raw_rank).strip()):
        raw_rank = _next_rank()  # a new tier goes to the bottom unless placed
    values = {
        "name": check(errors, "name", validation.name, data.get("name"), 40),
        "rank": check(errors, "rank", sla_rules.tier_rank, raw_rank),
        "routing_weight": check(
            errors, "routing_weight", sla_rules.routing_weight, data.get("routing_weight")
        ),
    }
    if values["name"] and _tier_name_taken(values["name"], tier_id):
        errors["name"] = f"A tier named {values['name']!r} exists already."
    if errors:
        raise ValidationFailed(errors)
    return values


def create_tier(data: dict[str, Any], *, actor: Any) -> Tier:
    """Add a tier; without a rank it goes below the lowest tier."""
    values = _tier_values(data, None)
    tier = Tier(**values)
    db.session.add(tier)
    db.session.flush()
    audit.record(db.session, actor=actor, action="tier.created", obj=tier, changes=values)
    note_config_change()
    db.session.commit()
    return tier


def update_tier(tier_id: int, data: dict[str, Any], *, actor: Any) -> Tier:
    """Rename a tier, or change its rank or routing weight; records what changed."""
    tier = get_tier(tier_id)
    changes = audit.apply_changes(tier, _tier_values(data, tier_id))
    if changes:
        audit.record(db.session, actor=actor, action="tier.updated", obj=tier, changes=changes)
        note_config_change()
    db.session.commit()
    return tier


def _tier_in_use(tier: Tier) -> str | None:
    partners = db.session.scalar(
        sa.select(sa.func.count(Partner.id)).where(Partner.tier_id == tier.id)
    )
    if partners:
        return f"{tier.name} is used by {_partners(partners)}; move them to another tier first."
    rules = db.session.scalar(
        sa.select(sa.func.count(SegmentRule.id)).where(SegmentRule.min_tier_id == tier.id)
    )
    if rules:
        noun = "segment rule" if rules == 1 else "segment rules"
        return f"{tier.name} is the minimum tier of {rules} {noun}; change them first."
    return None


def delete_tier(tier_id: int, *, actor: Any) -> Tier:
    """Delete a tier that no partner and no segment rule uses."""
    tier = get_tier(tier_id)
    reason = _tier_in_use(tier)
    if reason:
        raise Conflict(reason)
    audit.record(
        db.session,
        actor=actor,
        action="tier.deleted",
        obj=tier,
        changes={"name": tier.name, "rank": tier.rank, "routing_weight": tier.routing_weight},
    )
    db.session.delete(tier)
    note_config_change()
    db.session.commit()
    return tier


def move_tier(tier_id: int, direction: str, *, actor: Any) -> Tier:
    """Swap a tier with its neighbour above or below, then number every tier 1, 2, 3…"""
    tier = get_tier(tier_id)
    order = tier_choices()
    here = order.index(tier)
    there = here - 1 if direction == "up" else here + 1
    if not 0 <= there < len(order):
        raise Conflict(f"{tier.name} is already the {'top' if there < 0 else 'bottom'} tier.")
    order[here], order[there] = order[there], order[here]
    changes = {}
    for rank, each in enumerate(order, start=1):
        if each.rank != rank:
            changes[each.name] = [each.rank, rank]
            each.rank = rank
    audit.record(db.session, actor=actor, action="tier.reordered", obj=tier, changes=changes)
    note_config_change()
    db.session.commit()
    return tier


# SLA policies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    """A policy in plain words, with the partners it applies to, for the list page."""

    policy: SlaPolicy
    description: str
    partners: int  # partners that chose this policy
    by_default: int  # partners with no policy of their own (only on the default)

    @property
    def total(self) -> int:
        return self.partners + self.by_default


def sla_policy_choices() -> list[SlaPolicy]:
    """The tenant's SLA policies, the default first, then by name."""
    query = sa.select(SlaPolicy).order_by(SlaPolicy.is_default.desc(), SlaPolicy.name)
    return list(db.session.scalars(query))


def describe_policy(policy: SlaPolicy) -> str:
    """A policy in one sentence: hours, how they are counted, and the reminders."""
    return sla_rules.describe_sla(
        response_hours=policy.response_hours,
        clock=policy.clock,
        work_days=policy.work_days or [],
        work_start=policy.work_start,
        work_end=policy.work_end,
        holiday_country=policy.holiday_country,
        reminder_points=policy.reminder_points or [],
    )


def policy_rows() -> list[PolicyRow]:
    """Every policy in plain words, with how many partners it applies to."""
    counts = dict(
        db.session.execute(
            sa.select(Partner.sla_policy_id, sa.func.count(Partner.id)).group_by(
                Partner.sla_policy_id
            )
        ).all()
    )
    return [
        PolicyRow(
            policy,
            describe_policy(policy),
            counts.get(policy.id, 0),
            counts.get(None, 0) if policy.is_default else 0,
        )
        for policy in sla_policy_choices()
    ]


def get_sla_policy(policy_id: int) -> SlaPolicy:
    policy = db.session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound("no such SLA policy")
    return policy


def policy_form_data(policy: SlaPolicy) -> dict[str, Any]:
    """A policy's values as its form shows them."""
    return {
        "name": policy.name,
        "response_hours": str(policy.response_hours),
        "clock": policy.clock,
        "work_days": list(policy.work_days or []),
        "work_start": policy.work_start,
        "work_end": policy.work_end,
        "holiday_country": policy.holiday_country or "",
        "reminder_points": ", ".join(str(p) for p in policy.reminder_points or []),
    }


def _policy_name_taken(name: str, policy_id: int | None) -> bool:
    query = sa.select(SlaPolicy.id).where(sa.func.lower(SlaPolicy.name) == name.lower())
    if policy_id is not None:
        query = query.where(SlaPolicy.id != policy_id)
    return db.session.scalar(query) is not None


def _calendar_values(data: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """Working days, hours and holidays: they only matter on a business-hours clock."""
    values = {
        "work_days": check(errors, "work_days", validation.work_days, data.get("work_days") or []),
        "holiday_country": check(
            errors, "holiday_country", validation.holiday_country, data.get("holiday_country")
        ),
    }
    start = check(errors, "work_start", validation.clock_time, data.get("work_start"))
    end = check(errors, "work_end", validation.clock_time, data.get("work_end"))
    if start and end:
        hours = check(errors, "work_end", validation.working_hours, start, end)
        if hours:
            values["work_start"], values["work_end"] = hours
    return values


def _policy_values(data: dict[str, Any], policy_id: int | None) -> dict[str, Any]:
    """Validate a policy's fields; ValidationFailed names every bad field."""
    errors: dict[str, str] = {}
    values = {
        "name": check(errors, "name", validation.name, data.get("name"), 80),
        "response_hours": check(
            errors, "response_hours", validation.response_hours, data.get("response_hours")
        ),
        "clock": data.get("clock"),
        "reminder_points": check(
            errors, "reminder_points", validation.reminder_points, data.get("reminder_points")
        ),
    }
    if values["clock"] not in SLA_CLOCKS:
        errors["clock"] = "Choose business hours or wall-clock hours."
    elif values["clock"] == "business":
        values.update(_calendar_values(data, errors))
    if values["name"] and _policy_name_taken(values["name"], policy_id):
        errors["name"] = f"An SLA policy named {values['name']!r} exists already."
    if errors:
        raise ValidationFailed(errors)
    return values


def _make_only_default(policy: SlaPolicy) -> None:
    # Lock the tenant's policies first: a concurrent change of default then waits for this
    # one and, its next statement seeing this commit, clears it, so there is never two.
    db.session.execute(sa.select(SlaPolicy.id).order_by(SlaPolicy.id).with_for_update())
    db.session.execute(
        sa.update(SlaPolicy)
        .where(SlaPolicy.is_default, SlaPolicy.id != policy.id)
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )
    policy.is_default = True


def create_sla_policy(data: dict[str, Any], *, actor: Any) -> SlaPolicy:
    """Add an SLA policy; made the tenant default if asked, unsetting the old default."""
    values = _policy_values(data, None)
    policy = SlaPolicy(is_default=False, **values)
    db.session.add(policy)
    db.session.flush()
    if data.get("is_default"):
        _make_only_default(policy)
    audit.record(
        db.session,
        actor=actor,
        action="sla_policy.created",
        obj=policy,
        changes={**values, "is_default": policy.is_default},
    )
    db.session.commit()
    return policy


def update_sla_policy(policy_id: int, data: dict[str, Any], *, actor: Any) -> SlaPolicy:
    """Change a policy; deadlines of offers made from now on follow the new values."""
    policy = get_sla_policy(policy_id)
    changes = audit.apply_changes(policy, _policy_values(data, policy_id))
    if changes:
        audit.record(
            db.session, actor=actor, action="sla_policy.updated", obj=policy, changes=changes
        )
    db.session.commit()
    return policy


def make_default_sla_policy(policy_id: int, *, actor: Any) -> SlaPolicy:
    """Make this the policy of every partner without one of its own."""
    policy = get_sla_policy(policy_id)
    if policy.is_default:
        raise Conflict(f"{policy.name} is the default already.")
    previous = db.session.scalar(sa.select(SlaPolicy.name).where(SlaPolicy.is_default))
    _make_only_default(policy)
    audit.record(
        db.session,
        actor=actor,
        action="sla_policy.made_default",
        obj=policy,
        changes={"default": [previous, policy.name]},
    )
    db.session.commit()
    return policy


def delete_sla_policy(policy_id: int, *, actor: Any) -> SlaPolicy:
    """Delete a policy that is not the default and that no partner uses."""
    policy = get_sla_policy(policy_id)
    if policy.is_default:
        raise Conflict(
            f"{policy.name} is the default policy; make another policy the default first."
        )
    partners = db.session.scalar(
        sa.select(sa.func.count(Partner.id)).where(Partner.sla_policy_id == policy.id)
    )
    if partners:
        raise Conflict(
            f"{policy.name} is used by {_partners(partners)}; move them to another policy first."
        )
    audit.record(
        db.session,
        actor=actor,
        action="sla_policy.deleted",
        obj=policy,
        changes={"name": policy.name, "description": describe_policy(policy)},
    )
    db.session.delete(policy)
    db.session.commit()
    return policy
