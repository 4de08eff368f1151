"""Use cases of territories. Each write commits its own transaction.

Territories decide which partner a lead can go to, so every change is audited
and bumps the tenant's configuration version (routing indexes rebuild on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal import audit
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.partners import territory_rules as rules
from portal.partners import validation
from portal.partners.models import PartnerTerritory, Territory
from portal.partners.service_checks import (
    check,
    count_rows,
    coverage_counts,
    partners_cover,
    required,
)
from portal.tenancy.services import note_config_change

TERRITORIES_PER_PAGE = 100
BLANK_PLACE: dict[str, Any] = {
    "country": None,
    "subdivision": None,
    "postal_prefix": None,
    "region_countries": [],
}


# Territories ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TerritoryRow:
    """A territory in words, with the number of partners covering it."""

    territory: Territory
    description: str
    partners: int


@dataclass(frozen=True)
class TerritoryGroup:
    kind: str
    title: str
    rows: list[TerritoryRow]


@dataclass(frozen=True)
class TerritoryListing:
    """One page of the territory list, grouped by kind, and the country filter it used."""

    page: Any
    groups: list[TerritoryGroup]
    country: str | None
    country_error: str | None
    countries: list[tuple[str, str]]

    @property
    def country_name(self) -> str:
        return rules.country_name(self.country)


def describe_territory(territory: Territory) -> str:
    """A territory in one plain sentence, e.g. "Postal codes starting 80 in Germany"."""
    return rules.describe(
        kind=territory.kind,
        name=territory.name,
        country=territory.country,
        subdivision=territory.subdivision,
        postal_prefix=territory.postal_prefix,
        region_countries=territory.region_countries or [],
    )


def _by_specificity() -> tuple[Any, Any]:
    order = sa.case({kind: n for n, kind in enumerate(rules.KINDS)}, value=Territory.kind)
    return order, Territory.code


def territory_choices() -> list[Territory]:
    """Every territory, from global to postal prefixes (broadest kind first), then by code."""
    return list(db.session.scalars(sa.select(Territory).order_by(*_by_specificity())))


def _country_filter(raw: str | None) -> tuple[str | None, str | None]:
    if not (raw or "").strip():
        return None, None
    try:
        return validation.country(raw or ""), None
    except validation.InvalidValue as exc:
        return None, str(exc)


def _includes_part_of(country: str) -> Any:
    """Territories with places in the country: global, regions naming it, and its own."""
    # JSON lists are stored as text like ["AT", "DE"] on both backends; the code is validated.
    listed = sa.cast(Territory.region_countries, sa.Text).like(f'%"{country}"%')
    return sa.or_(
        Territory.kind == "global",
        Territory.country == country,
        sa.and_(Territory.kind == "region", listed),
    )


def _grouped(rows: list[TerritoryRow]) -> list[TerritoryGroup]:
    groups = []
    for kind in rules.KINDS:
        members = [row for row in rows if row.territory.kind == kind]
        if members:
            groups.append(TerritoryGroup(kind, rules.GROUP_TITLES[kind], members))
    return groups


def countries_in_use() -> list[tuple[str, str]]:
    """(code, name) of every country the territories name, by name: the filter's options."""
    rows = db.session.execute(sa.select(Territory.country, Territory.region_countries)).all()
    codes = {code for country, listed in rows for code in [country, *(listed or [])] if code}
    return sorted(((code, rules.country_name(code)) for code in codes), key=lambda p: p[1])


def territory_listing(page: int, country: str | None = None) -> TerritoryListing:
    """One page of territories grouped by kind, optionally only those with places in a country."""
    code, error = _country_filter(country)
    query = sa.select(Territory).order_by(*_by_specificity())
    if code:
        query = query.where(_includes_part_of(code))
    result = db.paginate(query, page=page, per_page=TERRITORIES_PER_PAGE, error_out=False)
    counts = coverage_counts(PartnerTerritory.territory_id, [t.id for t in result.items])
    rows = [TerritoryRow(t, describe_territory(t), counts.get(t.id, 0)) for t in result.items]
    return TerritoryListing(result, _grouped(rows), code, error, countries_in_use())


def get_territory(territory_id: int) -> Territory:
    territory = db.session.get(Territory, territory_id)
    if territory is None:
        raise NotFound("no such territory")
    return territory


def territory_form_data(territory: Territory) -> dict[str, Any]:
    """A territory's values as its form shows them."""
    return {
        "kind": territory.kind,
        "code": territory.code,
        "name": territory.name,
        "country": territory.country or "",
        "subdivision": territory.subdivision or "",
        "postal_prefix": territory.postal_prefix or "",
        "region_countries": ", ".join(territory.region_countries or []),
    }


def _subdivision_place(data: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """A subdivision, within the country if one is given; else the country is its own."""
    raw_country = str(data.get("country") or "").strip()
    country = check(errors, "country", validation.country, raw_country) if raw_country else None
    subdivision = required(
        errors,
        "subdivision",
        "Enter the ISO 3166-2 code, for example DE-BY.",
        lambda raw: validation.subdivision(raw, country),
        data.get("subdivision"),
    )
    if subdivision and not country and not raw_country:
        country = subdivision.split("-")[0]
    return {"country": country, "subdivision": subdivision}


def _place_values(kind: str, data: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The place fields this kind needs, validated; the others are cleared."""
    place = dict(BLANK_PLACE)
    if kind == "region":
        place["region_countries"] = (
            check(
                errors,
                "region_countries",
                validation.country_list,
                data.get("region_countries") or "",
            )
            or []
        )
    elif kind == "subdivision":
        place.update(_subdivision_place(data, errors))
    elif kind in ("country", "postal"):
        place["country"] = required(
            errors,
            "country",
            "Enter the country's ISO code, for example DE.",
            validation.country,
            data.get("country"),
        )
    if kind == "postal":
        place["postal_prefix"] = required(
            errors,
            "postal_prefix",
            "Enter the start of the postal codes, for example 80.",
            validation.postal_prefix,
            data.get("postal_prefix"),
        )
    return place


def _code_value(kind: str, raw: Any, place: dict[str, Any], errors: dict[str, str]) -> Any:
    """The given code, or the kind's default; refused if it reads as another territory."""
    if str(raw or "").strip():
        code = check(errors, "code", validation.code, raw)
    else:
        code = rules.default_code(
            kind, place["country"], place["subdivision"], place["postal_prefix"]
        )
    if kind == "region" and not code and "code" not in errors:
        errors["code"] = "Give the region a code, for example DACH or EMEA."
    if code and "code" not in errors:
        clash = rules.code_clash(
            kind, code, place["country"], place["subdivision"], place["postal_prefix"]
        )
        if clash:
            errors["code"] = clash
    return code


def _name_value(
    kind: str, raw: Any, code: Any, place: dict[str, Any], errors: dict[str, str]
) -> Any:
    if str(raw or "").strip():
        return check(errors, "name", validation.name, raw, 120)
    return rules.default_name(
        kind, code, place["country"], place["subdivision"], place["postal_prefix"]
    )


def _same_place(values: dict[str, Any]) -> tuple[str, Any] | None:
    """The field to blame and the test for a territory that is this place already."""
    kind = values["kind"]
    if kind == "global":
        return "kind", Territory.kind == "global"
    if kind == "country":
        return "country", sa.and_(Territory.kind == kind, Territory.country == values["country"])
    if kind == "subdivision":
        same = Territory.subdivision == values["subdivision"]
        return "subdivision", sa.and_(Territory.kind == kind, same)
    if kind == "postal":
        same = sa.and_(
            Territory.country == values["country"],
            Territory.postal_prefix == values["postal_prefix"],
        )
        return "postal_prefix", sa.and_(Territory.kind == kind, same)
    return None


def _check_unique(values: dict[str, Any], territory_id: int | None, errors: dict[str, str]) -> None:
    others = sa.select(Territory).limit(1)
    if territory_id is not None:
        others = others.where(Territory.id != territory_id)
    if db.session.scalar(others.where(Territory.code == values["code"])):
        errors["code"] = f"A territory with code {values['code']} exists already; choose another."
    same = _same_place(values)
    twin = db.session.scalar(others.where(same[1])) if same else None
    if twin is not None and values["kind"] == "global":
        errors["kind"] = f"There is a global territory already ({twin.code}); one is enough."
    elif twin is not None:
        errors[same[0]] = f"{twin.code} is this territory already: {describe_territory(twin)}."


def _territory_values(data: dict[str, Any], territory_id: int | None) -> dict[str, Any]:
    """Validate a territory per kind; ValidationFailed names every bad field."""
    kind = data.get("kind")
    if kind not in rules.KINDS:
        raise ValidationFailed({"kind": "Choose global, region, country, subdivision or postal."})
    errors: dict[str, str] = {}
    place = _place_values(kind, data, errors)
    code = _code_value(kind, data.get("code"), place, errors)
    name = _name_value(kind, data.get("name"), code, place, errors)
    values = {"kind": kind, "code": code, "name": name, **place}
    if not errors:
        _check_unique(values, territory_id, errors)
    if errors:
        raise ValidationFailed(errors)
    return values


def create_territory(data: dict[str, Any], *, actor: Any) -> Territory:
    """Add a territory; code and name default from ISO 3166 where the kind allows."""
    values = _territory_values(data, None)
    territory = Territory(**values)
    db.session.add(territory)
    db.session.flush()
    audit.record(db.session, actor=actor, action="territory.created", obj=territory, changes=values)
    note_config_change()
    db.session.commit()
    return territory


def update_territory(territory_id: int, data: dict[str, Any], *, actor: Any) -> Territory:
    """Change a territory with the same checks as a new one; records what changed."""
    territory = get_territory(territory_id)
    changes = audit.apply_changes(territory, _territory_values(data, territory_id))
    if changes:
        audit.record(
            db.session, actor=actor, action="territory.updated", obj=territory, changes=changes
        )
        note_config_change()
    db.session.commit()
    return territory


def delete_territory(territory_id: int, *, actor: Any) -> Territory:
    """Delete a territory that no partner covers."""
    territory = get_territory(territory_id)
    partners = count_rows(PartnerTerritory.id, PartnerTerritory.territory_id == territory.id)
    if partners:
        raise Conflict(f"{partners_cover(partners)} {territory.code}; remove it from them first.")
    audit.record(
        db.session,
        actor=actor,
        action="territory.deleted",
        obj=territory,
        changes={"code": territory.code, "name": territory.name, "kind": territory.kind},
    )
    db.session.delete(territory)
    note_config_change()
    db.session.commit()
    return territory
