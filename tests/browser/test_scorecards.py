"""Scorecards in the browser: staff rank the partners, open one, see its charts drawn and
follow a number to the offers behind it; a partner user sees its own scorecard."""

from __future__ import annotations

import re

from playwright.sync_api import ConsoleMessage, Page, Response, expect

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

DRAWN = re.compile(r"box-sizing: border-box")


def test_staff_rank_partners_see_the_charts_and_the_offers_behind_a_number(
    page: Page, live_server: LiveServer
) -> None:
    app = live_server.app
    with app.app_context():
        tenant = build_tenant("scorecards-flow")
    ids = programme(app, tenant.id)
    with app.app_context(), tenant_scope(tenant.id):
        user = UserFactory(
            email="berlin@scorecards-flow.example", role="partner_user", partner_id=ids["berlin"]
        )
        db.session.commit()
        user_id = user.id
    for n in range(2):
        lead_id = take_in(app, tenant.id, contact_email=f"c@{n}.example", company_name=f"Co {n}")
        with app.app_context(), tenant_scope(tenant.id):
            actor = tenancy.get_user(user_id)
            offer_id = open_offer_id(lead_id)
            if n == 0:
                offers.accept(offer_id, actor=actor)
            else:
                offers.reject(offer_id, "no_budget", None, actor=actor)
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "status of 404" not in message.text:
            problems.append(message.text)  # a script error, or the security policy refusing

    def response(answer: Response) -> None:
        if answer.status >= 400 and not answer.url.endswith("/favicon.ico"):
            problems.append(f"{answer.status} {answer.url}")

    page.on("console", console)
    page.on("response", response)
    sign_in(page, live_server, "vendor_staff@scorecards-flow.example")
    page.get_by_test_id("nav").get_by_role("link", name="Scorecards", exact=True).click()
    ranking = page.get_by_test_id("ranking")
    expect(ranking).to_contain_text("Berlin Nord")
    page.get_by_role("link", name="Accepted").click()  # sort by acceptance
    expect(page.get_by_test_id("ranking-row").first).to_contain_text("Berlin Nord")
    page.get_by_role("link", name="Berlin Nord").click()
    expect(page.get_by_test_id("partner-name")).to_have_text("Berlin Nord")
    expect(page.get_by_test_id("acceptance")).to_have_text("50%")
    for chart in ("chart-trend", "chart-funnel", "chart-response", "chart-reasons"):
        # Drawn by Chart.js under the page's content security policy, which sizes the canvas
        # when it draws. (Not wait_for_function: polling a string predicate needs eval,
        # which that policy refuses whenever the chart is not drawn at the first look.)
        expect(page.locator(f"#{chart}")).to_have_attribute("style", DRAWN)
    page.get_by_test_id("behind-rejected-no_budget").click()
    expect(page.get_by_test_id("offer-row")).to_have_count(1)
    expect(page.get_by_test_id("offer-row")).to_contain_text("Co 1")
    assert problems == []

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, "berlin@scorecards-flow.example")
    page.get_by_test_id("nav").get_by_role("link", name="My scorecard", exact=True).click()
    expect(page.get_by_test_id("partner-name")).to_have_text("Berlin Nord")
    expect(page.get_by_test_id("offered")).to_have_text("2")
    page.goto(f"/scorecards/partners/{ids['germany']}")
    expect(page.get_by_test_id("error-page")).to_be_visible()
