"""Forms of the territory and product pages; the services check the values themselves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from portal.forms import PortalForm
from portal.partners.territory_rules import KIND_LABELS, KINDS

COUNTRY_LIST_ID = "country-codes"


class _ValuesForm(PortalForm):
    def values(self) -> dict[str, Any]:
        return {name: self[name].data for name in self._fields if name != "csrf_token"}


def _optional_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class TerritoryForm(_ValuesForm):
    # The service words every problem per kind, so the fields carry no validators of their own.
    kind = SelectField(
        "Kind",
        choices=[SelectChoice(kind, KIND_LABELS[kind]) for kind in KINDS],
        default="country",
        validate_choice=False,
    )
    code = StringField("Code")
    name = StringField("Name")
    country = StringField(
        "Country", render_kw={"list": COUNTRY_LIST_ID, "autocomplete": "off", "maxlength": 2}
    )
    subdivision = StringField("Subdivision", render_kw={"maxlength": 6})
    postal_prefix = StringField("Postal prefix", render_kw={"maxlength": 10})
    region_countries = StringField("Countries of the region")


class ProductLineForm(_ValuesForm):
    code = StringField("Code", render_kw={"maxlength": 40})
    name = StringField("Name", render_kw={"maxlength": 120})


class ProductForm(_ValuesForm):
    line_id = SelectField("Product line", coerce=_optional_int, validate_choice=False)
    code = StringField("Code", render_kw={"maxlength": 40})
    name = StringField("Name", render_kw={"maxlength": 120})

    def __init__(self, *args: Any, lines: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line_id.choices = [SelectChoice("", "Choose a line…")] + [
            SelectChoice(line.id, f"{line.name} ({line.code})") for line in lines
        ]


class ActiveForm(PortalForm):
    """Deactivate or reactivate: the wanted state, "1" or "0"."""

    active = HiddenField()
