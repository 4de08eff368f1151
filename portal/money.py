"""Money as people type and read it (major units) and as it is stored (integer minor units).

Amounts are parsed with Decimal, never float; a currency's exponent comes from babel's
CLDR data (EUR 2, JPY 0, BHD 3). No Flask, no ORM.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import format_currency, get_currency_name, get_currency_precision
from babel.numbers import list_currencies as _babel_currencies

from portal.partners.validation import InvalidValue

LOCALE = "en_GB"
# Far below the 64-bit column limit, far above any deal a lead can promise.
MAX_MINOR = 10**15
# "50000", "50,000", "50000.50", "50,000.50": comma groups thousands, the point is decimal.
_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(_babel_currencies())


def currency_code(raw: str | None) -> str:
    """An ISO 4217 currency code that babel knows, in upper case."""
    value = (raw or "").strip().upper()
    if not value:
        raise InvalidValue("Give the currency of the deal sizes (for example EUR, USD).")
    if value not in _currencies():
        raise InvalidValue(f"{raw.strip()!r} is not an ISO 4217 currency code (for example EUR).")
    return value


def currency_name(code: str) -> str:
    return get_currency_name(code, locale=LOCALE)


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has."""
    return get_currency_precision(currency)


def parse_amount(raw: str | None) -> Decimal:
    """An amount in major units as typed ('50000' or '50,000.50'); not negative."""
    value = "".join((raw or "").split())
    if not value:
        raise InvalidValue("Give an amount, for example 50,000.")
    if value.startswith("-"):
        raise InvalidValue("An amount cannot be negative.")
    if not _AMOUNT.match(value):
        raise InvalidValue("Give an amount in digits, for example 50000 or 50,000.50.")
    try:
        return Decimal(value.replace(",", ""))
    except InvalidOperation:  # the pattern above should make this unreachable
        raise InvalidValue("Give an amount in digits, for example 50,000.") from None


def to_minor(amount: Decimal, currency: str) -> int:
    """The amount in integer minor units of the currency; refuses digits it does not have."""
    places = exponent(currency)
    minor = amount.scaleb(places)
    if minor != minor.to_integral_value():
        if places == 0:
            raise InvalidValue(f"{currency} has no minor unit: give a whole amount.")
        raise InvalidValue(f"{currency} amounts have at most {places} decimal places.")
    if minor > MAX_MINOR:
        raise InvalidValue("This amount is too large.")
    return int(minor)


def parse_major(raw: str | None, currency: str) -> int:
    """Typed major units straight to integer minor units."""
    return to_minor(parse_amount(raw), currency)


def to_major(minor: int, currency: str) -> Decimal:
    """Integer minor units back to an exact Decimal amount in major units."""
    return Decimal(minor).scaleb(-exponent(currency))


def format_money(minor: int, currency: str) -> str:
    """The amount for reading, with its currency: '€50,000', '€50,000.50', '¥5,000'."""
    amount = to_major(minor, currency)
    if amount == amount.to_integral_value():
        # Thresholds are mostly round numbers; '.00' on each would only be noise.
        return format_currency(
            amount, currency, format="¤#,##0", locale=LOCALE, currency_digits=False
        )
    return format_currency(amount, currency, locale=LOCALE)


def major_text(minor: int, currency: str) -> str:
    """The amount as a form shows it for editing: '50000' or '50000.50'."""
    amount = to_major(minor, currency)
    if amount == amount.to_integral_value():
        return str(int(amount))
    return f"{amount:.{exponent(currency)}f}"
