"""Forms of the qualification and rejection reason pages; the services check the values."""

from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import NumberInput

from portal.forms import PortalForm
from portal.leads import scoring
from portal.partners.config_forms import MultiCheckboxField


class _ValuesForm(PortalForm):
    def input_values(self) -> dict[str, object]:
        return {name: self[name].data for name in self._fields if name != "csrf_token"}


# The qualification page holds three forms at once, so each field has an id of its own there.


class QualificationSettingsForm(_ValuesForm):
    # Text on the server so the service can word every problem; a number input in the browser.
    mql_threshold = StringField(
        "MQL threshold (points)", widget=NumberInput(min=0, max=scoring.MAX_THRESHOLD, step=1)
    )
    required_fields = MultiCheckboxField(
        "Fields a lead must have before it is offered",
        choices=[
            SelectChoice(name, label.capitalize())
            for name, label in scoring.REQUIRABLE_FIELDS.items()
        ],
        # The service names an unknown field in its own words.
        validate_choice=False,
    )


class ProfileRuleForm(_ValuesForm):
    field = SelectField(
        "Condition on the lead",
        choices=[SelectChoice(name, label) for name, label in scoring.PROFILE_FIELD_LABELS.items()],
        validate_choice=False,
    )
    values = StringField("Values, separated by commas (for example Banking, Insurance)")
    low = StringField("Employees from", widget=NumberInput(min=0, step=1))
    high = StringField("Employees up to", widget=NumberInput(min=0, step=1))
    points = StringField("Points (-100 to 100)", widget=NumberInput(min=-100, max=100, step=1))


class EngagementRuleForm(_ValuesForm):
    activity_type = StringField("Activity type (for example webinar_attended)")
    points = StringField(
        "Points per activity (-100 to 100)",
        id="engagement_points",
        widget=NumberInput(min=-100, max=100, step=1),
    )
    decay_days = StringField(
        "Fades to nothing over (days, empty for never)",
        widget=NumberInput(min=1, max=scoring.MAX_DECAY_DAYS, step=1),
    )


class RejectionReasonForm(_ValuesForm):
    label = StringField(
        "Label partners see",
        validators=[DataRequired("Enter the label partners see."), Length(max=120)],
    )
    comment_required = BooleanField("Partners must add a comment when they choose this reason")


class NewRejectionReasonForm(RejectionReasonForm):
    code = StringField(
        "Code (for example no_budget; it can never change)",
        validators=[DataRequired("Give the reason a code, for example no_budget.")],
    )


class ReasonActiveForm(PortalForm):
    active = SelectField(choices=[SelectChoice("1", "Active"), SelectChoice("0", "Inactive")])


class MoveForm(PortalForm):
    direction = SelectField(choices=[SelectChoice("up", "Up"), SelectChoice("down", "Down")])
