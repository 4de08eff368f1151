"""Qualification criteria in plain rules and plain words: profile and engagement rules,
the MQL threshold, the fields a lead needs before it is offered, rejection reason codes.

Pure: imports only the standard library, so it is tested with no app and no database.
Services turn ORM rows into the frozen values below and back. Whether a country code
exists is checked by the caller (portal.partners.validation.country_list); this module
checks only that each code is two letters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

MIN_POINTS, MAX_POINTS = -100, 100
MAX_THRESHOLD = 1000
MAX_DECAY_DAYS = 365
MAX_EMPLOYEES = 10_000_000
MINUS = "\u2212"  # a real minus sign, so negative points read as a number and not a dash

# field -> the one operator it takes
PROFILE_OPERATORS = {
    "industry": "in",
    "employees": "between",
    "job_title": "contains",
    "country": "in",
}
PROFILE_FIELD_LABELS = {
    "industry": "Industry is one of",
    "employees": "Employees between",
    "job_title": "Job title contains",
    "country": "Country is one of",
}
# The longest value each text field of a lead holds.
_VALUE_LENGTHS = {"industry": 80, "job_title": 120}

BANT_FIELDS = ("budget", "authority", "need", "timeline")
# field -> how a person names it; in the order the settings page offers them
REQUIRABLE_FIELDS = {
    "budget": "budget",
    "authority": "authority",
    "need": "need",
    "timeline": "timeline",
    "company_domain": "company domain",
    "contact_email": "contact e-mail",
    "contact_phone": "contact phone",
    "job_title": "job title",
    "employees": "employee count",
    "country": "country",
    "postal_code": "postal code",
    "product": "product",
}

_CODE = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class InvalidRule(ValueError):
    """A rule or setting that breaks its rule; part names the input it concerns."""

    def __init__(self, message: str, part: str = "values") -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class ProfileRule:
    """Points when a lead field meets a condition; values is a tuple of strings or (low, high)."""

    field: str
    operator: str
    values: tuple[object, ...]
    points: int


@dataclass(frozen=True)
class EngagementRuleSpec:
    """Points per activity of a type, fading linearly to nothing over decay_days if set."""

    activity_type: str
    points: int
    decay_days: int | None


# Validation ---------------------------------------------------------------------------------


def _whole_number(raw: object, message: str, part: str) -> int:
    if isinstance(raw, bool):
        raise InvalidRule(message, part)
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        raise InvalidRule(message, part) from None


def rule_points(raw: object, part: str = "points") -> int:
    """Points of a rule: a whole number from -100 to 100, not 0."""
    value = _whole_number(raw, "Give the points as a whole number, for example 10 or -20.", part)
    if value == 0:
        raise InvalidRule("A rule of 0 points changes nothing; give a number other than 0.", part)
    if not MIN_POINTS <= value <= MAX_POINTS:
        raise InvalidRule(f"Use points from {MIN_POINTS} to {MAX_POINTS}.", part)
    return value


def _text_list(raw: str | Iterable[object]) -> list[str]:
    parts = re.split(r"[,;\n]+", raw) if isinstance(raw, str) else [str(p) for p in raw]
    seen: dict[str, str] = {}
    for part in parts:
        value = " ".join(part.split())
        if value and value.casefold() not in seen:
            seen[value.casefold()] = value
    return list(seen.values())


def _words(field: str, raw: str | Iterable[object]) -> tuple[str, ...]:
    values = _text_list(raw)
    if not values:
        example = "Banking, Insurance" if field == "industry" else "CIO, IT director"
        raise InvalidRule(f"Give at least one value, separated by commas (for example {example}).")
    limit = _VALUE_LENGTHS[field]
    if any(len(v) > limit for v in values):
        raise InvalidRule(f"Each value has at most {limit} characters.")
    return tuple(values)


def _countries(raw: str | Iterable[object]) -> tuple[str, ...]:
    parts = re.split(r"[\s,;]+", raw) if isinstance(raw, str) else [str(p) for p in raw]
    codes = sorted({p.strip().upper() for p in parts if p.strip()})
    if not codes:
        raise InvalidRule("Name at least one country (for example DE, AT, CH).")
    bad = [c for c in codes if not _COUNTRY.match(c)]
    if bad:
        raise InvalidRule(f"{bad[0]!r} is not an ISO 3166-1 country code (for example DE).")
    return tuple(codes)


def _bound(raw: object, part: str) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    value = _whole_number(raw, "Give a whole number of employees, or leave it empty.", part)
    if value < 0:
        raise InvalidRule("A number of employees cannot be negative.", part)
    if value > MAX_EMPLOYEES:
        raise InvalidRule(f"Use at most {MAX_EMPLOYEES:,} employees.", part)
    return value


def _employee_range(raw: Sequence[object]) -> tuple[int | None, int | None]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) != 2:
        raise InvalidRule("Give the range as a low and a high number of employees.", "low")
    low, high = _bound(raw[0], "low"), _bound(raw[1], "high")
    if low is None and high is None:
        raise InvalidRule("Give a low number, a high number, or both.", "low")
    if low is not None and high is not None and low > high:
        raise InvalidRule("The high number must not be below the low number.", "high")
    return low, high


def rule_values(field: str, operator: str, raw: object) -> tuple[object, ...]:
    """The canonical values of a profile rule on this field, or InvalidRule."""
    if field not in PROFILE_OPERATORS:
        raise InvalidRule("Choose one of the lead fields offered.", "field")
    if operator != PROFILE_OPERATORS[field]:
        label = PROFILE_FIELD_LABELS[field]
        raise InvalidRule(f"This field takes one test only: {label.lower()}.", "field")
    if field == "employees":
        return _employee_range(raw)  # type: ignore[arg-type]
    if field == "country":
        return _countries(raw)  # type: ignore[arg-type]
    return _words(field, raw)  # type: ignore[arg-type]


def profile_rule(field: str, operator: str, raw_values: object, points: object) -> ProfileRule:
    """A valid profile rule from raw input, or InvalidRule naming the first problem."""
    values = rule_values(field, operator, raw_values)
    return ProfileRule(field, operator, values, rule_points(points))


def code_name(raw: object, part: str, example: str = "webinar_attended") -> str:
    """A code-like name: lower-case letters, digits and '_', at most 40; spaces become '_'."""
    value = re.sub(r"[\s-]+", "_", str(raw or "").strip().lower())
    if not _CODE.match(value):
        raise InvalidRule(
            f"Use 1 to 40 lower-case letters, digits or '_', for example {example}.", part
        )
    return value


def decay_days(raw: object) -> int | None:
    """Days over which an activity's points fade to nothing; empty means they never fade."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    value = _whole_number(raw, "Give a whole number of days, or leave it empty.", "decay_days")
    if not 1 <= value <= MAX_DECAY_DAYS:
        raise InvalidRule(f"Use 1 to {MAX_DECAY_DAYS} days, or leave it empty.", "decay_days")
    return value


def engagement_rule(activity_type: object, points: object, decay: object) -> EngagementRuleSpec:
    """A valid engagement rule from raw input, or InvalidRule naming the first problem."""
    return EngagementRuleSpec(
        code_name(activity_type, "activity_type"), rule_points(points), decay_days(decay)
    )


def mql_threshold(raw: object) -> int:
    """The score at which a lead becomes an MQL: a whole number from 0 to 1000."""
    value = _whole_number(raw, "Give the threshold as a whole number of points.", "mql_threshold")
    if not 0 <= value <= MAX_THRESHOLD:
        raise InvalidRule(f"Use a threshold from 0 to {MAX_THRESHOLD} points.", "mql_threshold")
    return value


def required_fields(raw: Iterable[object]) -> list[str]:
    """The fields a lead must have before it is offered, in the catalogue's order."""
    chosen = {str(f) for f in raw}
    unknown = sorted(chosen - REQUIRABLE_FIELDS.keys())
    if unknown:
        raise InvalidRule(f"{unknown[0]!r} is not a field that can be required.", "required_fields")
    return [f for f in REQUIRABLE_FIELDS if f in chosen]


# Matching -----------------------------------------------------------------------------------


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _whole_words(phrase: str) -> re.Pattern[str]:
    # Whole words only, so "CIO" matches "Group CIO" but not "Sociologist".
    return re.compile(r"(?<!\w)" + re.escape(" ".join(phrase.casefold().split())) + r"(?!\w)")


def rule_matcher(rule: ProfileRule) -> Callable[[Mapping[str, object]], bool]:
    """rule_matches for one rule, its words and patterns prepared once for many leads."""
    field = rule.field
    if rule.operator == "between":

        def between(lead_values: Mapping[str, object]) -> bool:
            value = lead_values.get(field)
            if value is None:
                return False
            number = _as_int(value)
            low, high = rule.values
            return (
                number is not None
                and (low is None or number >= low)  # type: ignore[operator]
                and (high is None or number <= high)  # type: ignore[operator]
            )

        return between
    if rule.operator == "contains":
        patterns = [_whole_words(str(word)) for word in rule.values]
        return lambda lead_values: _text_matches(lead_values.get(field), patterns)
    if rule.operator == "in":
        wanted = {str(v).casefold() for v in rule.values}
        return lambda lead_values: _one_of_values(lead_values.get(field), wanted)
    return lambda lead_values: False


def _text_matches(value: object, patterns: Sequence[re.Pattern[str]]) -> bool:
    if not isinstance(value, str):
        return False
    text = " ".join(value.casefold().split())
    return any(pattern.search(text) for pattern in patterns)


def _one_of_values(value: object, wanted: set[str]) -> bool:
    return isinstance(value, str) and value.strip().casefold() in wanted


def rule_matches(rule: ProfileRule, lead_values: Mapping[str, object]) -> bool:
    """Whether a lead with these field values earns the rule's points; missing never matches."""
    return rule_matcher(rule)(lead_values)


# Plain words --------------------------------------------------------------------------------


def describe_points(points: int) -> str:
    """Signed points with a real minus sign: +10 points, \u221220 points, +1 point."""
    sign = "+" if points >= 0 else MINUS
    return f"{sign}{abs(points)} point{'' if abs(points) == 1 else 's'}"


def _one_of(values: Sequence[str], joiner: str = "one of") -> str:
    return values[0] if len(values) == 1 else f"{joiner} {', '.join(values)}"


def _either(values: Sequence[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _employees(values: Sequence[object]) -> str:
    low, high = [*values, None, None][:2]
    if low is not None and high is not None:
        if low == high:
            return f"{_count(low)} employee{'' if low == 1 else 's'}"
        return f"{_count(low)} to {_count(high)} employees"
    if low is not None:
        return f"at least {_count(low)} employees"
    if high is not None:
        return f"at most {_count(high)} employee{'' if high == 1 else 's'}"
    return "any number of employees"


def describe_condition(rule: ProfileRule, country_label: Callable[[str], str] = str) -> str:
    """The condition of a profile rule in words: the industry is one of Banking, Insurance."""
    values = [str(v) for v in rule.values]
    if rule.field == "employees" and rule.operator == "between":
        return f"the company has {_employees(rule.values)}"
    if rule.field == "job_title" and rule.operator == "contains":
        return f"the job title contains {_either(values)}"
    if rule.field == "country" and rule.operator == "in":
        return f"the country is {_one_of([country_label(v) for v in values])}"
    if rule.field == "industry" and rule.operator == "in":
        return f"the industry is {_one_of(values)}"
    return f"the {rule.field.replace('_', ' ')} {rule.operator} {', '.join(values)}"


def describe_profile_rule(rule: ProfileRule, country_label: Callable[[str], str] = str) -> str:
    """A profile rule in words: +10 points when the industry is one of Banking, Insurance."""
    return f"{describe_points(rule.points)} when {describe_condition(rule, country_label)}"


def activity_label(activity_type: str) -> str:
    """An activity type as words: webinar_attended reads webinar attended."""
    return " ".join(activity_type.replace("_", " ").split()) or activity_type


def describe_engagement_rule(rule: EngagementRuleSpec) -> str:
    """An engagement rule in words: +8 points per webinar attended, fading over 30 days."""
    words = f"{describe_points(rule.points)} per {activity_label(rule.activity_type)}"
    if rule.decay_days is None:
        return words
    days = f"{rule.decay_days} day{'' if rule.decay_days == 1 else 's'}"
    return f"{words}, fading to nothing over {days}"


def describe_qualification(threshold: int, fields: Sequence[str]) -> str:
    """The threshold and required fields in words, as the qualification page states them."""
    start = f"A lead becomes an MQL at {threshold} point{'' if threshold == 1 else 's'} or more"
    if not fields:
        return f"{start}; no field is required before it is offered."
    names = ", ".join(REQUIRABLE_FIELDS.get(f, f.replace("_", " ")) for f in fields)
    return f"{start}, once it has: {names}."
