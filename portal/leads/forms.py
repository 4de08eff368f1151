"""The form for entering one lead by hand."""

from __future__ import annotations

from wtforms import EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import PortalForm

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
