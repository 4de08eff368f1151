"""The incentive plan form; the service checks the values and words every problem."""

from __future__ import annotations

from typing import Any

from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from portal.forms import PortalForm


class PlanForm(PortalForm):
    currency = StringField("Currency")
    bounty = StringField("Bounty per sales accepted lead kept")
    sla_gate = StringField("No bounty below this SLA compliance (%, optional)")
    accelerator_percent = StringField("Accelerator from this SLA compliance (%, optional)")
    accelerator_extra = StringField("The accelerator adds (% of the bounty)")
    cap = StringField("Cap per partner and period (optional)")
    note = TextAreaField("What changed, for the record (optional)", validators=[Length(max=500)])

    def values(self) -> dict[str, Any]:
        return {name: self[name].data for name in self._fields if name != "csrf_token"}


def plan_form(tiers: list[Any], **kwargs: Any) -> PlanForm:
    """The form with a share of won revenue per tier of the tenant, top tier first."""

    class TenantPlanForm(PlanForm):
        pass

    for tier in tiers:
        setattr(
            TenantPlanForm,
            f"share_{tier.id}",
            StringField(f"{tier.name}: share of won revenue (%)"),
        )
    return TenantPlanForm(**kwargs)
