"""The base of every form: CSRF from Flask-WTF, and service errors shown at their fields."""

from __future__ import annotations

from flask_wtf import FlaskForm

from portal.errors import ValidationFailed


class PortalForm(FlaskForm):
    form_errors: list[str]

    def attach_errors(self, exc: ValidationFailed) -> None:
        """Show each of a service's messages next to its field, or above the form."""
        self.form_errors = getattr(self, "form_errors", [])
        for name, message in exc.errors.items():
            field = self._fields.get(name)
            if field is None:
                self.form_errors.append(message)
            else:
                field.errors = [*field.errors, message]
        self._errors = None  # WTForms caches form.errors; let it see the new messages
