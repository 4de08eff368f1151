"""Forms of segment rules and routing weights; the services check the values themselves."""

from __future__ import annotations

from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import NumberInput

from portal.forms import PortalForm
from portal.partners.validation import CERTIFICATION_LEVELS


def _optional_int(value: object) -> int | None:
    return int(value) if value not in (None, "") else None  # type: ignore[call-overload]


BASIS_CHOICES = [
    SelectChoice("employees", "Company size (employees)"),
    SelectChoice("deal_size", "Expected deal size"),
]
CERTIFICATION_CHOICES = [SelectChoice("", "No certification needed")] + [
    SelectChoice(level, label) for level, label in CERTIFICATION_LEVELS.items() if level > 0
]


class SegmentRuleForm(PortalForm):
    name = StringField(
        "Name",
        validators=[DataRequired("Name the segment, for example Enterprise."), Length(max=80)],
    )
    basis = SelectField("Segment by", choices=BASIS_CHOICES)
    min_value = StringField("From (included)")
    max_value = StringField("Up to (not included; leave empty for no upper limit)")
    currency = StringField("Currency (deal sizes only, for example EUR)")
    min_tier_id = SelectField("Minimum tier", coerce=_optional_int)
    min_certification = SelectField(
        "Minimum certification in the product", coerce=_optional_int, choices=CERTIFICATION_CHOICES
    )

    def set_tiers(self, tiers: list[object]) -> None:
        """Offer this tenant's tiers only, top tier first."""
        self.min_tier_id.choices = [SelectChoice("", "Any tier")] + [
            SelectChoice(t.id, f"{t.name} or better")
            for t in tiers  # type: ignore[attr-defined]
        ]

    def values(self) -> dict[str, object]:
        return {name: self[name].data for name in self._fields if name != "csrf_token"}


def _weight_field(label: str) -> StringField:
    # Text on the server so the service can word every problem; a number input in the browser.
    return StringField(label, widget=NumberInput(min=0, max=100, step=1))


class WeightsForm(PortalForm):
    weight_territory = _weight_field("Territory specificity")
    weight_tier = _weight_field("Tier")
    weight_quality = _weight_field("Scorecard quality")
    weight_capacity = _weight_field("Spare capacity")
    weight_fairness = _weight_field("Fairness")

    def values(self) -> dict[str, object]:
        return {name: self[name].data for name in self._fields if name != "csrf_token"}


class AssignForm(PortalForm):
    # Choices are the tenant's partners; the service checks the one chosen.
    partner_id = SelectField("Partner", validate_choice=False)
    note = TextAreaField("Note for the record (optional)", validators=[Length(max=500)])

    def set_partners(self, closest: list[object], others: list[object]) -> None:
        self.partner_id.choices = {
            "Considered by routing (with why it was left out)": [
                SelectChoice(str(p.id), p.label)  # type: ignore[attr-defined]
                for p in closest
            ],
            "Other active partners": [
                SelectChoice(str(p.id), p.label)  # type: ignore[attr-defined]
                for p in others
            ],
        }


class DirectSalesForm(PortalForm):
    # Shown on one page with AssignForm: an id of its own keeps each label on its own field.
    note = TextAreaField(
        "Note for the record (optional)", validators=[Length(max=500)], id="direct_sales_note"
    )


class RetryForm(PortalForm):
    """A button: the CSRF token is all it carries."""


FALLBACK_CHOICES = [
    SelectChoice("none", "Nobody: leave it in the unroutable queue"),
    SelectChoice("partner", "A default partner"),
    SelectChoice("direct_sales", "Direct sales"),
]


class FallbackForm(PortalForm):
    fallback_kind = RadioField(
        "Where a lead goes when no partner is eligible", choices=FALLBACK_CHOICES
    )
    fallback_partner_id = SelectField("Default partner", validate_choice=False)

    def set_partners(self, partners: list[object]) -> None:
        self.fallback_partner_id.choices = [SelectChoice("", "Choose a partner")] + [
            SelectChoice(str(p.id), p.name)  # type: ignore[attr-defined]
            for p in partners
        ]

    def values(self) -> dict[str, object]:
        return {
            "fallback_kind": self.fallback_kind.data,
            "fallback_partner_id": self.fallback_partner_id.data,
        }


class FairnessForm(PortalForm):
    fairness_cap_percent = StringField(
        "Highest share of a territory's offers one partner may get, in percent (empty: no cap)",
        widget=NumberInput(min=1, max=100, step=1),
    )
    fairness_window_days = StringField(
        "Counted over the last (days)", widget=NumberInput(min=1, max=365, step=1)
    )
    fairness_min_offers = StringField(
        "Only in territories with at least this many offers in that time",
        widget=NumberInput(min=0, step=1),
    )

    def values(self) -> dict[str, object]:
        return {name: self[name].data for name in self._fields if name != "csrf_token"}
