"""Forms of the partner pages."""

from __future__ import annotations

from wtforms import EmailField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.forms import PortalForm
from portal.partners.validation import CERTIFICATION_LEVELS
from portal.tenancy.forms import EMAIL, password_policy


def _id_or_none(value: object) -> int | None:
    return int(value) if value not in (None, "", "None") else None


class PartnerForm(PortalForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter the partner's name."), Length(max=120)]
    )
    tier_id = SelectField("Tier", coerce=_id_or_none)
    capacity = IntegerField(
        "Capacity (most open leads at once)",
        default=25,
        validators=[InputRequired("Give the capacity as a whole number.")],
    )
    country = SelectField("Primary country")
    timezone = SelectField("Time zone", default="Europe/Berlin")
    sla_policy_id = SelectField("SLA policy", coerce=_id_or_none)
    contact_name = StringField("Contact name", validators=[Optional(), Length(max=120)])
    contact_email = EmailField("Contact e-mail", validators=[Optional(), Length(max=254), EMAIL])
    contact_phone = StringField("Contact phone", validators=[Optional(), Length(max=40)])


class StatusForm(PortalForm):
    status = SelectField(
        "New status",
        choices=[SelectChoice(s, s.capitalize()) for s in ("active", "paused", "suspended")],
    )
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=500)])


class TerritoryCoverageForm(PortalForm):
    # The service checks the id against the tenant's own territories.
    territory_id = SelectField("Territory", coerce=_id_or_none, validate_choice=False)


class ProductCoverageForm(PortalForm):
    product_id = SelectField("Product", coerce=_id_or_none, validate_choice=False)
    certification = SelectField(
        "Certification",
        coerce=int,
        choices=[SelectChoice(level, label) for level, label in CERTIFICATION_LEVELS.items()],
    )


class PartnerUserForm(PortalForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter the person's name."), Length(max=120)]
    )
    email = EmailField(
        "E-mail", validators=[DataRequired("Enter an e-mail address."), Length(max=254), EMAIL]
    )
    password = PasswordField(
        "Initial password", validators=[DataRequired("Set an initial password."), password_policy]
    )
