"""The lead page's routing table and the unroutable queue: reasons, manual assignment
(audited, shown as manual), direct sales, retry after a change; tenancy and roles."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.leads.models import Lead, LeadEvent, Offer
from portal.partners.models import Partner
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.services import note_config_change
from tests.conftest import csrf_token, post_form
from tests.integration.test_live_routing import (
    cover,
    lead_and_events,
    offers_of,
    programme,
    take_in,
)

QUEUE = "/leads/unroutable/"


def _unroutable(app, world) -> tuple[dict[str, int], int]:
    ids = programme(app, world.a.id)
    return ids, take_in(app, world.a.id, product="DR")


def test_the_lead_page_explains_why_this_partner_and_who_else(app, client, login_as, world):
    programme(app, world.a.id)
    lead_id = take_in(app, world.a.id)
    login_as("vendor_staff")
    page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert 'data-testid="routing-candidates"' in page
    chosen = page.split('data-testid="routing-chosen"')[1].split("</tr>")[0]
    assert "Berlin Nord" in chosen and "a postal-code match" in chosen
    assert "Germany Direct" in page and "Europa Partners" in page
    assert "Offered to Berlin Nord, the best of the eligible partners." in page


def test_the_queue_lists_unroutable_leads_with_their_reasons(app, client, login_as, world):
    _, lead_id = _unroutable(app, world)
    login_as("vendor_staff")
    page = client.get(QUEUE).get_data(as_text=True)
    row = page.split(f'data-testid="unroutable-row-{lead_id}"')[1].split("</tr>")[0]
    assert "3 partners do not offer the lead&#39;s product" in row
    assert "Assign" not in row and "Route again" not in row  # staff may look, not act
    lead_page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert "No eligible partner" in lead_page and "3 partners do not offer" in lead_page


def test_the_queue_is_empty_with_a_message_when_nothing_waits(client, login_as):
    login_as("channel_manager")
    page = client.get(QUEUE).get_data(as_text=True)
    assert 'data-testid="unroutable-empty"' in page and "Route all again" not in page


def test_the_home_page_counts_what_waits_on_the_vendor_side(app, client, login_as, world):
    _unroutable(app, world)
    login_as("channel_manager")
    home = client.get("/").get_data(as_text=True)
    assert 'data-testid="attention"' in home
    assert 'data-testid="attention-unroutable">1<' in home
    assert 'data-testid="attention-duplicates">0<' in home
    assert f'href="{QUEUE}"' in home
    # Another tenant's unroutable lead is not theirs to count.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login_as("channel_manager", "b")
    assert 'data-testid="attention-unroutable">0<' in client.get("/").get_data(as_text=True)


def test_a_partner_s_home_has_no_vendor_side_work(app, client, login_as, world):
    _unroutable(app, world)
    login_as("partner_user")
    home = client.get("/").get_data(as_text=True)
    assert "Leads waiting for your answer" in home and 'data-testid="attention"' not in home


def test_a_manager_assigns_by_hand_which_is_audited_and_shown_as_manual(
    app, client, login_as, world
):
    ids, lead_id = _unroutable(app, world)
    manager = login_as("channel_manager")
    form_page = client.get(f"{QUEUE}{lead_id}").get_data(as_text=True)
    assert "Europa Partners: does not offer the lead&#39;s product" in form_page
    response = post_form(
        client,
        f"{QUEUE}{lead_id}/assign",
        {"partner_id": str(ids["europa"]), "note": "They resell DR informally"},
        page=f"{QUEUE}{lead_id}",
    )
    assert response.status_code == 302
    [offer] = offers_of(app, world.a.id, lead_id)
    assert offer.partner_id == ids["europa"] and offer.assigned_by_id == manager.id
    assert offer.explanation["manual"]["by"] == manager.email
    state, events = lead_and_events(app, world.a.id, lead_id)
    assert state == "offered"
    assert (events[-1].action, events[-1].from_state, events[-1].actor_label) == (
        "assign",
        "unroutable",
        manager.email,
    )
    with app.app_context(), tenant_scope(world.a.id):
        query = sa.select(AuditEvent).where(AuditEvent.action == "lead.assigned")
        record = db.session.scalar(query)
        assert record.changes["partner"] == [None, "Europa Partners"]
        assert record.changes["note"] == "They resell DR informally"
    page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert 'data-testid="routing-manual"' in page and f"Chosen by hand by {manager.email}" in page
    assert "it does not offer the lead&#39;s product" in page


@pytest.mark.parametrize(
    ("partner", "message"),
    [("", "Choose one of this programme"), ("999999", "Choose one of this programme")],
)
def test_assigning_without_a_valid_partner_shows_the_error_at_the_field(
    app, client, login_as, world, partner, message
):
    _, lead_id = _unroutable(app, world)
    login_as("channel_manager")
    response = post_form(
        client, f"{QUEUE}{lead_id}/assign", {"partner_id": partner}, page=f"{QUEUE}{lead_id}"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="partner_id-error"' in page and message in page
    assert offers_of(app, world.a.id, lead_id) == []


def test_a_paused_partner_or_another_tenants_partner_cannot_be_assigned(
    app, client, login_as, world
):
    ids, lead_id = _unroutable(app, world)
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Partner, ids["berlin"]).status = "paused"
        db.session.commit()
    login_as("channel_manager")
    for partner_id, message in (
        (ids["berlin"], "Berlin Nord is paused"),
        (world.b.partner_id, "Choose one of this programme"),
    ):
        response = post_form(
            client,
            f"{QUEUE}{lead_id}/assign",
            {"partner_id": str(partner_id)},
            page=f"{QUEUE}{lead_id}",
        )
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert offers_of(app, world.a.id, lead_id) == []


def test_direct_sales_by_hand_is_audited(app, client, login_as, world):
    _, lead_id = _unroutable(app, world)
    login_as("channel_manager")
    response = post_form(
        client, f"{QUEUE}{lead_id}/direct-sales", {"note": "Key account"}, page=f"{QUEUE}{lead_id}"
    )
    assert response.status_code == 302
    state, events = lead_and_events(app, world.a.id, lead_id)
    assert state == "direct_sales" and events[-1].reason.endswith("Key account")
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "lead.to_direct_sales")
        )
    page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    # By hand, yet no partner was assigned: the record says where the lead went.
    assert "<strong>Handed to direct sales</strong>" in page
    assert "Assigned by hand" not in page


def test_retry_after_a_coverage_change_routes_the_lead(app, client, login_as, world):
    ids, lead_id = _unroutable(app, world)
    other = take_in(app, world.a.id, product="DR", contact_email="x@oder.example")
    login_as("channel_manager")
    token = csrf_token(client, QUEUE)
    response = client.post(f"{QUEUE}{lead_id}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    assert lead_and_events(app, world.a.id, lead_id)[0] == "unroutable"
    with app.app_context(), tenant_scope(world.a.id):
        cover(db.session.get(Partner, ids["germany"]), "DR")
        from portal.partners.models import Territory

        de = db.session.scalar(sa.select(Territory).where(Territory.code == "DE"))
        assert de is not None
        note_config_change()
        db.session.commit()
    page = client.get(QUEUE).get_data(as_text=True)
    assert page.count('data-testid="routable-now"') == 2
    response = client.post(f"{QUEUE}retry", data={"csrf_token": token}, follow_redirects=True)
    assert "Routed 2 leads again: 2 found a partner" in response.get_data(as_text=True)
    for lead in (lead_id, other):
        state, events = lead_and_events(app, world.a.id, lead)
        assert state == "offered" and events[-1].action == "route"
        assert events[-1].actor_label.startswith("routing, retried by")
        assert offers_of(app, world.a.id, lead)[0].partner_id == ids["germany"]


def test_a_lead_that_moved_on_is_not_assigned(app, client, login_as, world):
    ids, lead_id = _unroutable(app, world)
    login_as("channel_manager")
    token = csrf_token(client, f"{QUEUE}{lead_id}")
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Lead, lead_id).state = "direct_sales"
        db.session.commit()
    response = client.post(
        f"{QUEUE}{lead_id}/assign",
        data={"csrf_token": token, "partner_id": str(ids["europa"])},
        follow_redirects=True,
    )
    assert "no longer unroutable; nothing was changed" in response.get_data(as_text=True)
    assert offers_of(app, world.a.id, lead_id) == []


def test_another_tenant_gets_404_and_lower_roles_get_403(app, client, login_as, world):
    ids, lead_id = _unroutable(app, world)
    login_as("channel_manager", tenant="b")
    assert client.get(f"{QUEUE}{lead_id}").status_code == 404
    token = csrf_token(client, QUEUE)
    for action in ("assign", "direct-sales", "retry"):
        response = client.post(
            f"{QUEUE}{lead_id}/{action}",
            data={"csrf_token": token, "partner_id": str(ids["europa"])},
        )
        assert response.status_code == 404, action
    assert f"unroutable-row-{lead_id}" not in client.get(QUEUE).get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token})
    login_as("vendor_staff")
    token = csrf_token(client, QUEUE)
    for action in ("assign", "direct-sales", "retry"):
        response = client.post(f"{QUEUE}{lead_id}/{action}", data={"csrf_token": token})
        assert response.status_code == 403, action
    assert client.post(f"{QUEUE}retry", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login_as("partner_user")
    assert client.get(QUEUE).status_code == 403
    assert client.get(f"{QUEUE}{lead_id}").status_code == 403
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(sa.func.count(Offer.id))) == 0
        assert (
            db.session.scalar(
                sa.select(sa.func.count(LeadEvent.id)).where(LeadEvent.action == "assign")
            )
            == 0
        )


def test_the_leads_page_links_the_queue_with_its_count(app, client, login_as, world):
    _unroutable(app, world)
    login_as("channel_manager")
    page = client.get("/leads/").get_data(as_text=True)
    link = re.search(r'unroutable-link">Unroutable <span class="badge [^"]+">(\d+)', page)
    assert link and link.group(1) == "1"
