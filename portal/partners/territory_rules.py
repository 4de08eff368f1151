"""Territories in words: their order of specificity, codes and names, descriptions.

Pure Python over pycountry: no Flask, no ORM, tested with plain asserts.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence

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
# Each kind of territory has codes of its own shape, so a code says what it is.
# ISO 3166-2 codes are a country, "-" and one to three letters or digits (FR-69, NP-P1, DE-BY),
# so postal prefixes cannot be "FR-69" nor even "FR-P69"; the second "-" after "PC" keeps
# theirs out of that shape for any prefix.
POSTAL_MARK = "PC"
_SUBDIVISION_SHAPE = re.compile(r"^([A-Z]{2})-[A-Z0-9]{1,3}$")
_POSTAL_SHAPE = re.compile(rf"^[A-Z]{{2}}-{POSTAL_MARK}-")


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
    """The code a territory gets when none is given: DE, DE-BY, DE-PC-80, GLOBAL; a region none."""
    if kind == "global":
        return "GLOBAL"
    if kind == "country":
        return country
    if kind == "subdivision":
        return subdivision
    if kind == "postal" and country and postal_prefix:
        return postal_code(country, postal_prefix)
    return None


def postal_code(country: str, postal_prefix: str) -> str:
    """The default code of a postal prefix, e.g. DE-PC-80; "SW1A 1" in GB gives GB-PC-SW1A-1."""
    # Codes have no spaces.
    return f"{country}-{POSTAL_MARK}-{'-'.join(postal_prefix.split())}"


def legacy_postal_code(country: str, postal_prefix: str) -> str:
    """The code postal prefixes got before DE-PC-80: DE-80, which reads like ISO 3166-2."""
    return f"{country}-{'-'.join(postal_prefix.split())}"


def legacy_postal_aliases(
    postal: Iterable[tuple[str, str | None, str | None]], codes: Collection[str]
) -> dict[str, str]:
    """Old-style codes (DE-80) to the default codes that replaced them (DE-PC-80)."""
    # postal holds (code, country, prefix) of each postal territory; only those with the new
    # default code had the old one. An old code that is some territory's code today means
    # that territory, not an alias.
    aliases = {}
    for code, country, prefix in postal:
        if country and prefix and code == postal_code(country, prefix):
            aliases[legacy_postal_code(country, prefix)] = code
    return {old: new for old, new in aliases.items() if old not in codes}


def code_clash(
    kind: str,
    code: str,
    country: str | None,
    subdivision: str | None,
    postal_prefix: str | None,
) -> str | None:
    """Why a code would read as a territory of another kind or place; None if it reads right."""
    own = default_code(kind, country, subdivision, postal_prefix)
    clash = (
        _country_clash(kind, code, country)
        or _subdivision_clash(kind, code, subdivision)
        or _postal_clash(code, own)
    )
    if clash is None:
        return None
    if own and own != code:
        return f"{clash} Leave the code empty to use {own}, or choose another."
    return f"{clash} Choose another."


def _country_clash(kind: str, code: str, country: str | None) -> str | None:
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        return None
    if kind == "country" and code == country:
        return None
    return f"{code} is the ISO 3166-1 code of {country_name(code)}; only that country can have it."


def _subdivision_clash(kind: str, code: str, subdivision: str | None) -> str | None:
    shape = _SUBDIVISION_SHAPE.match(code)
    if shape is None or pycountry.countries.get(alpha_2=shape.group(1)) is None:
        return None
    if kind == "subdivision" and code == subdivision:
        return None
    found = pycountry.subdivisions.get(code=code)
    if found is not None:
        return f"{code} is the ISO 3166-2 code of {found.name}; only that subdivision can have it."
    return f"{code} looks like an ISO 3166-2 code, which only a subdivision can have."


def _postal_clash(code: str, own: str | None) -> str | None:
    if not _POSTAL_SHAPE.match(code) or code == own:
        return None
    prefix, country = code[len("XX-PC-") :], country_name(code[:2])
    place = f"postal codes starting {prefix} in {country}"
    return f"{code} is the code of {place}; only that prefix can have it."


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
