"""A channel manager describes a piece of the network in the browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.tenancy.scoping import tenant_scope
from tests.browser.conftest import LiveServer
from tests.browser.test_smoke import sign_in
from tests.factories import ProductFactory


def test_a_manager_creates_a_postal_territory_and_gives_it_with_a_product_to_a_partner(
    page: Page, live_server: LiveServer
) -> None:
    with live_server.app.app_context(), tenant_scope(live_server.a.id):
        ProductFactory(code="EF", name="Edge Firewall")
        db.session.commit()
    sign_in(page, live_server, live_server.a.manager.email)

    page.goto("/network/territories/new")
    page.get_by_label("Kind").select_option("postal")
    page.get_by_label("Country", exact=True).fill("DE")
    page.get_by_label("Postal prefix").fill("80")
    page.get_by_role("button", name="Save territory").click()
    expect(page.get_by_role("alert").first).to_contain_text("Territory DE-PC-80 added")

    page.goto(f"/partners/{live_server.a.partner_id}")
    page.get_by_label("Territory").select_option(label="DE-PC-80 · Germany, postal codes 80…")
    page.get_by_role("button", name="Add territory").click()
    expect(page.get_by_role("alert").first).to_contain_text("Territory DE-PC-80 added.")
    page.get_by_label("Product", exact=True).select_option(label="Edge Firewall (EF)")
    page.get_by_label("Certification").select_option(label="Expert")
    page.get_by_role("button", name="Add product").click()

    expect(page.get_by_test_id("partner-territories")).to_contain_text("DE-PC-80")
    expect(page.get_by_test_id("partner-products")).to_contain_text("Edge Firewall")
    expect(page.get_by_test_id("partner-products")).to_contain_text("Expert")
