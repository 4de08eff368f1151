"""Forms of the tier and SLA policy pages; the services check the values themselves."""

from __future__ import annotations

from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget, NumberInput, TimeInput

from portal.forms import PortalForm
from portal.partners.sla_rules import holiday_countries
from portal.partners.validation import WEEKDAYS


class _ValuesForm(PortalForm):
    def values(self) -> dict[str, object]:
        return {name: self[name].data for name in self._fields if name != "csrf_token"}


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TierForm(_ValuesForm):
    name = StringField(
        "Name", validators=[DataRequired("Name the tier, for example Gold."), Length(max=40)]
    )
    # Text on the server so the service can word every problem; a number input in the browser.
    rank = StringField("Rank (1 is the top tier)", widget=NumberInput(min=1, step=1))
    routing_weight = StringField(
        "Routing weight (0 to 100)", default="0", widget=NumberInput(min=0, max=100, step=1)
    )


CLOCK_CHOICES = [
    SelectChoice("business", "Business hours, in the partner's time zone"),
    SelectChoice("wall", "Wall-clock hours, around the clock"),
]


def _holiday_choices() -> list[SelectChoice]:
    return [SelectChoice("", "No public holidays")] + [
        SelectChoice(code, name) for code, name in holiday_countries()
    ]


class SlaPolicyForm(_ValuesForm):
    name = StringField(
        "Name",
        validators=[DataRequired("Name the policy, for example Gold: 8 hours."), Length(max=80)],
    )
    response_hours = StringField(
        "Hours to respond", default="16", widget=NumberInput(min=1, max=720, step=1)
    )
    clock = RadioField("Count the hours as", choices=CLOCK_CHOICES, default="business")
    work_days = MultiCheckboxField(
        "Working days",
        coerce=int,
        choices=[SelectChoice(number, day) for number, day in enumerate(WEEKDAYS)],
        default=[0, 1, 2, 3, 4],
    )
    work_start = StringField("Working day starts", default="09:00", widget=TimeInput())
    work_end = StringField("Working day ends", default="17:00", widget=TimeInput())
    # The service names an unknown country; the select offers only known ones anyway.
    holiday_country = SelectField("Public holidays of", validate_choice=False)
    reminder_points = StringField(
        "Reminders, in percent of the time to respond (for example 50, 90)", default="50, 90"
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.holiday_country.choices = _holiday_choices()


class NewSlaPolicyForm(SlaPolicyForm):
    is_default = BooleanField("Make this the default for partners without a policy of their own")
