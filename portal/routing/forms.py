"""Forms of segment rules, routing weights and what-if simulations; the services check the
values themselves."""

from __future__ import annotations

from wtforms import FieldList, Form, FormField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import DateInput, NumberInput

from portal.errors import ValidationFailed
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


# What-if simulations ------------------------------------------------------------------------

STATUS_CHOICES = [
    SelectChoice("", "Unchanged"),
    SelectChoice("active", "Active"),
    SelectChoice("paused", "Paused"),
    SelectChoice("suspended", "Suspended"),
]
FALLBACK_CHOICES = [
    SelectChoice("", "Unchanged"),
    SelectChoice("none", "The unroutable queue"),
    SelectChoice("direct_sales", "Direct sales"),
    SelectChoice("partner", "A fallback partner (choose it below)"),
]
SEGMENT_ACTIONS = [
    SelectChoice("", "No change to segment rules"),
    SelectChoice("set", "Add a rule, or change the rule of this name"),
    SelectChoice("remove", "Remove the rule of this name"),
]
LEVEL_CHOICES = [SelectChoice(level, label) for level, label in CERTIFICATION_LEVELS.items()]
PARTNER_CHANGE_ROWS = 3


def _choice(label: str, blank: str) -> SelectField:
    # The service checks the value against the tenant, and words the problem itself.
    return SelectField(label, choices=[SelectChoice("", blank)], validate_choice=False)


class PartnerChangeForm(Form):
    partner_id = _choice("Partner", "No partner change")
    capacity = StringField("New capacity", widget=NumberInput(min=0, max=10_000, step=1))
    status = SelectField("New status", choices=STATUS_CHOICES, validate_choice=False)
    territory_add = _choice("Add territory", "None")
    territory_remove = _choice("Remove territory", "None")
    product_add = _choice("Add product", "None")
    product_certification = SelectField(
        "Certification in it", choices=LEVEL_CHOICES, validate_choice=False
    )
    product_remove = _choice("Stop selling product", "None")


class SegmentChangeForm(Form):
    action = SelectField("Segment rule", choices=SEGMENT_ACTIONS, validate_choice=False)
    name = StringField("Rule name")
    basis = SelectField("Segment by", choices=BASIS_CHOICES, validate_choice=False)
    min_value = StringField("From (included)")
    max_value = StringField("Up to (not included; empty for no limit)")
    currency = StringField("Currency (deal sizes only)")
    min_tier_id = SelectField("Minimum tier", coerce=_optional_int, validate_choice=False)
    min_certification = SelectField(
        "Minimum certification", coerce=_optional_int, choices=CERTIFICATION_CHOICES,
        validate_choice=False,
    )  # fmt: skip


class SimulationForm(PortalForm):
    name = StringField("Name (optional)", validators=[Length(max=120)])
    note = TextAreaField("Note (optional)")
    period_start = StringField("First day", widget=DateInput())
    period_end = StringField("Last day", widget=DateInput())
    weight_territory = _weight_field("Territory specificity")
    weight_tier = _weight_field("Tier")
    weight_quality = _weight_field("Scorecard quality")
    weight_capacity = _weight_field("Spare capacity")
    weight_fairness = _weight_field("Fairness")
    fallback_kind = SelectField(
        "Leads nobody can take go to", choices=FALLBACK_CHOICES, validate_choice=False
    )
    fallback_partner_id = _choice("Fallback partner", "Choose a partner")
    changes = FieldList(FormField(PartnerChangeForm), min_entries=PARTNER_CHANGE_ROWS)
    segment = FormField(SegmentChangeForm)

    def set_choices(self, choices: dict[str, list[tuple[object, str]]]) -> None:
        """Offer this tenant's partners, territories, products and tiers."""

        def options(blank: str, items: list[tuple[object, str]]) -> list[SelectChoice]:
            return [SelectChoice("", blank)] + [SelectChoice(str(v), label) for v, label in items]

        self.fallback_partner_id.choices = options("Choose a partner", choices["partners"])
        for entry in self.changes:
            row = entry.form
            row.partner_id.choices = options("No partner change", choices["partners"])
            for field in (row.territory_add, row.territory_remove):
                field.choices = options("None", choices["territories"])
            for field in (row.product_add, row.product_remove):
                field.choices = options("None", choices["products"])
        self.segment.form.min_tier_id.choices = [SelectChoice("", "Any tier")] + [
            SelectChoice(v, f"{label} or better") for v, label in choices["tiers"]
        ]

    def values(self) -> dict[str, object]:
        return {name: self[name].data for name in self._fields if name != "csrf_token"}

    def attach_errors(self, exc: ValidationFailed) -> None:
        """Field errors of the partner-change rows and the segment rule go to their fields."""
        nested = {f.name: f for field in (*self.changes, self.segment) for f in field}
        top = {k: v for k, v in exc.errors.items() if k not in nested}
        for name, message in exc.errors.items():
            if name in nested:
                nested[name].errors = [*nested[name].errors, message]
        super().attach_errors(ValidationFailed(top) if top else ValidationFailed({}))


class StaleForm(PortalForm):
    stale_after_days = StringField(
        "Days without an update before an accepted lead is stale",
        widget=NumberInput(min=1, max=365, step=1),
    )

    def values(self) -> dict[str, object]:
        return {"stale_after_days": self.stale_after_days.data}
