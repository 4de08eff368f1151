"""A channel manager follows routing in the browser: why a lead went where it went, the
unroutable queue and its actions, and the routing settings."""

from __future__ import annotations

import itertools
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Dialog, Page, expect

from portal.extensions import db
from portal.leads.models import Lead
from portal.tenancy.scoping import tenant_scope
from tests.browser.conftest import LiveServer
from tests.browser.test_smoke import sign_in
from tests.conftest import TenantWorld, build_tenant
from tests.integration.test_live_routing import programme, take_in

_tenants = itertools.count(1)


@pytest.fixture
def tenant(live_server: LiveServer) -> TenantWorld:
    """A tenant of its own for each test, with the small programme of the routing tests.

    The queue, "Route all again" and the settings act on a whole tenant; a fresh one keeps
    each test to its own leads whatever ran before it on the shared live server.
    """
    with live_server.app.app_context():
        world = build_tenant(f"routing-{next(_tenants)}")
    return world


@pytest.fixture
def partners(live_server: LiveServer, tenant: TenantWorld) -> dict[str, int]:
    return programme(live_server.app, tenant.id)


def _accept_confirms(page: Page) -> list[str]:
    """Say yes to every confirm() of the page from now on; the list gets each question."""
    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return questions


def _state(live_server: LiveServer, tenant: TenantWorld, lead_id: int) -> str:
    with live_server.app.app_context(), tenant_scope(tenant.id):
        return db.session.scalar(sa.select(Lead.state).where(Lead.id == lead_id))


def test_the_lead_page_shows_why_the_lead_went_to_its_partner(
    page: Page, live_server: LiveServer, tenant: TenantWorld, partners: dict[str, int]
) -> None:
    lead_id = take_in(live_server.app, tenant.id)
    sign_in(page, live_server, tenant.manager.email)

    page.goto(f"/leads/{lead_id}")
    expect(page.get_by_test_id("lead-state")).to_have_text("offered")
    routing = page.get_by_test_id("lead-routing")
    record = routing.get_by_test_id("routing-record")
    expect(record).to_have_count(1)
    # The newest routing is open: its table is read without a click.
    expect(record.locator("summary")).to_contain_text("Routed by the engine: Berlin Nord")
    expect(record.locator("summary")).to_contain_text("offer open")
    expect(record.get_by_test_id("routing-summary")).to_have_text(
        "Offered to Berlin Nord, the best of the eligible partners."
    )
    chosen = record.get_by_test_id("routing-chosen")
    expect(chosen).to_have_count(1)
    expect(chosen.locator("td").nth(1)).to_have_text(re.compile(r"^Berlin Nord\s+offered$"))
    expect(chosen.locator("td").nth(3)).to_contain_text(
        "covers postal codes starting 10 in Germany, a postal-code match"
    )
    # The other candidates follow in rank order, each with its own territory match in words.
    rows = record.get_by_test_id("routing-candidates").locator("tbody tr")
    expect(rows.locator("td:nth-child(1)")).to_have_text(["1", "2", "3"])
    expect(rows.locator("td:nth-child(2)")).to_have_text(
        [re.compile("^Berlin Nord"), "Germany Direct", "Europa Partners"]
    )
    expect(rows.locator("td:nth-child(4)")).to_contain_text(
        [
            "a postal-code match",
            "covers all of Germany, a country match",
            "covers region EU: Austria, France, Germany, a region match",
        ]
    )
    # Every partner selling the product covers Berlin: nobody was left out.
    expect(record.get_by_test_id("routing-reasons")).to_have_count(0)

    # Closing the record hides the table; the summary line stays.
    record.locator("summary").click()
    expect(chosen).to_be_hidden()
    expect(record.locator("summary")).to_be_visible()


def test_a_manager_assigns_an_unroutable_lead_by_hand(
    page: Page, live_server: LiveServer, tenant: TenantWorld, partners: dict[str, int]
) -> None:
    lead_id = take_in(live_server.app, tenant.id, product="DR", company_name="Isar Recovery AG")
    sign_in(page, live_server, tenant.manager.email)

    page.goto("/leads/unroutable/")
    row = page.get_by_test_id(f"unroutable-row-{lead_id}")
    expect(row).to_contain_text("Isar Recovery AG")
    expect(row).to_contain_text("Disaster Recovery")
    expect(row).to_contain_text("3 partners do not offer the lead's product")
    expect(row.get_by_test_id("routable-now")).to_have_count(0)

    row.get_by_role("link", name="Assign").click()
    expect(page.get_by_role("heading", name="Isar Recovery AG")).to_be_visible()
    expect(page.get_by_test_id("assign-reasons")).to_contain_text(
        "3 partners do not offer the lead's product"
    )
    form = page.get_by_test_id("assign-form")
    form.get_by_label("Partner").select_option(
        label="Germany Direct: does not offer the lead's product"
    )
    form.get_by_label("Note for the record (optional)").fill("Key account in Bavaria")
    questions = _accept_confirms(page)
    form.get_by_role("button", name="Offer to this partner").click()

    expect(page.get_by_role("alert").first).to_contain_text(
        f"Lead {lead_id} offered to Germany Direct, assigned by hand."
    )
    assert questions == ["Offer Isar Recovery AG to the chosen partner?"]
    expect(page.get_by_test_id(f"unroutable-row-{lead_id}")).to_have_count(0)

    page.goto(f"/leads/{lead_id}")
    expect(page.get_by_test_id("lead-state")).to_have_text("offered")
    record = page.get_by_test_id("lead-routing").get_by_test_id("routing-record").first
    expect(record.locator("summary")).to_contain_text("Assigned by hand: Germany Direct")
    manual = record.get_by_test_id("routing-manual")
    expect(manual).to_contain_text(f"Chosen by hand by {tenant.manager.email}")
    expect(manual).to_contain_text("Note: Key account in Bavaria")
    expect(manual).to_contain_text("it does not offer the lead's product")


def test_a_declined_confirm_sends_nothing(
    page: Page, live_server: LiveServer, tenant: TenantWorld, partners: dict[str, int]
) -> None:
    lead_id = take_in(live_server.app, tenant.id, product="DR")
    sign_in(page, live_server, tenant.manager.email)
    page.goto(f"/leads/unroutable/{lead_id}")
    page.get_by_test_id("assign-form").get_by_label("Partner").select_option(
        label="Europa Partners: does not offer the lead's product"
    )
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Offer to this partner").click()

    expect(page).to_have_url(f"{live_server.url}/leads/unroutable/{lead_id}")
    assert _state(live_server, tenant, lead_id) == "unroutable"


def test_route_all_again_after_a_coverage_change_and_hand_a_lead_to_direct_sales(
    page: Page, live_server: LiveServer, tenant: TenantWorld, partners: dict[str, int]
) -> None:
    munich = take_in(
        live_server.app,
        tenant.id,
        product="DR",
        company_name="Isar Recovery AG",
        contact_email="sepp@isar.example",
        postal_code="80331",
        city="München",
    )
    boston = take_in(
        live_server.app,
        tenant.id,
        company_name="Harbor Backup Inc",
        contact_email="joe@harbor.example",
        country="US",
        postal_code="02110",
        city="Boston",
    )
    sign_in(page, live_server, tenant.manager.email)

    # Germany Direct starts to sell Disaster Recovery: the Munich lead finds a partner.
    page.goto(f"/partners/{partners['germany']}")
    page.get_by_label("Product", exact=True).select_option(label="Disaster Recovery (DR)")
    page.get_by_role("button", name="Add product").click()
    expect(page.get_by_test_id("partner-products")).to_contain_text("Disaster Recovery")

    page.goto("/leads/unroutable/")
    expect(
        page.get_by_test_id(f"unroutable-row-{munich}").get_by_test_id("routable-now")
    ).to_have_text("Would go to Germany Direct now")
    expect(page.get_by_test_id(f"unroutable-row-{boston}")).to_contain_text(
        "do not cover the lead's location"
    )
    questions = _accept_confirms(page)
    page.get_by_role("button", name="Route all again").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "Routed 2 leads again: 1 found a partner or the fallback, 1 still has none."
    )
    assert questions == ["Route every unroutable lead again with the configuration as it is now?"]
    expect(page.get_by_test_id(f"unroutable-row-{munich}")).to_have_count(0)
    assert _state(live_server, tenant, munich) == "offered"

    page.get_by_test_id(f"unroutable-row-{boston}").get_by_role("link", name="Assign").click()
    direct = page.get_by_test_id("direct-sales-form")
    direct.get_by_label("Note for the record (optional)").fill("US is sold directly")
    direct.get_by_role("button", name="Hand to direct sales").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        f"Lead {boston} (Harbor Backup Inc) handed to direct sales."
    )
    assert questions[-1] == (
        "Hand Harbor Backup Inc to direct sales? It leaves the partner programme."
    )
    expect(page.get_by_test_id("unroutable-empty")).to_be_visible()

    page.goto(f"/leads/{boston}")
    expect(page.get_by_test_id("lead-state")).to_have_text("direct_sales")
    record = page.get_by_test_id("lead-routing").get_by_test_id("routing-record").first
    expect(record.locator("summary")).to_contain_text("Handed to direct sales")
    expect(record.get_by_test_id("routing-summary")).to_have_text(
        f"Handed to direct sales by {tenant.manager.email}. US is sold directly"
    )
    expect(record.get_by_test_id("routing-manual")).to_contain_text(
        f"Chosen by hand by {tenant.manager.email}"
    )


def test_a_manager_sets_the_fallback_and_the_fairness_cap(
    page: Page, live_server: LiveServer, tenant: TenantWorld, partners: dict[str, int]
) -> None:
    sign_in(page, live_server, tenant.manager.email)
    page.goto("/network/routing/")
    fallback = page.get_by_test_id("fallback-card")
    expect(fallback.get_by_test_id("fallback-now")).to_contain_text("Now:")
    fallback.get_by_label("A default partner").check()
    fallback.get_by_label("Default partner", exact=True).select_option(label="Germany Direct")
    fallback.get_by_role("button", name="Save fallback").click()
    expect(page.get_by_role("alert").first).to_contain_text("Fallback saved.")
    expect(page.get_by_test_id("fallback-now")).to_have_text(
        "Now: The default partner, Germany Direct, takes it."
    )
    fallback = page.get_by_test_id("fallback-card")
    expect(fallback.get_by_label("A default partner")).to_be_checked()
    expect(fallback.get_by_label("Default partner", exact=True)).to_have_value(
        str(partners["germany"])
    )

    fairness = page.get_by_test_id("fairness-card")
    cap = fairness.get_by_label(re.compile("^Highest share of a territory's offers"))
    cap.fill("150")
    fairness.get_by_role("button", name="Save fairness cap").click()
    fairness = page.get_by_test_id("fairness-card")
    cap = fairness.get_by_label(re.compile("^Highest share of a territory's offers"))
    expect(cap).to_have_class(re.compile("is-invalid"))
    expect(cap).to_have_value("150")
    expect(fairness.locator("#fairness_cap_percent-error")).to_have_text(
        "Give a whole number of percent from 1 to 100."
    )
    expect(cap).to_have_attribute("aria-describedby", "fairness_cap_percent-error")
    expect(fairness.get_by_test_id("fairness-now")).to_have_text(
        "Now: No cap: the score alone decides, however often one partner wins."
    )

    cap.fill("30")
    fairness.get_by_label("Counted over the last (days)").fill("60")
    # Enter in a field submits its form, as a keyboard user would.
    cap.press("Enter")
    expect(page.get_by_role("alert").first).to_contain_text("Fairness cap saved.")
    expect(page.get_by_test_id("fairness-now")).to_contain_text(
        "Now: No partner gets more than 30% of a territory's offers over the last 60 days"
    )


def test_vendor_staff_read_the_queue_and_the_settings_without_acting(
    page: Page, live_server: LiveServer, tenant: TenantWorld, partners: dict[str, int]
) -> None:
    lead_id = take_in(live_server.app, tenant.id, product="DR")
    sign_in(page, live_server, tenant.staff.email)

    page.goto("/leads/unroutable/")
    row = page.get_by_test_id(f"unroutable-row-{lead_id}")
    expect(row).to_contain_text("3 partners do not offer the lead's product")
    expect(page.get_by_role("button", name="Route all again")).to_have_count(0)
    expect(row.get_by_role("button")).to_have_count(0)
    row.get_by_role("link", name="Details").click()
    expect(page.get_by_test_id("assign-reasons")).to_be_visible()
    expect(page.get_by_test_id("assign-form")).to_have_count(0)
    expect(page.get_by_test_id("direct-sales-form")).to_have_count(0)

    page.goto("/network/routing/")
    expect(page.get_by_test_id("fallback-now")).to_be_visible()
    expect(page.get_by_test_id("fallback-form")).to_have_count(0)
    expect(page.get_by_test_id("fairness-form")).to_have_count(0)
    expect(page.get_by_role("button")).to_have_text(["Sign out"])
