"""Feedback for marketing: rejections by source, campaign, product and territory, MQL to SAL
conversion by source and campaign, the page and its CSV files."""

from __future__ import annotations

import csv
import io

import pytest

from portal.db import utcnow
from portal.extensions import db
from portal.leads import offers
from portal.scorecards import feedback
from portal.scorecards.periods import month_of, parse
from portal.tenancy.scoping import tenant_scope
from tests.conftest import login
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in
from tests.integration.test_offers import run
from tests.integration.test_scorecards import open_offer

FORMULA = '=HYPERLINK("http://evil.example")'


@pytest.fixture
def fed(app, world):
    """Three leads from marketing: a webinar lead Berlin Nord rejects for no budget and
    Germany Direct accepts; a second webinar lead Berlin Nord accepts; a trade-fair lead
    of a campaign named like a formula, still waiting."""
    ids = programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        users = {name: UserFactory(email=f"{name}@p.example", role="partner_user",
                                   partner_id=pid).id for name, pid in ids.items()}  # fmt: skip
        db.session.commit()
    one = take_in(app, world.a.id, source="webinar", campaign="Q4 launch",
                  contact_email="a@one.example", company_name="One AG")  # fmt: skip
    run(app, world, offers.reject, open_offer(app, world, one), "no_budget", None,
        user=users["berlin"])  # fmt: skip
    run(app, world, offers.accept, open_offer(app, world, one), user=users["germany"])
    two = take_in(app, world.a.id, source="webinar", campaign="Q4 launch",
                  contact_email="b@two.example", company_name="Two AG")  # fmt: skip
    run(app, world, offers.accept, open_offer(app, world, two), user=users["berlin"])
    take_in(app, world.a.id, source="trade fair", campaign=FORMULA,
            contact_email="c@three.example", company_name="Three AG")  # fmt: skip
    return ids


def test_rejections_by_source_product_and_territory(app, world, fed):
    period = month_of(utcnow().date())
    with app.app_context(), tenant_scope(world.a.id):
        by_source, reasons = feedback.rejections(period, "source")
        by_product, _ = feedback.rejections(period, "product")
        by_territory, _ = feedback.rejections(period, "territory")
    assert [(r.group, r.total, r.by_reason) for r in by_source] == [
        ("webinar", 1, {"no_budget": 1})
    ]
    assert reasons == ["no_budget"]
    assert [r.group for r in by_product] == ["Cloud Backup"]
    assert [r.group for r in by_territory] == ["DE-PC-10"]


def test_mql_to_sal_by_source_and_campaign(app, world, fed):
    period = month_of(utcnow().date())
    with app.app_context(), tenant_scope(world.a.id):
        by_source = feedback.conversion(period, "source")
        by_campaign = feedback.conversion(period, "campaign")
    assert [(r.group, r.mqls, r.sals) for r in by_source] == [
        ("webinar", 2, 2),
        ("trade fair", 1, 0),
    ]
    assert {r.group: r.rate for r in by_campaign} == {"Q4 launch": 1.0, FORMULA: 0.0}


def test_a_period_without_leads_has_empty_states(app, world, fed, client):
    login(client, world.a.staff.email)
    page = client.get("/scorecards/feedback?period=2020-01").get_data(as_text=True)
    assert 'data-testid="no-rejections"' in page and 'data-testid="no-mqls"' in page
    with app.app_context(), tenant_scope(world.a.id):
        assert feedback.conversion(parse("2020-01", utcnow().date()), "source") == []


def test_the_page_groups_as_asked_and_the_csv_keeps_formulas_inert(app, world, fed, client):
    login(client, world.a.manager.email)
    page = client.get("/scorecards/feedback?by=campaign").get_data(as_text=True)
    assert page.count('data-testid="conversion-row"') == 2 and "Q4 launch" in page
    response = client.get("/scorecards/feedback/conversion.csv?by=campaign")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["Campaign", "mqls", "sals", "rate"]
    assert ["'" + FORMULA, "1", "0", "0.0000"] in rows
    rejected = client.get("/scorecards/feedback/rejections.csv?by=source").get_data(True)
    assert list(csv.reader(io.StringIO(rejected)))[1] == ["webinar", "1", "1"]
    assert client.get("/scorecards/feedback?by=nonsense").status_code == 200


def test_feedback_is_for_the_vendor_side_of_the_tenant(app, world, fed, client):
    login(client, world.a.partner_user.email)
    for path in ("/scorecards/feedback", "/scorecards/feedback/rejections.csv",
                 "/scorecards/feedback/conversion.csv"):  # fmt: skip
        assert client.get(path).status_code == 403


def test_another_tenant_sees_none_of_these_leads(app, world, fed, client):
    login(client, world.b.staff.email)
    page = client.get("/scorecards/feedback").get_data(as_text=True)
    assert "webinar" not in page and 'data-testid="no-mqls"' in page
    assert "webinar" not in client.get("/scorecards/feedback/rejections.csv").get_data(True)
