"""The form for entering one lead by hand, and the forms that resolve a duplicate flag."""

from __future__ import annotations

from collections.abc import Mapping

from wtforms import EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from portal.errors import ValidationFailed
from portal.forms import PortalForm
from portal.leads.merging import GROUPS_BY_KEY

_ANSWERS = [SelectChoice("", "Not known"), SelectChoice("yes", "Yes"), SelectChoice("no", "No")]


class LeadForm(PortalForm):
    company_name = StringField(
        "Company", validators=[DataRequired("Give the company's name."), Length(max=200)]
    )
    company_domain = StringField("Company website", validators=[Optional(), Length(max=253)])
    industry = StringField("Industry", validators=[Optional(), Length(max=80)])
    employees = StringField("Employees", validators=[Optional(), Length(max=12)])
    contact_name = StringField("Contact name", validators=[Optional(), Length(max=120)])
    contact_email = EmailField("Contact e-mail", validators=[Optional(), Length(max=254)])
    contact_phone = StringField("Contact phone", validators=[Optional(), Length(max=40)])
    job_title = StringField("Job title", validators=[Optional(), Length(max=120)])
    country = StringField("Country (ISO code)", validators=[Optional(), Length(max=2)])
    subdivision = StringField("Subdivision (ISO 3166-2)", validators=[Optional(), Length(max=6)])
    postal_code = StringField("Postal code", validators=[Optional(), Length(max=12)])
    city = StringField("City", validators=[Optional(), Length(max=120)])
    product = SelectField("Product", validate_choice=False)
    deal_size = StringField("Expected deal size", validators=[Optional(), Length(max=20)])
    currency = StringField(
        "Currency (ISO code)", default="EUR", validators=[Optional(), Length(max=3)]
    )
    budget = SelectField("Budget confirmed", choices=_ANSWERS)
    authority = SelectField("Talking to the decision maker", choices=_ANSWERS)
    need = StringField("Need", validators=[Optional(), Length(max=200)])
    timeline = StringField("Timeline", validators=[Optional(), Length(max=200)])
    source = StringField("Source", default="manual", validators=[Optional(), Length(max=60)])
    campaign = StringField("Campaign", validators=[Optional(), Length(max=120)])

    def lead_data(self) -> dict[str, object]:
        """The form's values in the shape the intake service takes from every channel."""
        answer = {"yes": True, "no": False}
        data: dict[str, object] = {
            name: self[name].data
            for name in (
                "company_name", "company_domain", "industry", "employees", "contact_name",
                "contact_email", "contact_phone", "job_title", "country", "subdivision",
                "postal_code", "city", "product", "deal_size", "currency", "source", "campaign",
            )
        }  # fmt: skip
        data["bant"] = {
            "budget": answer.get(self.budget.data or ""),
            "authority": answer.get(self.authority.data or ""),
            "need": self.need.data or None,
            "timeline": self.timeline.data or None,
        }
        return data


class _DuplicateForm(PortalForm):
    # The lead the flagged one repeats, as the page showed it; another id is not this flag.
    into = IntegerField(
        widget=HiddenInput(), validators=[InputRequired("Open the comparison again.")]
    )


class KeepDuplicateForm(_DuplicateForm):
    note = TextAreaField(
        "Note (optional)",
        validators=[Optional(), Length(max=500, message="Keep it under 500 characters.")],
    )


class MergeDuplicateForm(_DuplicateForm):
    """The merge of a flagged lead: per differing field, which lead's value the survivor keeps."""

    PREFIX = "choice-"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.choice_errors: dict[str, str] = {}

    def chosen_sides(self, formdata: Mapping[str, str]) -> dict[str, str]:
        """The posted choices by field key: "survivor" or "duplicate" (the service checks)."""
        return {
            name.removeprefix(self.PREFIX): value
            for name, value in formdata.items()
            if name.startswith(self.PREFIX)
        }

    def attach_errors(self, exc: ValidationFailed) -> None:
        """Errors of a known field go to its row of the comparison, the rest above the form."""
        self.choice_errors = {k: v for k, v in exc.errors.items() if k in GROUPS_BY_KEY}
        rest = {k: v for k, v in exc.errors.items() if k not in GROUPS_BY_KEY}
        super().attach_errors(ValidationFailed(rest))
