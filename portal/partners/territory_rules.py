"""Territories in words: their order of specificity, default codes and names, descriptions.

Pure Python over pycountry: no Flask, no ORM, tested with plain asserts.
"""

from __future__ import annotations

from collections.abc import Sequence

import pycountry

# From the broadest to the most specific; routing matches the other way round.
KINDS = ("global", "region", "country", "subdivision", "postal")
KIND_LABELS = {
    "global": "Global",
    "region": "Region (a group of countries)",
    "country": "Country",
    "subdivision": "Subdivision (state, province, ISO 3166-2)",
    "postal": "Postal-code prefix",
}
GROUP_TITLES = {
    "global": "Global",
    "region": "Regions",
    "country": "Countries",
    "subdivision": "Subdivisions",
    "postal": "Postal prefixes",
}
# Which form fields each kind needs; the others are cleared when a territory is saved.
PLACE_FIELDS = {
    "global": (),
    "region": ("region_countries",),
    "country": ("country",),
    "subdivision": ("country", "subdivision"),
    "postal": ("country", "postal_prefix"),
}
REGION_NAMES_SHOWN = 12


def specificity(kind: str) -> int:
    """0 for global up to 4 for a postal prefix; unknown kinds sort last."""
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def country_name(alpha_2: str | None) -> str:
    """The common English name of a country, or the code itself if pycountry does not know it."""
    found = pycountry.countries.get(alpha_2=alpha_2 or "")
    if found is None:
        return alpha_2 or ""
    return getattr(found, "common_name", None) or found.name


def subdivision_name(code: str | None) -> str:
    """The name of an ISO 3166-2 subdivision, or the code itself if unknown."""
    found = pycountry.subdivisions.get(code=code or "")
    return found.name if found else code or ""


def default_code(
    kind: str, country: str | None, subdivision: str | None, postal_prefix: str | None
) -> str | None:
    """The code a territory gets when none is given: DE, DE-BY, DE-80, GLOBAL; None for a region."""
    if kind == "global":
        return "GLOBAL"
    if kind == "country":
        return country
    if kind == "subdivision":
        return subdivision
    if kind == "postal" and country and postal_prefix:
        # Codes have no spaces; "SW1A 1" becomes "GB-SW1A-1".
        return f"{country}-{'-'.join(postal_prefix.split())}"
    return None


def default_name(
    kind: str,
    code: str | None,
    country: str | None,
    subdivision: str | None,
    postal_prefix: str | None,
) -> str | None:
    """The name a territory gets when none is given, in the words of ISO 3166."""
    if kind == "global":
        return "Global"
    if kind == "region":
        return code
    if kind == "country" and country:
        return country_name(country)
    if kind == "subdivision" and subdivision:
        return subdivision_name(subdivision)
    if kind == "postal" and country and postal_prefix:
        return f"{country_name(country)}, postal codes {postal_prefix}…"
    return None


def countries_in_words(codes: Sequence[str], limit: int = REGION_NAMES_SHOWN) -> str:
    """Country names by name, e.g. "Austria, Germany, Switzerland", shortened after limit."""
    names = sorted(country_name(c) for c in codes)
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def describe(
    *,
    kind: str,
    name: str,
    country: str | None = None,
    subdivision: str | None = None,
    postal_prefix: str | None = None,
    region_countries: Sequence[str] = (),
) -> str:
    """A territory in one plain sentence, e.g. "Postal codes starting 80 in Germany"."""
    if kind == "global":
        return "Every country in the world"
    if kind == "region":
        return f"Region {name}: {countries_in_words(region_countries) or 'no countries'}"
    if kind == "country":
        return f"All of {country_name(country)}"
    if kind == "subdivision":
        return f"{subdivision_name(subdivision)} ({subdivision}) in {country_name(country)}"
    if kind == "postal":
        return f"Postal codes starting {postal_prefix} in {country_name(country)}"
    return name
