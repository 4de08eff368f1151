"""Forms of the partner's inbox and leads, and of a manager's actions on an offer.

The services check every value; the forms carry them and show the messages at fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length
from wtforms.widgets import DateInput, NumberInput

from portal.forms import PortalForm


class AcceptForm(PortalForm):
    """A button: the CSRF token is all it carries."""


class RejectForm(PortalForm):
    reason_code = SelectField("Reason", validate_choice=False)
    comment = TextAreaField("Comment", validators=[Length(max=1000)])
    # The reasons offered, kept so that the answer checks its reason against them, not
    # against a second read of the catalogue.
    reasons: Sequence[Any] | None = None

    def set_reasons(self, reasons: Sequence[Any]) -> None:
        self.reasons = reasons
        self.reason_code.choices = [SelectChoice("", "Choose a reason")] + [
            SelectChoice(
                r.code,
                r.label + (" (comment needed)" if r.comment_required else ""),
            )
            for r in reasons
        ]


class QualifyForm(PortalForm):
    amount = StringField("Expected amount")
    close_on = StringField("Expected close date", widget=DateInput())


class WinForm(PortalForm):
    amount = StringField("Amount won")
    close_on = StringField("Closed on", widget=DateInput())


class LoseForm(PortalForm):
    reason = StringField("Why it was lost", validators=[Length(max=200)])


class RecallForm(PortalForm):
    reason = TextAreaField("Why recall it", validators=[Length(max=500)])


class ExtendForm(PortalForm):
    hours = StringField("Hours to add", widget=NumberInput(min=1, max=720, step=1))
    reason = TextAreaField("Why", validators=[Length(max=500)])


class ReassignForm(PortalForm):
    partner_id = SelectField("Offer it instead to", validate_choice=False)
    reason = TextAreaField("Why", validators=[Length(max=500)])

    def set_partners(self, partners: list[object]) -> None:
        self.partner_id.choices = [SelectChoice("", "Choose a partner")] + [
            SelectChoice(str(p.id), p.name)  # type: ignore[attr-defined]
            for p in partners
        ]
