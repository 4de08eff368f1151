"""Segment rules: a lead segment that needs a minimum tier or certification."""

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.routing.models import SegmentRule
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token, post_form
from tests.factories import TierFactory

NEW = "/network/segments/new"


def _in(app, tenant_id, fn):
    with app.app_context(), tenant_scope(tenant_id):
        result = fn()
        db.session.commit()
        return result


def _version(app, world):
    with app.app_context():
        return db.session.get(Tenant, world.a.id).config_version


def _actions(app, world):
    return _in(app, world.a.id, lambda: list(db.session.scalars(sa.select(AuditEvent.action))))


def _rules(app, tenant_id):
    def load():
        rules = db.session.scalars(sa.select(SegmentRule).order_by(SegmentRule.id))
        return [(r.name, r.basis, r.min_value, r.max_value, r.currency) for r in rules]

    return _in(app, tenant_id, load)


def _gold(app, tenant_id):
    return _in(app, tenant_id, lambda: TierFactory(name="Gold", rank=1).id)


def _rule(app, tenant_id, **values):
    fields = {
        "name": "Enterprise",
        "basis": "employees",
        "min_value": 1000,
        "max_value": None,
        "currency": None,
        "min_certification": 2,
        **values,
    }
    return _in(app, tenant_id, lambda: _add(SegmentRule(**fields)))


def _add(rule):
    db.session.add(rule)
    db.session.flush()
    return rule.id


def _form(**overrides):
    data = {
        "name": "Enterprise",
        "basis": "employees",
        "min_value": "1,000",
        "max_value": "",
        "currency": "",
        "min_tier_id": "",
        "min_certification": "2",
    }
    data.update(overrides)
    return data


def test_a_manager_adds_a_company_size_rule_that_reads_in_plain_words(app, client, login_as, world):
    gold = _gold(app, world.a.id)
    login_as("channel_manager")
    before = _version(app, world)
    response = post_form(client, NEW, _form(min_tier_id=str(gold)))
    assert response.status_code == 302
    page = client.get("/network/segments/").get_data(as_text=True)
    assert (
        "Companies with 1,000 employees or more need a Gold partner or better and "
        "Advanced certification in the product" in page
    )
    assert _rules(app, world.a.id) == [("Enterprise", "employees", 1000, None, None)]
    assert "segment_rule.created" in _actions(app, world)
    assert _version(app, world) == before + 1


def test_deal_sizes_are_typed_in_major_units_and_stored_in_minor_units(
    app, client, login_as, world
):
    login_as("channel_manager")
    data = _form(
        name="Big deals", basis="deal_size", min_value="50,000.50", max_value="250000",
        currency="eur",
    )  # fmt: skip
    assert post_form(client, NEW, data).status_code == 302
    assert _rules(app, world.a.id) == [("Big deals", "deal_size", 5_000_050, 25_000_000, "EUR")]
    page = client.get("/network/segments/").get_data(as_text=True)
    assert "Deals of €50,000.50 to under €250,000 need Advanced certification" in page


def test_a_currency_without_minor_units_is_stored_as_whole_amounts(app, client, login_as, world):
    login_as("channel_manager")
    data = _form(name="Japan", basis="deal_size", min_value="5,000,000", currency="JPY")
    assert post_form(client, NEW, data).status_code == 302
    assert _rules(app, world.a.id) == [("Japan", "deal_size", 5_000_000, None, "JPY")]


def test_the_same_range_in_another_currency_or_basis_does_not_overlap(app, client, login_as, world):
    _rule(app, world.a.id, name="Big EUR", basis="deal_size", min_value=0, currency="EUR")
    login_as("channel_manager")
    usd = _form(name="Big USD", basis="deal_size", min_value="0", currency="USD")
    assert post_form(client, NEW, usd).status_code == 302
    assert post_form(client, NEW, _form(name="Any size", min_value="0")).status_code == 302
    assert len(_rules(app, world.a.id)) == 3


def test_an_overlapping_rule_is_refused_with_the_name_of_the_rule_it_overlaps(
    app, client, login_as, world
):
    _rule(app, world.a.id)
    login_as("channel_manager")
    response = post_form(client, NEW, _form(name="Mid market", min_value="500", max_value="2000"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Overlaps &#39;Enterprise&#39; (1,000 employees or more)" in page
    assert 'id="min_value-error"' in page
    assert [r[0] for r in _rules(app, world.a.id)] == ["Enterprise"]


def test_ranges_that_only_touch_do_not_overlap(app, client, login_as, world):
    _rule(app, world.a.id)
    login_as("channel_manager")
    data = _form(name="Mid market", min_value="100", max_value="1000")
    assert post_form(client, NEW, data).status_code == 302


BAD_INPUT = [
    ({"min_value": "500", "max_value": "100"}, "max_value", "must be above the lower bound"),
    ({"min_value": "500", "max_value": "500"}, "max_value", "must be above the lower bound"),
    ({"min_value": "-5"}, "min_value", "cannot be negative"),
    ({"min_value": "lots"}, "min_value", "whole number of employees"),
    ({"min_value": ""}, "min_value", "whole number of employees"),
    ({"basis": "deal_size", "min_value": "-1", "currency": "EUR"}, "min_value", "negative"),
    ({"basis": "deal_size", "min_value": "10", "currency": "ZZZ"}, "currency", "ISO 4217"),
    ({"basis": "deal_size", "min_value": "10", "currency": ""}, "currency", "Give the currency"),
    ({"basis": "deal_size", "min_value": "10.005", "currency": "EUR"}, "min_value", "2 decimal"),
    ({"min_certification": ""}, "min_tier_id", "a certification level, or both"),
    ({"min_certification": "7"}, "min_certification", "Not a valid choice"),
    ({"min_tier_id": "999999"}, "min_tier_id", "Not a valid choice"),
    ({"basis": "headcount"}, "basis", "Not a valid choice"),
    ({"name": ""}, "name", "Name the segment"),
]


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_INPUT)
def test_bad_segment_input_is_shown_next_to_its_field_and_nothing_is_saved(
    app, client, login_as, world, overrides, field, message
):
    login_as("channel_manager")
    before = _version(app, world)
    response = post_form(client, NEW, _form(**overrides))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page
    assert message in page
    assert _rules(app, world.a.id) == []
    assert _version(app, world) == before


def test_a_tier_of_another_tenant_is_not_offered_and_is_refused(app, client, login_as, world):
    other_gold = _gold(app, world.b.id)
    login_as("channel_manager")
    form = client.get(NEW).get_data(as_text=True)
    assert f'value="{other_gold}"' not in form
    response = post_form(client, NEW, _form(min_tier_id=str(other_gold)))
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert _rules(app, world.a.id) == []


def test_a_duplicate_name_is_refused(app, client, login_as, world):
    _rule(app, world.a.id)
    login_as("channel_manager")
    response = post_form(client, NEW, _form(min_value="0", max_value="10"))
    assert response.status_code == 400
    assert "A segment rule named &#39;Enterprise&#39; exists already." in response.get_data(
        as_text=True
    )


def test_the_edit_form_shows_deal_sizes_in_major_units_and_saves_changes(
    app, client, login_as, world
):
    rule_id = _rule(
        app, world.a.id, name="Big deals", basis="deal_size", min_value=5_000_050, currency="EUR"
    )
    login_as("channel_manager")
    url = f"/network/segments/{rule_id}/edit"
    assert 'value="50000.50"' in client.get(url).get_data(as_text=True)
    before = _version(app, world)
    data = _form(name="Huge deals", basis="deal_size", min_value="100000", currency="EUR")
    assert post_form(client, url, data).status_code == 302
    assert _rules(app, world.a.id) == [("Huge deals", "deal_size", 10_000_000, None, "EUR")]
    assert "segment_rule.updated" in _actions(app, world)
    assert _version(app, world) == before + 1


def test_a_rule_does_not_overlap_itself_when_edited(app, client, login_as, world):
    rule_id = _rule(app, world.a.id)
    login_as("channel_manager")
    url = f"/network/segments/{rule_id}/edit"
    assert post_form(client, url, _form(min_value="1000", min_certification="3")).status_code == 302
    assert "Expert certification" in client.get("/network/segments/").get_data(as_text=True)


def test_an_edit_that_would_overlap_another_rule_is_refused(app, client, login_as, world):
    _rule(app, world.a.id)
    small = _rule(app, world.a.id, name="Small", min_value=0, max_value=100)
    login_as("channel_manager")
    response = post_form(
        client, f"/network/segments/{small}/edit", _form(name="Small", min_value="0", max_value="")
    )
    assert response.status_code == 400
    assert "Overlaps &#39;Enterprise&#39;" in response.get_data(as_text=True)


def test_a_manager_deletes_a_rule_after_confirming(app, client, login_as, world):
    rule_id = _rule(app, world.a.id)
    login_as("channel_manager")
    page = client.get("/network/segments/").get_data(as_text=True)
    assert "data-confirm=" in page
    before = _version(app, world)
    response = post_form(
        client, f"/network/segments/{rule_id}/delete", {}, page="/network/segments/"
    )
    assert response.status_code == 302
    assert _rules(app, world.a.id) == []
    assert "segment_rule.deleted" in _actions(app, world)
    assert _version(app, world) == before + 1


def test_the_empty_list_says_what_happens_without_rules(client, login_as):
    login_as("vendor_staff")
    page = client.get("/network/segments/").get_data(as_text=True)
    assert "No segment rules yet." in page


def test_vendor_staff_reads_the_rules_but_cannot_change_them(app, client, login_as, world):
    rule_id = _rule(app, world.a.id)
    login_as("vendor_staff")
    page = client.get("/network/segments/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Companies with 1,000 employees or more" in text
    assert "Add a segment rule" not in text and "/delete" not in text
    token = csrf_token(client, "/network/segments/")
    assert client.get(NEW).status_code == 403
    for url in (NEW, f"/network/segments/{rule_id}/edit", f"/network/segments/{rule_id}/delete"):
        assert client.post(url, data={"csrf_token": token, **_form()}).status_code == 403
    assert len(_rules(app, world.a.id)) == 1


def test_a_partner_user_cannot_see_segment_rules(client, login_as):
    login_as("partner_user")
    assert client.get("/network/segments/").status_code == 403
    assert client.get(NEW).status_code == 403


def test_a_rule_of_another_tenant_is_not_found(app, client, login_as, world):
    rule_id = _rule(app, world.b.id)
    login_as("channel_manager")
    token = csrf_token(client, "/network/segments/")
    assert client.get(f"/network/segments/{rule_id}/edit").status_code == 404
    edit = client.post(f"/network/segments/{rule_id}/edit", data={"csrf_token": token, **_form()})
    assert edit.status_code == 404
    delete = client.post(f"/network/segments/{rule_id}/delete", data={"csrf_token": token})
    assert delete.status_code == 404
    assert len(_rules(app, world.b.id)) == 1


def test_changing_the_minimum_tier_shows_the_new_tier(app, client, login_as, world):
    gold = _gold(app, world.a.id)
    silver = _in(app, world.a.id, lambda: TierFactory(name="Silver", rank=2).id)
    rule_id = _rule(app, world.a.id, min_tier_id=gold, min_certification=None)
    login_as("channel_manager")
    url = f"/network/segments/{rule_id}/edit"
    data = _form(min_tier_id=str(silver), min_certification="")
    assert post_form(client, url, data).status_code == 302
    page = client.get("/network/segments/").get_data(as_text=True)
    assert "need a Silver partner or better." in page
    with app.app_context(), tenant_scope(world.a.id):
        changes = db.session.scalars(
            sa.select(AuditEvent.changes).where(AuditEvent.action == "segment_rule.updated")
        ).one()
    assert changes == {"min_tier_id": [gold, silver]}
