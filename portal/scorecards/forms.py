"""The scorecard settings form; the service checks the values and words every problem."""

from __future__ import annotations

from wtforms import StringField
from wtforms.widgets import NumberInput

from portal.forms import PortalForm


def _number(label: str, low: int, high: int) -> StringField:
    return StringField(label, widget=NumberInput(min=low, max=high, step=1))


class ScorecardSettingsForm(PortalForm):
    weight_acceptance = _number("Acceptance rate", 0, 100)
    weight_sla = _number("Answers within the SLA", 0, 100)
    weight_response = _number("Response time against the SLA window", 0, 100)
    weight_conversion = _number("SAL to SQL conversion", 0, 100)
    quality_window_days = _number("Days of offers the quality is read over", 7, 365)

    def values(self) -> dict[str, object]:
        return {name: self[name].data for name in self._fields if name != "csrf_token"}
