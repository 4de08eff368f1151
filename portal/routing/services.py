"""Use cases of segment rules and routing weights. Each write commits its own transaction.

Both are routing configuration: every change is audited and bumps the tenant's
configuration version, so routing indexes rebuild.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal import audit, money
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.partners import validation
from portal.partners.models import Partner, Tier
from portal.partners.validation import InvalidValue
from portal.routing.models import FALLBACK_KINDS, SEGMENT_BASES, RoutingSettings, SegmentRule
from portal.routing.segments import (
    DEAL_SIZE,
    EMPLOYEES,
    Segment,
    describe_range,
    describe_segment,
    first_overlap,
    weight_shares,
)
from portal.tenancy.services import note_config_change

DEFAULT_WEIGHTS = {
    "weight_territory": 40,
    "weight_tier": 20,
    "weight_quality": 20,
    "weight_capacity": 10,
    "weight_fairness": 10,
}
WEIGHT_FIELDS = tuple(DEFAULT_WEIGHTS)
ALL_ZERO = "At least one weight must be above zero, or no partner could be preferred over another."
MAX_EMPLOYEES = 10_000_000
_WHOLE = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)$")


# Segment rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentRow:
    """A rule with its sentence, for the list page."""

    rule: SegmentRule
    description: str


def tier_choices() -> list[Tier]:
    """The tenant's tiers, top tier first, for the minimum-tier select."""
    return list(db.session.scalars(sa.select(Tier).order_by(Tier.rank, Tier.name)))


def to_segment(rule: SegmentRule) -> Segment:
    """The plain value of a rule, as the pure segment functions take it."""
    return Segment(
        name=rule.name,
        basis=rule.basis,
        min_value=rule.min_value,
        max_value=rule.max_value,
        currency=rule.currency,
        min_tier_rank=rule.min_tier.rank if rule.min_tier else None,
        min_certification=rule.min_certification,
    )


def _all_rules() -> list[SegmentRule]:
    rules = db.session.scalars(sa.select(SegmentRule).options(joinedload(SegmentRule.min_tier)))
    return sorted(rules, key=lambda r: (r.basis != EMPLOYEES, r.currency or "", r.min_value))


def segment_rules() -> list[SegmentRow]:
    """Every segment rule of the tenant, company size first, each in plain words."""
    return [
        SegmentRow(
            rule,
            describe_segment(
                to_segment(rule), rule.min_tier.name if rule.min_tier else None, money.format_money
            ),
        )
        for rule in _all_rules()
    ]


def get_segment_rule(rule_id: int) -> SegmentRule:
    rule = db.session.scalar(sa.select(SegmentRule).where(SegmentRule.id == rule_id))
    if rule is None:
        raise NotFound("no such segment rule")
    return rule


def segment_form_data(rule: SegmentRule) -> dict[str, Any]:
    """A rule's values as its edit form shows them (deal sizes in major units)."""

    def shown(value: int | None) -> str:
        if value is None:
            return ""
        if rule.basis == DEAL_SIZE and rule.currency:
            return money.major_text(value, rule.currency)
        return str(value)

    return {
        "name": rule.name,
        "basis": rule.basis,
        "min_value": shown(rule.min_value),
        "max_value": shown(rule.max_value),
        "currency": rule.currency or "",
        "min_tier_id": rule.min_tier_id,
        "min_certification": rule.min_certification,
    }


class _Errors(dict[str, str]):
    """Field errors collected while cleaning, so every problem shows at once."""

    def check(self, field: str, parse: Any, *args: Any) -> Any:
        try:
            return parse(*args)
        except InvalidValue as exc:
            self.setdefault(field, str(exc))
            return None


def _employees(raw: str | None) -> int:
    value = "".join((raw or "").split())
    if value.startswith("-"):
        raise InvalidValue("A number of employees cannot be negative.")
    if not _WHOLE.match(value):
        raise InvalidValue("Give a whole number of employees, for example 1,000.")
    number = int(value.replace(",", ""))
    if number > MAX_EMPLOYEES:
        raise InvalidValue(f"Use at most {MAX_EMPLOYEES:,} employees.")
    return number


def _bound(
    errors: _Errors, field: str, raw: str | None, basis: str, currency: str | None
) -> int | None:
    if basis == EMPLOYEES:
        return errors.check(field, _employees, raw)
    amount = errors.check(field, money.parse_amount, raw)
    if amount is None or currency is None:
        return None
    return errors.check(field, money.to_minor, amount, currency)


def _clean_range(errors: _Errors, raw: Mapping[str, Any]) -> dict[str, Any]:
    basis = raw.get("basis")
    if basis not in SEGMENT_BASES:
        errors["basis"] = "Choose company size or deal size."
        return {}
    currency = None
    if basis == DEAL_SIZE:
        currency = errors.check("currency", money.currency_code, raw.get("currency"))
    low = _bound(errors, "min_value", raw.get("min_value"), basis, currency)
    high = None
    if (raw.get("max_value") or "").strip():
        high = _bound(errors, "max_value", raw.get("max_value"), basis, currency)
    if low is not None and high is not None and high <= low:
        errors["max_value"] = "The upper bound must be above the lower bound."
    return {"basis": basis, "currency": currency, "min_value": low, "max_value": high}


def _clean_requirement(
    errors: _Errors, raw: Mapping[str, Any]
) -> tuple[dict[str, Any], Tier | None]:
    tier = None
    if raw.get("min_tier_id") is not None:
        tier = db.session.scalar(sa.select(Tier).where(Tier.id == raw["min_tier_id"]))
        if tier is None:
            errors["min_tier_id"] = "Choose one of this programme's tiers."
    certification = raw.get("min_certification")
    if certification is not None:
        certification = errors.check("min_certification", validation.certification, certification)
    certification = certification or None  # level 0 asks for nothing
    if (
        raw.get("min_tier_id") is None
        and certification is None
        and "min_certification" not in errors
    ):
        errors["min_tier_id"] = "Choose a minimum tier, a certification level, or both."
    values = {"min_tier_id": tier.id if tier else None, "min_certification": certification}
    return values, tier


def _check_name(errors: _Errors, raw: Mapping[str, Any], rule_id: int | None) -> str | None:
    name = errors.check("name", validation.name, raw.get("name"), 80)
    if name is None:
        return None
    query = sa.select(SegmentRule.id).where(sa.func.lower(SegmentRule.name) == name.lower())
    if rule_id is not None:
        query = query.where(SegmentRule.id != rule_id)
    if db.session.scalar(query) is not None:
        errors["name"] = f"A segment rule named {name!r} exists already."
    return name


def _check_overlap(errors: _Errors, values: dict[str, Any], rule_id: int | None) -> None:
    candidate = Segment(
        values["name"] or "",
        values["basis"],
        values["min_value"],
        values["max_value"],
        values["currency"],
        None,
        None,
    )
    others = [to_segment(r) for r in _all_rules() if r.id != rule_id]
    clash = first_overlap(candidate, others)
    if clash is not None:
        words = describe_range(clash, money.format_money)
        errors["min_value"] = f"Overlaps '{clash.name}' ({words}). Narrow one of the two ranges."


def _clean_segment(
    raw: Mapping[str, Any], rule_id: int | None
) -> tuple[dict[str, Any], Tier | None]:
    errors = _Errors()
    values = {"name": _check_name(errors, raw, rule_id), **_clean_range(errors, raw)}
    requirement, tier = _clean_requirement(errors, raw)
    values.update(requirement)
    range_fields = {"basis", "currency", "min_value", "max_value"}
    if not range_fields & errors.keys():
        _check_overlap(errors, values, rule_id)
    if errors:
        raise ValidationFailed(dict(errors))
    return values, tier


def _audit_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: audit.plain(value) for key, value in values.items()}


def create_segment_rule(raw: Mapping[str, Any], *, actor: Any) -> SegmentRule:
    """Add a segment rule; refuses bad ranges, overlaps, and rules that require nothing."""
    values, _ = _clean_segment(raw, None)
    rule = SegmentRule(**values)
    db.session.add(rule)
    db.session.flush()
    audit.record(
        db.session,
        actor=actor,
        action="segment_rule.created",
        obj=rule,
        changes=_audit_values(values),
    )
    note_config_change()
    db.session.commit()
    return rule


def update_segment_rule(rule_id: int, raw: Mapping[str, Any], *, actor: Any) -> SegmentRule:
    """Change a segment rule under the same checks as a new one."""
    rule = get_segment_rule(rule_id)
    values, tier = _clean_segment(raw, rule.id)
    changes = audit.apply_changes(rule, values)
    if not changes:
        return rule
    rule.min_tier = tier
    audit.record(db.session, actor=actor, action="segment_rule.updated", obj=rule, changes=changes)
    note_config_change()
    db.session.commit()
    return rule


def delete_segment_rule(rule_id: int, *, actor: Any) -> SegmentRule:
    """Remove a segment rule; leads of its segment then need no particular tier."""
    rule = get_segment_rule(rule_id)
    audit.record(
        db.session,
        actor=actor,
        action="segment_rule.deleted",
        obj=rule,
        changes=_audit_values(segment_form_data(rule)),
    )
    db.session.delete(rule)
    note_config_change()
    db.session.commit()
    return rule


# Routing settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightRow:
    field: str
    value: int
    share: float

    @property
    def share_text(self) -> str:
        text = f"{self.share:.1f}".removesuffix(".0")
        return f"{text}%"


def routing_settings() -> RoutingSettings:
    """The tenant's routing settings; created with the defaults (flushed only) if missing."""
    settings = db.session.scalar(sa.select(RoutingSettings))
    if settings is None:
        settings = RoutingSettings(**DEFAULT_WEIGHTS)
        db.session.add(settings)
        db.session.flush()
    return settings


def weight_rows() -> list[WeightRow]:
    """Each saved weight with its share of the total, in the order the page shows them."""
    settings = routing_settings()
    weights = {name: getattr(settings, name) for name in WEIGHT_FIELDS}
    shares = weight_shares(weights)
    return [WeightRow(name, weights[name], shares[name]) for name in WEIGHT_FIELDS]


def _clean_weights(raw: Mapping[str, Any]) -> dict[str, int]:
    errors = _Errors()
    values = {
        name: errors.check(name, validation.whole_number, raw.get(name), 0, 100)
        for name in WEIGHT_FIELDS
    }
    if not errors and not any(values.values()):
        errors["weights"] = ALL_ZERO
    if errors:
        raise ValidationFailed(dict(errors))
    return values


def _write_settings(
    values: Mapping[str, Any], action: str, actor: Any, *, routes: bool = True
) -> RoutingSettings:
    """Save changed settings with their audit record; those routing reads (routes) also
    bump the configuration version, so routing indexes rebuild."""
    settings = routing_settings()
    changes = audit.apply_changes(settings, dict(values))
    if changes:
        audit.record(db.session, actor=actor, action=action, obj=settings, changes=changes)
        if routes:
            note_config_change()
    db.session.commit()
    return settings


def save_weights(raw: Mapping[str, Any], *, actor: Any) -> RoutingSettings:
    """Set the routing score's weights: each 0 to 100, not all zero."""
    return _write_settings(_clean_weights(raw), "routing_settings.updated", actor)


def reset_weights(*, actor: Any) -> RoutingSettings:
    """Put the routing score's weights back to the defaults (40/20/20/10/10)."""
    return _write_settings(DEFAULT_WEIGHTS, "routing_settings.reset", actor)


# Fallback and fairness cap ----------------------------------------------------------------

FALLBACK_WORDS = {
    "none": "Nobody: the lead waits in the unroutable queue for a channel manager.",
    "partner": "A default partner takes it, whatever its territories, products and load.",
    "direct_sales": "Direct sales: the lead leaves the programme for the vendor's own team.",
}
MAX_WINDOW_DAYS = 365
MAX_MIN_OFFERS = 10_000


def partner_choices() -> list[Partner]:
    """Active partners, by name, for the default-partner select."""
    return list(
        db.session.scalars(
            sa.select(Partner).where(Partner.status == "active").order_by(Partner.name)
        )
    )


def fallback_form_data() -> dict[str, Any]:
    settings = routing_settings()
    return {
        "fallback_kind": settings.fallback_kind,
        "fallback_partner_id": settings.fallback_partner_id,
    }


def _clean_fallback(raw: Mapping[str, Any]) -> dict[str, Any]:
    kind = raw.get("fallback_kind")
    if kind not in FALLBACK_KINDS:
        raise ValidationFailed({"fallback_kind": "Choose where such leads go."})
    if kind != "partner":
        return {"fallback_kind": kind, "fallback_partner_id": None}
    partner_id = raw.get("fallback_partner_id")
    partner = None
    if str(partner_id or "").isdigit():
        partner = db.session.scalar(sa.select(Partner).where(Partner.id == int(partner_id)))
    if partner is None:
        raise ValidationFailed({"fallback_partner_id": "Choose the default partner."})
    if partner.status != "active":
        raise ValidationFailed(
            {
                "fallback_partner_id": (
                    f"{partner.name} is {partner.status}; a default partner must be active."
                )
            }
        )
    return {"fallback_kind": kind, "fallback_partner_id": partner.id}


def save_fallback(raw: Mapping[str, Any], *, actor: Any) -> RoutingSettings:
    """Where leads go that no partner is eligible for: nobody, a default partner, direct sales."""
    return _write_settings(_clean_fallback(raw), "routing_settings.fallback", actor)


def fairness_form_data() -> dict[str, Any]:
    settings = routing_settings()
    return {
        "fairness_cap_percent": (
            "" if settings.fairness_cap_percent is None else str(settings.fairness_cap_percent)
        ),
        "fairness_window_days": str(settings.fairness_window_days),
        "fairness_min_offers": str(settings.fairness_min_offers),
    }


def _whole(raw: Any, low: int, high: int, words: str) -> int:
    text = str(raw if raw is not None else "").strip().replace(",", "")
    if not re.fullmatch(r"-?\d+", text) or not low <= int(text) <= high:
        raise InvalidValue(f"Give a whole number of {words} from {low:,} to {high:,}.")
    return int(text)


def _clean_fairness(raw: Mapping[str, Any]) -> dict[str, Any]:
    errors = _Errors()
    percent_text = str(raw.get("fairness_cap_percent") or "").strip().removesuffix("%").strip()
    percent = None
    if percent_text:
        percent = errors.check("fairness_cap_percent", _whole, percent_text, 1, 100, "percent")
    values = {
        "fairness_cap_percent": percent,
        "fairness_window_days": errors.check(
            "fairness_window_days",
            _whole,
            raw.get("fairness_window_days"),
            1,
            MAX_WINDOW_DAYS,
            "days",
        ),
        "fairness_min_offers": errors.check(
            "fairness_min_offers",
            _whole,
            raw.get("fairness_min_offers"),
            0,
            MAX_MIN_OFFERS,
            "offers",
        ),
    }
    if errors:
        raise ValidationFailed(dict(errors))
    return values


def save_fairness(raw: Mapping[str, Any], *, actor: Any) -> RoutingSettings:
    """The fairness cap: a share of a territory's offers in a rolling window; empty for none."""
    return _write_settings(_clean_fairness(raw), "routing_settings.fairness", actor)


def fallback_words(settings: RoutingSettings) -> str:
    if settings.fallback_kind == "partner" and settings.fallback_partner is not None:
        partner = settings.fallback_partner
        state = (
            ""
            if partner.status == "active"
            else f" (now {partner.status}: leads wait in the queue)"
        )
        return f"The default partner, {partner.name}{state}, takes it."
    return FALLBACK_WORDS.get(settings.fallback_kind, settings.fallback_kind)


def fairness_words(settings: RoutingSettings) -> str:
    if settings.fairness_cap_percent is None:
        return "No cap: the score alone decides, however often one partner wins."
    return (
        f"No partner gets more than {settings.fairness_cap_percent}% of a territory's offers over "
        f"the last {settings.fairness_window_days} days while another eligible partner has room; "
        f"territories with fewer than {settings.fairness_min_offers} offers in that time are not "
        "capped."
    )


MAX_STALE_DAYS = 365


def save_stale_days(raw: Mapping[str, Any], *, actor: Any) -> RoutingSettings:
    """After how many days without an update an accepted lead counts as stale."""
    errors = _Errors()
    days = errors.check(
        "stale_after_days", _whole, raw.get("stale_after_days"), 1, MAX_STALE_DAYS, "days"
    )
    if errors:
        raise ValidationFailed(dict(errors))
    # Not read by routing: the configuration version stays.
    return _write_settings(
        {"stale_after_days": days}, "routing_settings.stale", actor, routes=False
    )
