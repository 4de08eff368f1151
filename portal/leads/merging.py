"""Merging a duplicate into the lead it repeats: which fields differ, what the survivor keeps.

Fields that only make sense together (a deal size and its currency, the parts of an
address) are chosen together, so a merge never pairs an amount with another lead's
currency or a postal code with another country. Plain values in, plain values out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Side = Literal["survivor", "duplicate"]
SIDES: tuple[Side, ...] = ("survivor", "duplicate")

SAME_EMAIL = "same contact e-mail"
SAME_COMPANY = "same company and product"


@dataclass(frozen=True)
class FieldGroup:
    """What a channel manager chooses in one go, and the lead columns it covers."""

    key: str
    label: str
    columns: tuple[str, ...]


FIELD_GROUPS = (
    FieldGroup("company_name", "Company", ("company_name",)),
    FieldGroup("company_domain", "Company website", ("company_domain",)),
    FieldGroup("industry", "Industry", ("industry",)),
    FieldGroup("employees", "Employees", ("employees",)),
    FieldGroup("contact_name", "Contact name", ("contact_name",)),
    FieldGroup("contact_email", "Contact e-mail", ("contact_email",)),
    FieldGroup("contact_phone", "Contact phone", ("contact_phone",)),
    FieldGroup("job_title", "Job title", ("job_title",)),
    FieldGroup("location", "Location", ("country", "subdivision", "postal_code", "city")),
    FieldGroup("product", "Product", ("product_id",)),
    FieldGroup("deal", "Expected deal", ("deal_size_minor", "currency")),
    FieldGroup("bant", "Budget, authority, need, timeline", ("bant",)),
    FieldGroup("source", "Source", ("source",)),
    FieldGroup("campaign", "Campaign", ("campaign",)),
)
GROUPS_BY_KEY = {group.key: group for group in FIELD_GROUPS}
COLUMNS = tuple(column for group in FIELD_GROUPS for column in group.columns)


class BadChoices(ValueError):
    """Choices that name no field, or no side; errors maps each bad key to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _empty(value: Any) -> bool:
    if isinstance(value, Mapping):
        return all(_empty(v) for v in value.values())
    return value is None or value == ""


def _part(group: FieldGroup, lead: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(lead.get(column) for column in group.columns)


def differs(group: FieldGroup, survivor: Mapping[str, Any], duplicate: Mapping[str, Any]) -> bool:
    """Whether the two leads hold different values in this group."""
    return _part(group, survivor) != _part(group, duplicate)


def default_side(
    group: FieldGroup, survivor: Mapping[str, Any], duplicate: Mapping[str, Any]
) -> Side:
    """The survivor's value, unless it has none there and the duplicate has one."""
    if all(_empty(v) for v in _part(group, survivor)) and not all(
        _empty(v) for v in _part(group, duplicate)
    ):
        return "duplicate"
    return "survivor"


def merged_values(
    survivor: Mapping[str, Any], duplicate: Mapping[str, Any], choices: Mapping[str, str]
) -> dict[str, Any]:
    """The survivor's columns after the merge; a group not chosen takes its default side.

    BadChoices names every choice of an unknown field or side.
    """
    errors = {
        key: f"There is no field {key[:40]!r} to merge."
        for key in choices
        if key not in GROUPS_BY_KEY
    }
    errors.update(
        {
            key: f"Choose which lead's {GROUPS_BY_KEY[key].label.lower()} to keep."
            for key, side in choices.items()
            if key in GROUPS_BY_KEY and side not in SIDES
        }
    )
    if errors:
        raise BadChoices(errors)
    values: dict[str, Any] = {}
    for group in FIELD_GROUPS:
        side = choices.get(group.key) or default_side(group, survivor, duplicate)
        source = duplicate if side == "duplicate" else survivor
        values.update({column: source.get(column) for column in group.columns})
    return values


def flag_reasons(
    flagged: Mapping[str, Any], original: Mapping[str, Any], window: timedelta
) -> tuple[str, ...]:
    """Why intake took the flagged lead for a duplicate of the original, as their values say now."""
    reasons = []
    email = flagged.get("contact_email")
    if email and email == original.get("contact_email"):
        reasons.append(SAME_EMAIL)
    if _same_company(flagged, original, window):
        reasons.append(SAME_COMPANY)
    return tuple(reasons)


def _same_company(
    flagged: Mapping[str, Any], original: Mapping[str, Any], window: timedelta
) -> bool:
    domain, product = flagged.get("company_domain"), flagged.get("product_id")
    if not (domain and product):
        return False
    if (domain, product) != (original.get("company_domain"), original.get("product_id")):
        return False
    taken_in: datetime | None = flagged.get("created_at")
    earlier: datetime | None = original.get("created_at")
    return taken_in is None or earlier is None or earlier >= taken_in - window
