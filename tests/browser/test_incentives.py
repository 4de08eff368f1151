"""Incentives in the browser: vendor staff set up a plan and see its example, work out the
month's drafts, approve one and export; the partner user sees the approved statement."""

from __future__ import annotations

from playwright.sync_api import Dialog, Page, expect

from portal.extensions import db
from portal.leads import offers
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.browser.conftest import LiveServer
from tests.browser.test_smoke import sign_in
from tests.conftest import build_tenant
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in
from tests.integration.test_scorecards import open_offer_id


def test_staff_set_a_plan_work_out_and_approve_and_the_partner_sees_it(
    page: Page, live_server: LiveServer
) -> None:
    app = live_server.app
    with app.app_context():
        tenant = build_tenant("incentives-flow")
    ids = programme(app, tenant.id)
    with app.app_context(), tenant_scope(tenant.id):
        user_id = UserFactory(
            email="berlin@incentives-flow.example", role="partner_user", partner_id=ids["berlin"]
        ).id
        db.session.commit()
    lead_id = take_in(app, tenant.id)
    with app.app_context(), tenant_scope(tenant.id):
        offers.accept(open_offer_id(lead_id), actor=tenancy.get_user(user_id))

    def yes(dialog: Dialog) -> None:
        dialog.accept()

    page.on("dialog", yes)
    sign_in(page, live_server, "vendor_staff@incentives-flow.example")
    page.get_by_test_id("nav").get_by_role("link", name="Incentives", exact=True).click()
    expect(page.get_by_test_id("no-plan")).to_be_visible()
    page.get_by_label("Bounty per sales accepted lead kept").fill("-5")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_text("An amount cannot be negative.")).to_be_visible()
    page.get_by_label("Bounty per sales accepted lead kept").fill("150")
    page.get_by_label("Silver: share of won revenue (%)").fill("2.5")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_test_id("example-total")).to_be_visible()
    page.get_by_role("link", name="Statements").click()
    page.get_by_role("button", name="Work out the drafts").click()
    row = page.get_by_test_id("statement-row").filter(has_text="Berlin Nord")
    expect(row).to_contain_text("€150")
    row.get_by_role("link", name="Berlin Nord").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("statement-status")).to_have_text("approved")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, live_server, "berlin@incentives-flow.example")
    page.get_by_test_id("nav").get_by_role("link", name="My statements", exact=True).click()
    expect(page.get_by_test_id("my-statement")).to_have_count(1)
    expect(page.get_by_test_id("statement-total")).to_have_text("€150")
