"""Password policy and hashing: argon2id, 8 to 64 characters, common passwords refused."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 8
MAX_LENGTH = 64

# The testing profile keeps the suite fast; it is never chosen outside PORTAL_ENV=testing.
_PROFILES = {
    "strong": PasswordHasher(),
    "fast": PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1),
}


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problems(password: str, *, email: str = "") -> list[str]:
    """Every reason this password is refused; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in _common_passwords():
        problems.append("This password is one of the most common ones; choose another.")
    elif email and lowered == email.lower().split("@")[0]:
        problems.append("The password must not be your e-mail name.")
    return problems


def hash_password(password: str, profile: str = "strong") -> str:
    return _PROFILES[profile].hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Check a password against its hash; never raises for a wrong or malformed hash."""
    try:
        return _PROFILES["strong"].verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=2)
def dummy_hash(profile: str) -> str:
    """A hash to verify against when no account matches, so timing does not tell."""
    return hash_password("no-such-account-password", profile)
