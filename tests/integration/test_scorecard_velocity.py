"""Pipeline velocity from real events: MQL to offer, offer to SAL, SAL to SQL, SQL to won."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from portal.extensions import db
from portal.leads import offers
from portal.scorecards import services
from portal.scorecards.periods import parse
from portal.tenancy.scoping import tenant_scope
from tests.conftest import login
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in
from tests.integration.test_offers import run
from tests.integration.test_scorecards import open_offer

T0 = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def travelled(app, world):
    """A lead of June taken in at 9:00, accepted two hours later, an opportunity the next
    day and won two days after that; all in June."""
    with time_machine.travel(T0, tick=False):
        ids = programme(app, world.a.id)
        with app.app_context(), tenant_scope(world.a.id):
            user = UserFactory(email="b@p.example", role="partner_user", partner_id=ids["berlin"])
            db.session.commit()
            user_id = user.id
        lead_id = take_in(app, world.a.id)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        run(app, world, offers.accept, open_offer(app, world, lead_id), user=user_id)
    with time_machine.travel(T0 + timedelta(hours=26), tick=False):
        run(app, world, offers.qualify, lead_id, {"amount": "5000", "close_on": "2026-07-31"},
            user=user_id)  # fmt: skip
    with time_machine.travel(T0 + timedelta(hours=74), tick=False):
        run(app, world, offers.win, lead_id, {"amount": "5000", "close_on": "2026-06-13"},
            user=user_id)  # fmt: skip
    return ids


def test_each_stage_of_the_period_is_timed(app, world, travelled):
    with app.app_context(), tenant_scope(world.a.id):
        overall, rows = services.pipeline_velocity(parse("2026-06", T0.date()), "partner")
        _, tiers = services.pipeline_velocity(parse("2026-06", T0.date()), "tier")
        _, july = services.pipeline_velocity(parse("2026-07", T0.date()), "partner")
    medians = {stage: v.median_h for stage, v in overall.stages.items()}
    assert medians == {"mql_to_offer": 0.0, "offer_to_sal": 2.0, "sal_to_sql": 24.0,
                       "sql_to_won": 48.0}  # fmt: skip
    assert [r.label for r in rows] == ["Berlin Nord"] and [r.label for r in tiers] == ["Silver"]
    assert july == []


def test_the_velocity_page_groups_and_has_an_empty_state(app, world, travelled, client):
    login(client, world.a.staff.email)
    page = client.get("/scorecards/velocity?period=2026-06&by=product").get_data(as_text=True)
    assert 'data-testid="velocity-all"' in page and "Cloud Backup" in page
    assert "24.0 h" in page and "48.0 h" in page
    empty = client.get("/scorecards/velocity?period=2026-05").get_data(as_text=True)
    assert 'data-testid="no-velocity"' in empty


def test_velocity_is_for_the_vendor_side_of_the_tenant(app, world, travelled, client):
    login(client, world.a.partner_user.email)
    assert client.get("/scorecards/velocity").status_code == 403


def test_another_tenant_sees_no_velocity_of_these_leads(app, world, travelled, client):
    login(client, world.b.staff.email)
    page = client.get("/scorecards/velocity?period=2026-06").get_data(as_text=True)
    assert 'data-testid="no-velocity"' in page and "Berlin Nord" not in page
