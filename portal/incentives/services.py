"""Incentive plans: read, saved as a new version with its audit record, and shown with an
example of what they pay."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from portal import audit, money
from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.incentives import rules
from portal.incentives.models import IncentivePlan
from portal.leads.intake import actor_label
from portal.partners.models import Tier
from portal.partners.validation import InvalidValue

NOTE_MAX = 500
# A plan's problems (rules.Plan.problems) by the form field that shows them; None: above it.
FIELD_OF = {
    "currency": "currency", "bounty_minor": "bounty", "share_bp_by_tier": None,
    "sla_gate_percent": "sla_gate", "accelerator_percent": "accelerator_percent",
    "accelerator_bp": "accelerator_extra", "cap_minor": "cap", "plan": None,
}  # fmt: skip


def current_plan() -> IncentivePlan | None:
    return db.session.scalar(sa.select(IncentivePlan).order_by(IncentivePlan.version.desc()))


def history(limit: int = 20) -> list[IncentivePlan]:
    query = sa.select(IncentivePlan).order_by(IncentivePlan.version.desc()).limit(limit)
    return list(db.session.scalars(query))


def tiers() -> list[Tier]:
    return list(db.session.scalars(sa.select(Tier).order_by(Tier.rank)))


def to_rules(plan: IncentivePlan) -> rules.Plan:
    return rules.Plan(
        currency=plan.currency,
        bounty_minor=plan.bounty_minor,
        share_bp_by_tier=dict(plan.share_bp_by_tier or {}),
        sla_gate_percent=plan.sla_gate_percent,
        accelerator_percent=plan.accelerator_percent,
        accelerator_bp=plan.accelerator_bp,
        cap_minor=plan.cap_minor,
    )


def form_values(plan: IncentivePlan | None, tier_rows: list[Tier]) -> dict[str, str]:
    """The plan as the form shows it: amounts in major units, shares in percent."""
    if plan is None:
        return {"currency": "EUR", "bounty": "0", "accelerator_extra": "0"}
    values = {
        "currency": plan.currency,
        "bounty": money.major_text(plan.bounty_minor, plan.currency),
        "sla_gate": _text(plan.sla_gate_percent),
        "accelerator_percent": _text(plan.accelerator_percent),
        "accelerator_extra": _percent_text(plan.accelerator_bp),
        "cap": money.major_text(plan.cap_minor, plan.currency) if plan.cap_minor else "",
    }
    shares = plan.share_bp_by_tier or {}
    for tier in tier_rows:
        values[f"share_{tier.id}"] = _percent_text(shares.get(tier.name, 0))
    return values


def save_plan(raw: dict[str, Any], *, actor: Any) -> IncentivePlan:
    """Check the plan as typed and save it as the next version, audited; the versions before
    it stay as they were. Every problem is named at its field."""
    errors: dict[str, str] = {}
    tier_rows = tiers()

    def take(field: str, parse: Any, *args: Any) -> Any:
        try:
            return parse(*args)
        except InvalidValue as exc:
            errors[field] = str(exc)
            return None

    currency = take("currency", _currency, raw.get("currency"))
    unit = currency or "EUR"
    bounty = take("bounty", _amount, raw.get("bounty"), unit) or 0
    cap = take("cap", _amount, raw.get("cap"), unit, True)
    shares = {}
    for tier in tier_rows:
        bp = take(f"share_{tier.id}", _basis_points, raw.get(f"share_{tier.id}"))
        if bp:
            shares[tier.name] = bp
    gate = take("sla_gate", _whole_percent, raw.get("sla_gate"))
    accelerator = take("accelerator_percent", _whole_percent, raw.get("accelerator_percent"))
    extra = take("accelerator_extra", _basis_points, raw.get("accelerator_extra")) or 0
    note = " ".join(str(raw.get("note") or "").split())
    if len(note) > NOTE_MAX:
        errors["note"] = f"Keep the note to {NOTE_MAX} characters."
    if errors:
        raise ValidationFailed(errors)
    plan = rules.Plan(unit, bounty, shares, gate, accelerator, extra, cap)
    problems = plan.problems()
    if problems:
        raise ValidationFailed(
            {FIELD_OF.get(name) or "plan": message for name, message in problems.items()}
        )
    previous = current_plan()
    row = IncentivePlan(
        version=(previous.version if previous else 0) + 1, currency=plan.currency,
        bounty_minor=plan.bounty_minor, share_bp_by_tier=shares, sla_gate_percent=gate,
        accelerator_percent=accelerator, accelerator_bp=extra, cap_minor=cap,
        note=note or None, created_by_label=actor_label(actor),
    )  # fmt: skip
    db.session.add(row)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise Conflict(
            "Someone saved the plan a moment ago; it is shown here. Make your change again."
        ) from None
    versions = [previous.version if previous else None, row.version]
    audit.record(
        db.session, actor=actor, action="incentive_plan.saved", obj=row,
        changes={"version": versions},
    )  # fmt: skip
    db.session.commit()
    return row


@dataclass(frozen=True)
class Example:
    tier: str
    sals: int
    given_back: int
    sla_percent: int
    won: list[int]
    lines: list[rules.Line]
    total_minor: int


def example(plan: IncentivePlan) -> Example:
    """What the plan pays a partner of the tier with the largest share (the top tier among
    equals) for a sample month: ten SALs, one of them given back, SLA compliance of 95%,
    and two deals won."""
    shares = plan.share_bp_by_tier or {}
    ranked = sorted(tiers(), key=lambda t: (-shares.get(t.name, 0), t.rank))
    tier = ranked[0].name if ranked else ""
    one = 10 ** money.exponent(plan.currency)
    won = [20_000 * one, 7_500 * one]
    sals = [rules.Sal(n, f"Example customer {n}", returned=n == 10) for n in range(1, 11)]
    wons = [rules.Won(n, f"Example customer {n}", amount, plan.currency)
            for n, amount in enumerate(won, start=1)]  # fmt: skip
    made = rules.lines(to_rules(plan), tier, sals, wons, 0.95)
    return Example(tier, 10, 1, 95, won, made, rules.total(made))


def _currency(raw: object) -> str:
    if not str(raw or "").strip():
        raise InvalidValue("Give the plan's currency, for example EUR.")
    return money.currency_code(str(raw))


def _amount(raw: object, currency: str, optional: bool = False) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None if optional else 0
    return money.parse_major(text, currency)


def _basis_points(raw: object) -> int:
    text = str(raw or "").strip().rstrip("%").strip()
    if not text:
        return 0
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidValue("Give a percentage, for example 2.5.") from None
    bp = value * 100
    if value < 0 or bp != bp.to_integral_value():
        raise InvalidValue("Give a percentage from 0 with at most two decimals, for example 2.5.")
    return int(bp)


def _whole_percent(raw: object) -> int | None:
    text = str(raw or "").strip().rstrip("%").strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidValue("Give a whole percentage from 0 to 100, or leave it empty.")
    return int(text)


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def _percent_text(bp: int) -> str:
    return f"{Decimal(bp) / 100:f}".rstrip("0").rstrip(".") if bp else "0"
