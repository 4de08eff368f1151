"""A what-if draft from the values of its form: checked against the tenant, and in words.

Field errors are keyed as the form names its fields: "weight_tier", "fallback_partner_id",
"changes-0-capacity" for the first partner change, "segment-min_value" for the segment rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portal import money
from portal.errors import ValidationFailed
from portal.partners.validation import (
    CERTIFICATION_LEVELS,
    PARTNER_STATUSES,
    InvalidValue,
    certification,
    name,
    whole_number,
)
from portal.routing.facts import Fallback, FallbackKind, RoutingConfig, Weights
from portal.routing.segments import Segment, describe_range, describe_segment, first_overlap
from portal.routing.services import (
    ALL_ZERO,
    WEIGHT_FIELDS,
    _clean_range,
    _clean_requirement,
    _Errors,
)
from portal.routing.whatif import Draft, PartnerChange, SegmentChange, describe_fallback

MAX_CAPACITY = 10_000
CHOOSE_TERRITORY = "Choose one of this programme's territories."
CHOOSE_PRODUCT = "Choose one of this programme's products."
CHANGE_FIELDS = (
    "capacity",
    "status",
    "territory_add",
    "territory_remove",
    "product_add",
    "product_remove",
)
WEIGHT_WORDS = {
    "territory": "territory",
    "tier": "tier",
    "quality": "quality",
    "capacity": "spare capacity",
    "fairness": "fairness",
}


@dataclass(frozen=True)
class DraftParts:
    draft: Draft
    summary: list[str]  # the change in sentences, with the names of today


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


def _capacity(raw: Any) -> int:
    text = str(raw).strip()
    if not text.isdigit():
        raise InvalidValue(f"Give a whole number from 0 to {MAX_CAPACITY:,}.")
    value = int(text)
    if value > MAX_CAPACITY:
        raise InvalidValue(f"Give a whole number from 0 to {MAX_CAPACITY:,}.")
    return value


def _known(raw: Any, known: Mapping[int, Any], message: str) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise InvalidValue(message) from None
    if value not in known:
        raise InvalidValue(message)
    return value


class _Cleaner:
    """Collects every field error of a draft, with the configuration it is checked against."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.errors = _Errors()
        self.partners = {p.id: p for p in config.partners}
        self.territories = {t.id: t for t in config.territories}
        self.products = dict(config.product_names)
        self.summary: list[str] = []

    def partner_name(self, pid: int | None) -> str:
        partner = self.partners.get(pid or 0)
        return partner.name if partner else f"partner {pid}"

    # Weights and fallback -----------------------------------------------------------------

    def weights(self, raw: Mapping[str, Any]) -> Weights | None:
        values = {f: self.errors.check(f, whole_number, raw.get(f), 0, 100) for f in WEIGHT_FIELDS}
        if any(v is None for v in values.values()):
            return None
        if not any(values.values()):
            self.errors["weight_territory"] = ALL_ZERO
            return None
        weights = Weights(**{f.removeprefix("weight_"): v for f, v in values.items()})
        if weights == self.config.weights:
            return None
        changes = [
            f"{WEIGHT_WORDS[term]} {getattr(self.config.weights, term)} → {getattr(weights, term)}"
            for term in WEIGHT_WORDS
            if getattr(weights, term) != getattr(self.config.weights, term)
        ]
        self.summary.append("Routing weights: " + ", ".join(changes) + ".")
        return weights

    def fallback(self, raw: Mapping[str, Any]) -> Fallback | None:
        kind = str(raw.get("fallback_kind") or "").strip()
        if not kind:
            return None
        if kind not in {k.value for k in FallbackKind}:
            self.errors["fallback_kind"] = "Choose where leads nobody can take would go."
            return None
        partner_id = None
        if kind == FallbackKind.PARTNER:
            partner_id = self.errors.check(
                "fallback_partner_id",
                _known,
                raw.get("fallback_partner_id"),
                self.partners,
                "Choose the partner that would take them.",
            )
            if partner_id is None:
                return None
        fallback = Fallback(FallbackKind(kind), partner_id)
        if fallback == self.config.fallback:
            return None
        names = {pid: p.name for pid, p in self.partners.items()}
        now = describe_fallback(self.config.fallback, names)
        self.summary.append(f"Fallback: {describe_fallback(fallback, names)} (now {now}).")
        return fallback

    # Partner changes ------------------------------------------------------------------------

    def partner_changes(self, rows: Sequence[Mapping[str, Any]]) -> tuple[PartnerChange, ...]:
        changes: list[PartnerChange] = []
        seen: set[int] = set()
        for i, row in enumerate(rows):
            change = self.partner_change(f"changes-{i}-", row)
            if change is None:
                continue
            if change.partner_id in seen:
                self.errors[f"changes-{i}-partner_id"] = (
                    "This partner has a change above already; put both in one row."
                )
                continue
            seen.add(change.partner_id)
            changes.append(change)
        return tuple(changes)

    def partner_change(self, prefix: str, row: Mapping[str, Any]) -> PartnerChange | None:
        given = {f: row.get(f) for f in CHANGE_FIELDS if not _blank(row.get(f))}
        if _blank(row.get("partner_id")):
            if given:
                self.errors[prefix + "partner_id"] = "Choose the partner this change is for."
            return None
        pid = self.errors.check(
            prefix + "partner_id",
            _known,
            row.get("partner_id"),
            self.partners,
            "Choose one of this programme's partners.",
        )
        if not given:
            if pid is not None:
                self.errors[prefix + "capacity"] = "Say what would change for this partner."
            return None
        values = self.change_values(prefix, given, row)
        if pid is None or values is None:
            return None
        change = PartnerChange(pid, **values)
        self.summary.append(self.describe_change(change))
        return change

    def change_values(
        self, prefix: str, given: Mapping[str, Any], row: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        check = self.errors.check
        before = len(self.errors)
        values: dict[str, Any] = {}
        if "capacity" in given:
            values["capacity"] = check(prefix + "capacity", _capacity, given["capacity"])
        if "status" in given:
            if given["status"] in PARTNER_STATUSES:
                values["status"] = given["status"]
            else:
                self.errors[prefix + "status"] = "Choose active, paused or suspended."
        for key, field in (("territory_add", "added"), ("territory_remove", "removed")):
            if key in given:
                tid = check(prefix + key, _known, given[key], self.territories, CHOOSE_TERRITORY)
                values[f"territories_{field}"] = frozenset({tid})
        if "product_add" in given:
            field = prefix + "product_add"
            product = check(field, _known, given["product_add"], self.products, CHOOSE_PRODUCT)
            level = check(field, certification, row.get("product_certification") or 0)
            values["products_added"] = {product: level}
        if "product_remove" in given:
            product = check(
                prefix + "product_remove", _known, given["product_remove"], self.products,
                CHOOSE_PRODUCT,
            )  # fmt: skip
            values["products_removed"] = frozenset({product})
        return values if len(self.errors) == before else None

    def describe_change(self, change: PartnerChange) -> str:
        partner = self.partners[change.partner_id]
        parts = []
        if change.capacity is not None:
            parts.append(f"capacity {partner.capacity} → {change.capacity}")
        if change.status is not None:
            parts.append(f"status {partner.status} → {change.status}")
        for tid in sorted(change.territories_added):
            parts.append(f"adds territory {self.territories[tid].name}")
        for tid in sorted(change.territories_removed):
            parts.append(f"drops territory {self.territories[tid].name}")
        for product, level in sorted(change.products_added.items()):
            parts.append(f"sells {self.products[product]} ({CERTIFICATION_LEVELS[level]})")
        for product in sorted(change.products_removed):
            parts.append(f"stops selling {self.products[product]}")
        return f"{partner.name}: " + "; ".join(parts) + "."

    # Segment rule ---------------------------------------------------------------------------

    def segment_change(self, raw: Mapping[str, Any]) -> tuple[SegmentChange, ...]:
        action = str(raw.get("action") or "").strip()
        if not action:
            return ()
        existing = {s.name.lower(): s for s in self.config.segments}
        rule_name = self.errors.check("segment-name", name, raw.get("name"), 80)
        if action == "remove":
            if rule_name is not None and rule_name.lower() not in existing:
                self.errors["segment-name"] = "No segment rule has this name."
                return ()
            if rule_name is None:
                return ()
            self.summary.append(f"Segment rule '{existing[rule_name.lower()].name}' removed.")
            return (SegmentChange(rule_name, None),)
        if action != "set":
            self.errors["segment-action"] = "Choose to add or change a rule, or to remove one."
            return ()
        segment, tier_name = self.segment(raw, rule_name)
        if segment is None or rule_name is None:
            return ()
        verb = "changed" if rule_name.lower() in existing else "added"
        words = describe_segment(segment, tier_name, money.format_money)
        self.summary.append(f"Segment rule '{rule_name}' {verb}: {words}.")
        return (SegmentChange(rule_name, segment),)

    def segment(
        self, raw: Mapping[str, Any], rule_name: str | None
    ) -> tuple[Segment | None, str | None]:
        errors = _Errors()
        values = _clean_range(errors, raw)
        requirement, tier = _clean_requirement(errors, raw)
        if not errors and rule_name is not None:
            segment = Segment(
                rule_name,
                values["basis"],
                values["min_value"],
                values["max_value"],
                values["currency"],
                tier.rank if tier is not None else None,
                requirement["min_certification"],
            )
            others = [s for s in self.config.segments if s.name.lower() != rule_name.lower()]
            clash = first_overlap(segment, others)
            if clash is None:
                return segment, tier.name if tier is not None else None
            words = describe_range(clash, money.format_money)
            errors["min_value"] = f"Overlaps '{clash.name}' ({words}). Narrow one of the two."
        for field, message in errors.items():
            self.errors.setdefault(f"segment-{field}", message)
        return None, None


def clean_draft(raw: Mapping[str, Any], config: RoutingConfig) -> DraftParts:
    """The draft the form's values describe, checked against the tenant's configuration."""
    cleaner = _Cleaner(config)
    draft = Draft(
        weights=cleaner.weights(raw),
        fallback=cleaner.fallback(raw),
        partners=cleaner.partner_changes(raw.get("changes") or ()),
        segments=cleaner.segment_change(raw.get("segment") or {}),
    )
    if cleaner.errors:
        raise ValidationFailed(dict(cleaner.errors))
    return DraftParts(draft, cleaner.summary or ["Nothing changed: the current configuration."])
