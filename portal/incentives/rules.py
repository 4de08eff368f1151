"""Incentive plans turned into statement lines: pure arithmetic on integer minor units.

A plan pays a bounty per sales accepted lead that was not returned, a share of won
revenue by the partner's tier, and may gate the bounty on SLA compliance (below the gate,
none) or accelerate it (at or above the accelerator, more), all under a cap per partner
and period. Every line names its lead or its rule; the total is the sum of the lines.

Money is integer minor units of the plan's currency. A share or an accelerator is worked
out per line and rounded half away from zero to the minor unit there, so the total never
needs rounding of its own. Won deals in another currency than the plan's are listed with
nothing paid, for a person to settle, never converted at a guessed rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

BASIS_POINTS = 10_000  # 1 basis point is 0.01%
MAX_SHARE_BP = 5_000  # no plan gives away more than half of a deal
MAX_ACCELERATOR_BP = 10_000  # at most doubles the bounty


class PlanProblems(ValueError):
    """Every field of a plan that breaks a rule, with its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Plan:
    currency: str
    bounty_minor: int = 0  # per SAL not returned
    share_bp_by_tier: Mapping[str, int] = field(default_factory=dict)  # tier name -> bp
    sla_gate_percent: int | None = None  # below it, no bounty
    accelerator_percent: int | None = None  # at or above it, bounty x (1 + accelerator_bp)
    accelerator_bp: int = 0
    cap_minor: int | None = None  # most a partner earns in a period

    def problems(self) -> dict[str, str]:
        """What is wrong with the plan, by field; empty when it can be used."""
        errors: dict[str, str] = {}
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            errors["currency"] = "Give a three-letter currency code, for example EUR."
        if self.bounty_minor < 0:
            errors["bounty_minor"] = "A bounty cannot be negative."
        for tier, bp in self.share_bp_by_tier.items():
            if not 0 <= bp <= MAX_SHARE_BP:
                errors["share_bp_by_tier"] = (
                    f"The share of {tier} must be from 0% to {MAX_SHARE_BP / 100:g}% of a deal."
                )
        for name in ("sla_gate_percent", "accelerator_percent"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 100:
                errors[name] = "Give a percentage from 0 to 100."
        if not 0 <= self.accelerator_bp <= MAX_ACCELERATOR_BP:
            errors["accelerator_bp"] = (
                f"An accelerator adds from 0% to {MAX_ACCELERATOR_BP / 100:g}%."
            )
        if (self.accelerator_percent is None) != (self.accelerator_bp == 0):
            errors["accelerator_bp"] = "An accelerator needs both its threshold and its extra."
        if (
            self.sla_gate_percent is not None
            and self.accelerator_percent is not None
            and self.accelerator_percent < self.sla_gate_percent
        ):
            errors["accelerator_percent"] = "The accelerator cannot start below the gate."
        if self.cap_minor is not None and self.cap_minor <= 0:
            errors["cap_minor"] = "A cap is above zero; leave it empty for no cap."
        if not errors and not self.bounty_minor and not any(self.share_bp_by_tier.values()):
            errors["plan"] = "The plan pays nothing: give a bounty or a share of won revenue."
        return errors


@dataclass(frozen=True)
class Sal:
    lead_id: int
    company: str
    returned: bool = False  # given back: lost before it ever became an opportunity


@dataclass(frozen=True)
class Won:
    lead_id: int
    company: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class Line:
    kind: str  # bounty, accelerator, share, other_currency, cap, gate
    amount_minor: int
    description: str
    lead_id: int | None = None
    adjusts: str | None = None  # the earlier month whose locked statement this line corrects


def round_half_away(value: Fraction) -> int:
    magnitude = int(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def lines(
    plan: Plan,
    tier: str,
    sals: Sequence[Sal],
    wons: Iterable[Won],
    sla_compliance: float | None,
) -> list[Line]:
    """The statement lines of one partner for one period under the plan."""
    out: list[Line] = []
    gated = plan.sla_gate_percent is not None and (
        sla_compliance is None or sla_compliance * 100 < plan.sla_gate_percent
    )
    paid = [s for s in sals if not s.returned]
    if plan.bounty_minor and gated:
        out.append(Line("gate", 0, f"No bounty: SLA compliance below {plan.sla_gate_percent}%."))
    elif plan.bounty_minor:
        for sal in paid:
            out.append(Line("bounty", plan.bounty_minor, f"Bounty for {sal.company}", sal.lead_id))
        accelerated = (
            plan.accelerator_percent is not None
            and sla_compliance is not None
            and sla_compliance * 100 >= plan.accelerator_percent
        )
        if accelerated and paid:
            extra = round_half_away(
                Fraction(plan.bounty_minor * len(paid) * plan.accelerator_bp, BASIS_POINTS)
            )
            out.append(
                Line(
                    "accelerator",
                    extra,
                    f"Accelerator: SLA compliance of {plan.accelerator_percent}% or more.",
                )
            )
    share = plan.share_bp_by_tier.get(tier, 0)
    for won in wons:
        if won.currency != plan.currency:
            out.append(
                Line(
                    "other_currency",
                    0,
                    f"Won {won.company} in {won.currency}: settle by hand.",
                    won.lead_id,
                )
            )
        elif share:
            amount = round_half_away(Fraction(won.amount_minor * share, BASIS_POINTS))
            out.append(Line("share", amount, f"{share / 100:g}% of won {won.company}", won.lead_id))
    earned = sum(line.amount_minor for line in out)
    if plan.cap_minor is not None and earned > plan.cap_minor:
        out.append(Line("cap", plan.cap_minor - earned, "Capped at the plan's most per period."))
    return out


def adjustments(month: str, owed: Iterable[Line], settled: Iterable[Line]) -> list[Line]:
    """The lines that bring what was settled for an earlier month (its locked statement and
    the adjustments already locked for it) to what that month is owed now.

    Lines are matched by their rule and lead, so a lead given back after approval takes
    back its bounty, a deal won late adds its share, and a cap or gate moves by the
    difference. Nothing is owed again for what was settled right.
    """
    owed_by: dict[tuple[str, int | None], list[Line]] = {}
    settled_by: dict[tuple[str, int | None], list[Line]] = {}
    for line in owed:
        owed_by.setdefault((line.kind, line.lead_id), []).append(line)
    for line in settled:
        settled_by.setdefault((line.kind, line.lead_id), []).append(line)
    out = []
    for key in [*owed_by, *(k for k in settled_by if k not in owed_by)]:
        now = sum(line.amount_minor for line in owed_by.get(key, ()))
        before = sum(line.amount_minor for line in settled_by.get(key, ()))
        if now == before:
            continue
        prefix = f"Adjustment to {month}: "
        if key in owed_by:
            what = owed_by[key][0].description
        else:
            what = f"{settled_by[key][0].description.removeprefix(prefix)} (no longer due)"
        out.append(Line(key[0], now - before, prefix + what, key[1], adjusts=month))
    return out


def total(statement_lines: Iterable[Line]) -> int:
    return sum(line.amount_minor for line in statement_lines)
