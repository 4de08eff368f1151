"""Errors that services raise and views turn into field errors, 404s or 409s."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors a service raises on purpose."""


class ValidationFailed(ServiceError):
    """Input that breaks a rule, with the message for each field it concerns."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class NotFound(ServiceError):
    """No such object in the current tenant."""


class Conflict(ServiceError):
    """The object is not in a state that allows this change."""
