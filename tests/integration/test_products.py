"""The product pages: lines with their products, adding, editing, deactivating and deleting."""

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.partners import product_services
from portal.partners.models import PartnerProduct, Product, ProductLine
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token, post_form
from tests.factories import (
    LeadFactory,
    PartnerFactory,
    ProductFactory,
    ProductLineFactory,
)

INDEX = "/network/products/"


def _line(app, tenant_id, code="NET", name="Networking"):
    with app.app_context(), tenant_scope(tenant_id):
        line = ProductLineFactory(code=code, name=name)
        db.session.commit()
        return line.id


def _product(app, tenant_id, line_id, code, name=None, active=True, covered_by=0, leads=0):
    """A product of the line, covered by new partners and named by new leads."""
    with app.app_context(), tenant_scope(tenant_id):
        product = ProductFactory(
            line_id=line_id, code=code, name=name or code.title(), active=active
        )
        for _ in range(covered_by):
            db.session.add(PartnerProduct(partner_id=PartnerFactory().id, product_id=product.id))
        for _ in range(leads):
            LeadFactory(product_id=product.id)
        db.session.commit()
        return product.id


def _products(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        query = (
            sa.select(ProductLine.code, Product.code, Product.name, Product.active)
            .join(ProductLine, Product.line_id == ProductLine.id)
            .order_by(Product.code)
        )
        return [tuple(row) for row in db.session.execute(query)]


def _lines(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        query = sa.select(ProductLine.code, ProductLine.name).order_by(ProductLine.code)
        return [tuple(row) for row in db.session.execute(query)]


def _config_version(app, tenant_id):
    with app.app_context():
        return db.session.get(Tenant, tenant_id).config_version


def _actions(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def _post(client, url, data=None):
    return client.post(url, data={"csrf_token": csrf_token(client, INDEX), **(data or {})})


def _flashed(client):
    return client.get(INDEX).get_data(as_text=True)


# Reading -----------------------------------------------------------------------------------


def test_the_list_shows_each_line_with_its_products_status_and_partner_counts(
    app, client, login_as, world
):
    net = _line(app, world.a.id, "NET", "Networking")
    sec = _line(app, world.a.id, "SEC", "Security")
    _product(app, world.a.id, net, "SWITCH", "Core switch", covered_by=2)
    _product(app, world.a.id, sec, "FW", "Firewall", active=False)
    login_as("vendor_staff")
    page = client.get(INDEX).get_data(as_text=True)
    assert page.index("Networking") < page.index("Core switch") < page.index("Security")
    assert page.index("Security") < page.index("Firewall")
    assert "2 partners" in page and "Inactive" in page
    assert "Add a product line" not in page and "Deactivate" not in page


def test_a_manager_sees_the_add_forms_and_the_actions(app, client, login_as, world):
    net = _line(app, world.a.id)
    _product(app, world.a.id, net, "SWITCH")
    login_as("channel_manager")
    page = client.get(INDEX).get_data(as_text=True)
    for text in ("Add a product line", "Add a product", "Deactivate", "Delete line", "Edit"):
        assert text in page


def test_a_tenant_without_products_gets_a_clear_empty_state(client, login_as):
    login_as("channel_manager")
    response = client.get(INDEX)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="empty-state"' in page and "Add a product line first" in page


def test_product_choices_list_active_products_by_line_unless_all_are_asked_for(app, world):
    sec = _line(app, world.a.id, "SEC", "Security")
    net = _line(app, world.a.id, "NET", "Networking")
    _product(app, world.a.id, sec, "FW", "Firewall")
    _product(app, world.a.id, net, "SWITCH", "Switch")
    _product(app, world.a.id, net, "HUB", "Hub", active=False)
    with app.app_context(), tenant_scope(world.a.id):
        active = [(p.line.code, p.code) for p in product_services.product_choices()]
        every = [p.code for p in product_services.product_choices(active_only=False)]
    assert active == [("NET", "SWITCH"), ("SEC", "FW")]
    assert every == ["HUB", "SWITCH", "FW"]


# Product lines -----------------------------------------------------------------------------


def test_a_manager_adds_a_line_audited_and_versioned(app, client, login_as, world):
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    data = {"line-code": "net", "line-name": "Networking"}
    response = post_form(client, "/network/products/lines/new", data, INDEX)
    assert response.status_code == 302
    assert _lines(app, world.a.id) == [("NET", "Networking")]
    assert "product_line.created" in _actions(app, world.a.id)
    assert _config_version(app, world.a.id) == before + 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"line-code": "", "line-name": "Networking"}, "line-code", "Give the line a code."),
        ({"line-code": "N E T", "line-name": "Networking"}, "line-code", "Use 1 to 40"),
        ({"line-code": "NET2", "line-name": ""}, "line-name", "Enter a name."),
        ({"line-code": "net", "line-name": "Again"}, "line-code", "NET exists already"),
    ],
)
def test_bad_line_input_is_shown_next_to_the_field_and_nothing_is_saved(
    app, client, login_as, world, data, field, message
):
    _line(app, world.a.id, "NET", "Networking")
    login_as("channel_manager")
    response = post_form(client, "/network/products/lines/new", data, INDEX)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page
    assert _lines(app, world.a.id) == [("NET", "Networking")]


def test_a_manager_deletes_an_empty_line(app, client, login_as, world):
    line_id = _line(app, world.a.id)
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    assert _post(client, f"/network/products/lines/{line_id}/delete").status_code == 302
    assert _lines(app, world.a.id) == []
    assert "product_line.deleted" in _actions(app, world.a.id)
    assert _config_version(app, world.a.id) == before + 1


def test_a_line_that_still_has_products_is_not_deleted(app, client, login_as, world):
    line_id = _line(app, world.a.id, "NET", "Networking")
    _product(app, world.a.id, line_id, "SWITCH")
    _product(app, world.a.id, line_id, "ROUTER")
    login_as("channel_manager")
    assert _post(client, f"/network/products/lines/{line_id}/delete").status_code == 302
    assert "The line Networking still has 2 products; delete them or move them" in _flashed(client)
    assert _lines(app, world.a.id) == [("NET", "Networking")]


# Products ----------------------------------------------------------------------------------


def test_a_manager_adds_a_product_to_a_line_audited_and_versioned(app, client, login_as, world):
    line_id = _line(app, world.a.id)
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    data = {"product-line_id": str(line_id), "product-code": "sw-24", "product-name": "Switch 24"}
    assert post_form(client, "/network/products/new", data, INDEX).status_code == 302
    assert _products(app, world.a.id) == [("NET", "SW-24", "Switch 24", True)]
    assert "product.created" in _actions(app, world.a.id)
    assert _config_version(app, world.a.id) == before + 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"product-line_id": "", "product-code": "X", "product-name": "X"},
            "product-line_id",
            "Choose a product line.",
        ),
        (
            {"product-line_id": "999999", "product-code": "X", "product-name": "X"},
            "product-line_id",
            "Choose a product line.",
        ),
        ({"product-code": "", "product-name": "X"}, "product-code", "Give the product a code."),
        ({"product-code": "a/b", "product-name": "X"}, "product-code", "Use 1 to 40"),
        (
            {"product-code": "switch", "product-name": "X"},
            "product-code",
            "A product with code SWITCH exists already.",
        ),
        ({"product-code": "NEW", "product-name": " "}, "product-name", "Enter a name."),
    ],
)
def test_bad_product_input_is_shown_next_to_the_field_and_nothing_is_saved(
    app, client, login_as, world, data, field, message
):
    line_id = _line(app, world.a.id)
    _product(app, world.a.id, line_id, "SWITCH", "Switch")
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    data = {"product-line_id": str(line_id), **data}
    response = post_form(client, "/network/products/new", data, INDEX)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page
    assert _products(app, world.a.id) == [("NET", "SWITCH", "Switch", True)]
    assert _config_version(app, world.a.id) == before


def test_a_product_cannot_be_added_to_a_line_of_another_tenant(app, client, login_as, world):
    other_line = _line(app, world.b.id, "NET", "Networking")
    login_as("channel_manager")
    data = {"product-line_id": str(other_line), "product-code": "X", "product-name": "X"}
    response = post_form(client, "/network/products/new", data, INDEX)
    assert response.status_code == 400
    assert _products(app, world.b.id) == [] and _products(app, world.a.id) == []


def test_a_manager_edits_a_product_and_moves_it_to_another_line(app, client, login_as, world):
    net = _line(app, world.a.id, "NET", "Networking")
    sec = _line(app, world.a.id, "SEC", "Security")
    product_id = _product(app, world.a.id, net, "FW", "Firewall")
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    url = f"/network/products/{product_id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert "Edit product FW" in page and 'value="Firewall"' in page
    data = {"product-line_id": str(sec), "product-code": "fw-x", "product-name": "Firewall X"}
    assert post_form(client, url, data).status_code == 302
    assert _products(app, world.a.id) == [("SEC", "FW-X", "Firewall X", True)]
    assert "product.updated" in _actions(app, world.a.id)
    assert _config_version(app, world.a.id) == before + 1


def test_an_edit_cannot_take_the_code_of_another_product(app, client, login_as, world):
    net = _line(app, world.a.id)
    _product(app, world.a.id, net, "HUB")
    product_id = _product(app, world.a.id, net, "SWITCH")
    login_as("channel_manager")
    data = {"product-line_id": str(net), "product-code": "hub", "product-name": "Switch"}
    response = post_form(client, f"/network/products/{product_id}/edit", data)
    assert response.status_code == 400
    assert 'id="product-code-error"' in response.get_data(as_text=True)


def test_a_manager_deactivates_and_reactivates_a_product(app, client, login_as, world):
    product_id = _product(app, world.a.id, _line(app, world.a.id), "SWITCH", covered_by=1)
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    url = f"/network/products/{product_id}/active"
    assert _post(client, url, {"active": "0"}).status_code == 302
    assert _products(app, world.a.id)[0][3] is False
    assert "Product SWITCH is inactive" in _flashed(client)
    assert _post(client, url, {"active": "1"}).status_code == 302
    assert _products(app, world.a.id)[0][3] is True
    actions = _actions(app, world.a.id)
    assert "product.deactivated" in actions and "product.reactivated" in actions
    assert _config_version(app, world.a.id) == before + 2


def test_deactivating_an_inactive_product_is_refused_with_the_reason(app, client, login_as, world):
    product_id = _product(app, world.a.id, _line(app, world.a.id), "SWITCH", active=False)
    login_as("channel_manager")
    assert (
        _post(client, f"/network/products/{product_id}/active", {"active": "0"}).status_code == 302
    )
    assert "SWITCH is inactive already." in _flashed(client)


def test_a_manager_deletes_a_product_nobody_covers(app, client, login_as, world):
    product_id = _product(app, world.a.id, _line(app, world.a.id), "SWITCH")
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    assert _post(client, f"/network/products/{product_id}/delete").status_code == 302
    assert _products(app, world.a.id) == []
    assert "product.deleted" in _actions(app, world.a.id)
    assert _config_version(app, world.a.id) == before + 1


def test_deleting_a_covered_product_is_refused_with_the_reason(app, client, login_as, world):
    product_id = _product(app, world.a.id, _line(app, world.a.id), "SWITCH", covered_by=3)
    login_as("channel_manager")
    assert _post(client, f"/network/products/{product_id}/delete").status_code == 302
    assert "3 partners cover SWITCH; remove it from them first" in _flashed(client)
    assert len(_products(app, world.a.id)) == 1


def test_deleting_a_product_that_leads_name_is_refused_with_the_reason(
    app, client, login_as, world
):
    product_id = _product(app, world.a.id, _line(app, world.a.id), "SWITCH", leads=1)
    login_as("channel_manager")
    assert _post(client, f"/network/products/{product_id}/delete").status_code == 302
    assert "1 lead asks for SWITCH; deactivate it instead" in _flashed(client)
    assert len(_products(app, world.a.id)) == 1


# Access ------------------------------------------------------------------------------------


def test_vendor_staff_can_read_but_not_change_products(app, client, login_as, world):
    line_id = _line(app, world.a.id)
    product_id = _product(app, world.a.id, line_id, "SWITCH")
    login_as("vendor_staff")
    assert client.get(INDEX).status_code == 200
    assert client.get(f"/network/products/{product_id}/edit").status_code == 403
    for url in (
        "/network/products/lines/new",
        f"/network/products/lines/{line_id}/delete",
        "/network/products/new",
        f"/network/products/{product_id}/edit",
        f"/network/products/{product_id}/active",
        f"/network/products/{product_id}/delete",
    ):
        assert _post(client, url, {"active": "0"}).status_code == 403, url
    assert _products(app, world.a.id) == [("NET", "SWITCH", "Switch", True)]


def test_a_partner_user_may_not_see_or_change_products(app, client, login_as, world):
    product_id = _product(app, world.a.id, _line(app, world.a.id), "SWITCH")
    login_as("partner_user")
    assert client.get(INDEX).status_code == 403
    token = csrf_token(client, "/")
    response = client.post(f"/network/products/{product_id}/delete", data={"csrf_token": token})
    assert response.status_code == 403


def test_products_and_lines_of_another_tenant_are_not_found(app, client, login_as, world):
    line_id = _line(app, world.b.id)
    product_id = _product(app, world.b.id, line_id, "SWITCH")
    login_as("channel_manager")
    assert client.get(f"/network/products/{product_id}/edit").status_code == 404
    for url in (
        f"/network/products/lines/{line_id}/delete",
        f"/network/products/{product_id}/edit",
        f"/network/products/{product_id}/active",
        f"/network/products/{product_id}/delete",
    ):
        assert _post(client, url, {"active": "0"}).status_code == 404, url
    assert _products(app, world.b.id) == [("NET", "SWITCH", "Switch", True)]
    assert "SWITCH" not in client.get(INDEX).get_data(as_text=True)
