"""The webhook endpoint form."""

from __future__ import annotations

from wtforms import BooleanField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from portal.forms import PortalForm
from portal.notifications.rules import WEBHOOK_EVENTS
from portal.partners.config_forms import MultiCheckboxField


class WebhookForm(PortalForm):
    # The service checks the URL (scheme, host that resolves) and puts its message here.
    url = StringField("URL", validators=[Length(max=500)])
    events = MultiCheckboxField(
        "Events", choices=[SelectChoice(e, e) for e in WEBHOOK_EVENTS], validate_choice=False
    )
    active = BooleanField("Active", default=True)
