"""Partners answer an offer in the browser: one rejects it with a reason, the next accepts
it, sees the contact and wins it; the channel manager follows the whole timeline."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import Dialog, Page, expect

from portal.db import utcnow
from portal.extensions import db
from portal.leads.models import Lead
from portal.tenancy.scoping import tenant_scope
from tests.browser.conftest import LiveServer
from tests.browser.test_smoke import sign_in
from tests.conftest import build_tenant
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in


def _yes_to_confirms(page: Page) -> None:
    def accept(dialog: Dialog) -> None:
        dialog.accept()

    page.on("dialog", accept)


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_one_partner_rejects_the_next_accepts_and_wins_and_the_manager_sees_it_all(
    page: Page, live_server: LiveServer
) -> None:
    app = live_server.app
    with app.app_context():
        tenant = build_tenant("inbox-flow")
    ids = programme(app, tenant.id)
    with app.app_context(), tenant_scope(tenant.id):
        for name in ("berlin", "germany"):
            UserFactory(
                email=f"{name}@inbox-flow.example", role="partner_user", partner_id=ids[name]
            )
        db.session.commit()
    lead_id = take_in(app, tenant.id, contact_name="Anna Weber", contact_phone="+49 30 555")
    _yes_to_confirms(page)

    sign_in(page, live_server, "berlin@inbox-flow.example")
    page.get_by_test_id("nav").get_by_role("link", name="Inbox", exact=True).click()
    row = page.get_by_test_id("inbox-table").get_by_role("row").nth(1)
    expect(row).to_contain_text("Spree Logistik GmbH")
    expect(row.get_by_test_id("time-left")).to_contain_text("left")
    row.get_by_role("link", name="Spree Logistik GmbH").click()
    expect(page.get_by_test_id("contact-hidden")).to_be_visible()
    expect(page.get_by_text("Anna Weber")).to_have_count(0)
    page.get_by_label("Reason").select_option(label="No budget")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("alert").first).to_contain_text("You rejected Spree Logistik GmbH")
    expect(page.get_by_test_id("inbox-empty")).to_be_visible()
    _sign_out(page)

    sign_in(page, live_server, "germany@inbox-flow.example")
    page.goto("/inbox/")
    page.get_by_role("link", name="Spree Logistik GmbH").click()
    page.get_by_role("button", name="Accept this lead").click()
    expect(page.get_by_test_id("lead-contact")).to_contain_text("Anna Weber")
    expect(page.get_by_test_id("lead-contact")).to_contain_text("+49 30 555")
    page.get_by_label("Expected amount").fill("30,000")
    page.get_by_label("Expected close date").fill(utcnow().date().isoformat())
    page.get_by_role("button", name="Save opportunity").click()
    expect(page.get_by_test_id("held-state")).to_have_text("sql")
    page.get_by_label("Amount won").fill("28,500")
    page.get_by_label("Closed on").fill(utcnow().date().isoformat())
    page.get_by_role("button", name="Mark as won").click()
    expect(page.get_by_test_id("held-state")).to_have_text("won")
    expect(page.get_by_test_id("won")).to_contain_text("€28,500")
    _sign_out(page)

    sign_in(page, live_server, "channel_manager@inbox-flow.example")
    page.goto(f"/leads/{lead_id}")
    timeline = page.get_by_test_id("lead-timeline")
    expect(timeline).to_contain_text("Taken in by")
    for action in ("score above", "route", "reject", "accept", "qualify", "win"):
        expect(timeline).to_contain_text(action)
    expect(timeline).to_contain_text("Rejected by Berlin Nord: No budget.")
    expect(page.get_by_test_id("holder")).to_contain_text("Worked by Germany Direct")
    with app.app_context(), tenant_scope(tenant.id):
        assert db.session.scalar(sa.select(Lead.won_minor).where(Lead.id == lead_id)) == 2850000
