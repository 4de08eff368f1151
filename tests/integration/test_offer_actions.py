"""A channel manager's actions on a lead's open offer from the lead page, the stale list,
and the stale setting; tenancy and roles of each."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.db import utcnow
from portal.extensions import db
from portal.leads import offers
from portal.leads.models import Lead, Offer
from portal.routing.models import RoutingSettings
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token, post_form
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in


def _offered(app, world):
    ids = programme(app, world.a.id)
    lead_id = take_in(app, world.a.id)
    return ids, lead_id


def _offers(app, world, lead_id):
    with app.app_context(), tenant_scope(world.a.id):
        return [
            tuple(r)
            for r in db.session.execute(
                sa.select(Offer.partner_id, Offer.state)
                .where(Offer.lead_id == lead_id)
                .order_by(Offer.id)
            )
        ]


def test_the_lead_page_shows_the_open_offer_and_the_manager_forms(app, client, login_as, world):
    _, lead_id = _offered(app, world)
    login_as("channel_manager")
    page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert "Offered to Berlin Nord" in page and 'data-testid="unopened"' in page
    for form in ("recall-form", "extend-form", "reassign-form"):
        assert f'data-testid="{form}"' in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/leads/")})
    login_as("vendor_staff")
    page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert "Offered to Berlin Nord" in page and 'data-testid="recall-form"' not in page


def test_recall_needs_a_reason_then_moves_the_lead_on(app, client, login_as, world):
    ids, lead_id = _offered(app, world)
    login_as("channel_manager")
    page_url = f"/leads/{lead_id}"
    response = post_form(client, f"{page_url}/offer/recall", {"reason": ""}, page=page_url)
    assert "Say why" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _offers(app, world, lead_id) == [(ids["berlin"], "open")]
    post_form(client, f"{page_url}/offer/recall", {"reason": "Wrong region"}, page=page_url)
    assert _offers(app, world, lead_id) == [(ids["berlin"], "recalled"), (ids["germany"], "open")]


def test_extend_and_reassign_from_the_lead_page(app, client, login_as, world):
    ids, lead_id = _offered(app, world)
    login_as("channel_manager")
    page_url = f"/leads/{lead_id}"
    post_form(
        client, f"{page_url}/offer/extend", {"hours": "24", "reason": "Holiday"}, page=page_url
    )
    with app.app_context(), tenant_scope(world.a.id):
        offer = db.session.scalar(sa.select(Offer).where(Offer.lead_id == lead_id))
        assert offer.due_at - offer.offered_at >= timedelta(hours=24 + 16)
    response = post_form(
        client, f"{page_url}/offer/extend", {"hours": "0", "reason": "x"}, page=page_url
    )
    assert "Give a whole number of hours" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    post_form(
        client,
        f"{page_url}/offer/reassign",
        {"partner_id": str(ids["europa"]), "reason": "Key account"},
        page=page_url,
    )
    assert _offers(app, world, lead_id) == [(ids["berlin"], "recalled"), (ids["europa"], "open")]
    page = client.get(page_url).get_data(as_text=True)
    assert "Offered to Europa Partners" in page and "Chosen by hand" in page


def test_actions_on_a_lead_without_an_open_offer_are_refused_with_a_message(
    app, client, login_as, world
):
    _, lead_id = _offered(app, world)
    with app.app_context(), tenant_scope(world.a.id):
        offer = db.session.scalar(sa.select(Offer).where(Offer.lead_id == lead_id))
        db.session.get(Offer, offer.id).state = "accepted"
        db.session.get(Lead, lead_id).state = "accepted"
        db.session.commit()
    login_as("channel_manager")
    page_url = f"/leads/{lead_id}"
    token = csrf_token(client, page_url)
    response = client.post(
        f"{page_url}/offer/recall", data={"csrf_token": token, "reason": "x"}, follow_redirects=True
    )
    assert "has no open offer now" in response.get_data(as_text=True)


def test_other_tenants_get_404_and_lower_roles_403(app, client, login_as, world):
    _, lead_id = _offered(app, world)
    login_as("channel_manager", tenant="b")
    token = csrf_token(client, "/leads/")
    for action in ("recall", "extend", "reassign"):
        response = client.post(
            f"/leads/{lead_id}/offer/{action}", data={"csrf_token": token, "reason": "x"}
        )
        assert response.status_code == 404, action
    client.post("/logout", data={"csrf_token": token})
    login_as("vendor_staff")
    token = csrf_token(client, "/leads/")
    for action in ("recall", "extend", "reassign"):
        response = client.post(
            f"/leads/{lead_id}/offer/{action}", data={"csrf_token": token, "reason": "x"}
        )
        assert response.status_code == 403, action
    assert _offers(app, world, lead_id)[0][1] == "open"


def test_stale_leads_are_listed_for_managers_and_the_days_are_a_setting(
    app, client, login_as, world
):
    ids, lead_id = _offered(app, world)
    with app.app_context(), tenant_scope(world.a.id):
        user = UserFactory(email="b@berlin.example", role="partner_user", partner_id=ids["berlin"])
        db.session.commit()
        offer_id = db.session.scalar(sa.select(Offer.id).where(Offer.lead_id == lead_id))
        offers.accept(offer_id, actor=tenancy.get_user(user.id))
        db.session.get(Lead, lead_id).partner_updated_at = utcnow() - timedelta(days=10)
        db.session.commit()
    login_as("vendor_staff")
    assert 'data-testid="stale-empty"' in client.get("/leads/stale/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/leads/")})
    login_as("channel_manager")
    response = post_form(
        client, "/network/routing/stale", {"stale_after_days": "0"}, page="/network/routing/"
    )
    assert response.status_code == 400
    assert 'id="stale_after_days-error"' in response.get_data(as_text=True)
    post_form(client, "/network/routing/stale", {"stale_after_days": "7"}, page="/network/routing/")
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(RoutingSettings.stale_after_days)) == 7
        assert db.session.scalar(
            sa.select(AuditEvent.id).where(AuditEvent.action == "routing_settings.stale")
        )
    page = client.get("/leads/stale/").get_data(as_text=True)
    assert f'stale-row-{lead_id}"' in page and "Berlin Nord" in page
    assert 'data-testid="stale"' in client.get(f"/leads/{lead_id}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/leads/")})
    login_as("channel_manager", tenant="b")
    assert f"stale-row-{lead_id}" not in client.get("/leads/stale/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/leads/")})
    login_as("partner_user")
    assert client.get("/leads/stale/").status_code == 403


def test_a_lead_gone_stale_is_flagged_once_and_its_managers_are_told(app, world):
    from portal.leads import inbox
    from portal.notifications.models import Notification

    ids, lead_id = _offered(app, world)
    with app.app_context(), tenant_scope(world.a.id):
        user = UserFactory(email="s@berlin.example", role="partner_user", partner_id=ids["berlin"])
        db.session.commit()
        offer_id = db.session.scalar(sa.select(Offer.id).where(Offer.lead_id == lead_id))
        offers.accept(offer_id, actor=tenancy.get_user(user.id))
        assert inbox.flag_new_stale_leads() == 0
        db.session.get(Lead, lead_id).partner_updated_at = utcnow() - timedelta(days=15)
        db.session.commit()
        assert inbox.flag_new_stale_leads() == 1
        assert inbox.flag_new_stale_leads() == 0  # once per silence
        told = db.session.scalars(
            sa.select(Notification).where(Notification.user_id == world.a.manager.id)
        ).all()
        assert any("Stale lead" in n.text for n in told)
        # A month on: the partner moved it on 20 days ago and has been silent since.
        from portal.leads.models import LeadEvent

        flag = db.session.scalar(sa.select(LeadEvent).where(LeadEvent.action == "stale"))
        flag.at = utcnow() - timedelta(days=30)
        db.session.get(Lead, lead_id).partner_updated_at = utcnow() - timedelta(days=20)
        db.session.commit()
        assert inbox.flag_new_stale_leads() == 1
