"""The rules a lead must meet to be taken in: plain values in, clean values or field errors out.

The same rules serve the form, the API and CSV import, so a lead is refused for the same
reason whichever way it arrives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import email_validator
from email_validator import EmailNotValidError, validate_email

from portal import money
from portal.partners import validation as places

TEXT_LIMITS = {
    "external_id": 100, "source": 60, "campaign": 120, "company_name": 200,
    "industry": 80, "contact_name": 120, "contact_phone": 40, "job_title": 120, "city": 120,
}  # fmt: skip
BANT_KEYS = ("budget", "authority", "need", "timeline")
_BANT_KEY_SET = frozenset(BANT_KEYS)
MAX_EMPLOYEES = 10_000_000
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_POSTAL = re.compile(r"^[A-Z0-9][A-Z0-9 -]{0,11}$")
# A plain ASCII address: dot-atom local part (RFC 5322 atext), host name labels, and a last
# label that ends with a letter. Addresses like this are the bulk of every import.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_EMAIL = re.compile(
    rf"{_ATEXT}(?:\.{_ATEXT})*@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z0-9][A-Za-z0-9-]{0,61})?[A-Za-z])"
)
# A special-use domain name, or a name under one, as ends of "." + the domain.
_SPECIAL_USE_ENDINGS = tuple("." + name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)
# The longest address email_validator accepts; its domain is then within its 253 too.
_EMAIL_MAX = 254


# PostgreSQL text cannot hold U+0000, and no field of a lead means anything by it.
NUL = "\x00"
NUL_MESSAGE = "Remove the NUL character (U+0000); text cannot hold it."


class LeadProblems(ValueError):
    """Every field of the lead that breaks a rule, with its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def holds_nul(value: object) -> bool:
    """Whether the value, or any text inside it, holds a NUL character."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, Mapping):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(item) for item in value)
    return False


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    value = " ".join(str(raw).split())
    return value or None


def _email(raw: object) -> str | None:
    value = _text(raw)
    if value is None:
        return None
    plain = plain_email(value)
    if plain is not None:
        return plain
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise places.InvalidValue(str(exc)) from None


def plain_email(value: str) -> str | None:
    """The normalised form of a plainly valid ASCII address, or None to ask email_validator.

    email_validator takes some 60 microseconds an address; for the addresses matched here
    its answer is known (valid, the address in lower case), so they skip it. Whatever is
    unusual (Unicode, quotes, display names, Punycode or '--' labels, special-use names,
    lengths at the limits) returns None and gets the full check and its error messages.
    """
    match = _PLAIN_EMAIL.fullmatch(value) if len(value) <= _EMAIL_MAX else None
    if match is None:
        return None
    domain = match["domain"].lower()
    if "--" in domain or ("." + domain).endswith(_SPECIAL_USE_ENDINGS):
        return None
    return value.lower()


def _domain(raw: object) -> str | None:
    value = _text(raw)
    if value is None:
        return None
    value = value.lower().removeprefix("https://").removeprefix("http://").removeprefix("www.")
    value = value.rstrip("/")
    if not _DOMAIN.match(value):
        raise places.InvalidValue(f"{raw!r} is not a domain name (for example acme.example).")
    return value


def _employees(raw: object) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise places.InvalidValue("Give the number of employees as a whole number.")
    try:
        value = int(str(raw).replace(",", "").replace("_", "").strip())
    except ValueError:
        raise places.InvalidValue("Give the number of employees as a whole number.") from None
    if not 0 <= value <= MAX_EMPLOYEES:
        raise places.InvalidValue(f"Employees must be from 0 to {MAX_EMPLOYEES:,}.")
    return value


def _postal(raw: object) -> str | None:
    value = _text(raw)
    if value is None:
        return None
    value = value.upper()
    if not _POSTAL.match(value):
        raise places.InvalidValue("Use up to 12 letters, digits, spaces or '-'.")
    return value


def deal_size_minor(amount: object, currency: object) -> tuple[int | None, str | None]:
    """A deal size given in major units (text or number) as integer minor units and its code."""
    if amount is None or (isinstance(amount, str) and not amount.strip()):
        return None, None
    if isinstance(amount, bool):
        raise places.InvalidValue("Give the deal size as a number, for example 25000.")
    code = money.currency_code(_text(currency))
    text = repr(amount) if isinstance(amount, float) else str(amount)
    return money.parse_major(text, code), code


def _bant(raw: object) -> dict[str, object]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise places.InvalidValue("Give the BANT answers as budget, authority, need and timeline.")
    unknown = sorted(set(raw) - _BANT_KEY_SET)
    if unknown:
        raise places.InvalidValue("Unknown BANT answers: " + ", ".join(map(str, unknown)) + ".")
    answers = {}
    for key in BANT_KEYS:
        value = raw.get(key)
        if isinstance(value, str):
            value = _text(value)
            if value and len(value) > 200:
                raise places.InvalidValue(f"The {key} answer has more than 200 characters.")
        elif value is not None and not isinstance(value, bool):
            raise places.InvalidValue(f"The {key} answer must be yes, no or text.")
        if value is not None:
            answers[key] = value
    return answers


def clean_lead(data: Mapping[str, object]) -> dict[str, object]:
    """The lead's fields in canonical form; LeadProblems names every field that is wrong."""
    errors: dict[str, str] = {}

    def take(field: str, rule: object, *args: object) -> object:
        try:
            return rule(*args)  # type: ignore[operator]
        except places.InvalidValue as exc:
            errors[field] = str(exc)
            return None

    clean: dict[str, object] = {}
    for field, limit in TEXT_LIMITS.items():
        value = _text(data.get(field))
        if value is not None and len(value) > limit:
            errors[field] = f"Use at most {limit} characters."
        clean[field] = value
    if not clean["company_name"]:
        errors["company_name"] = "Give the company's name."
    clean["contact_email"] = take("contact_email", _email, data.get("contact_email"))
    clean["company_domain"] = take("company_domain", _domain, data.get("company_domain"))
    if not clean["company_domain"] and clean["contact_email"]:
        clean["company_domain"] = str(clean["contact_email"]).split("@", 1)[1]
    clean["employees"] = take("employees", _employees, data.get("employees"))
    clean.update(_place(data, errors))
    deal = take("deal_size", deal_size_minor, data.get("deal_size"), data.get("currency"))
    clean["deal_size_minor"], clean["currency"] = deal if deal else (None, None)
    clean["bant"] = take("bant", _bant, data.get("bant")) or {}
    errors.update({field: NUL_MESSAGE for field, value in data.items() if holds_nul(value)})
    if errors:
        raise LeadProblems(errors)
    return clean


def _place(data: Mapping[str, object], errors: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = {"country": None, "subdivision": None}
    country, subdivision = _text(data.get("country")), _text(data.get("subdivision"))
    try:
        out["country"] = places.country(country) if country else None
    except places.InvalidValue as exc:
        errors["country"] = str(exc)
    if subdivision:
        try:
            out["subdivision"] = places.subdivision(subdivision, out["country"])
            out["country"] = out["country"] or str(out["subdivision"])[:2]
        except places.InvalidValue as exc:
            errors["subdivision"] = str(exc)
    try:
        out["postal_code"] = _postal(data.get("postal_code"))
    except places.InvalidValue as exc:
        errors["postal_code"] = str(exc)
    return out
