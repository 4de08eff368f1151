"""The partner's pages: the inbox, an offer, accept and reject (one or many), and the
accepted lead's way to SQL, won or lost; what other partners, tenants and roles get."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.db import utcnow
from portal.extensions import db
from portal.leads import offers
from portal.leads.models import Lead, LeadEvent, Offer
from portal.tenancy.scoping import tenant_scope
from tests.conftest import PASSWORD, csrf_token, login, post_form
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in


@pytest.fixture
def offered(app, world):
    """Two leads offered to Berlin Nord, and a signed-in-able user of each partner."""
    ids = programme(app, world.a.id)
    first = take_in(app, world.a.id, contact_name="Anna Weber", contact_phone="+49 30 1234")
    second = take_in(app, world.a.id, company_name="Havel AG", contact_email="b@havel.example")
    with app.app_context(), tenant_scope(world.a.id):
        users = {
            name: UserFactory(email=f"{name}@partners.example", role="partner_user", partner_id=pid)
            for name, pid in ids.items()
        }
        db.session.commit()
        offer_ids = {
            lead: db.session.scalar(sa.select(Offer.id).where(Offer.lead_id == lead))
            for lead in (first, second)
        }
        emails = {name: user.email for name, user in users.items()}
    return ids, emails, (first, second), offer_ids


def sign_in(client, email):
    assert login(client, email, PASSWORD).status_code == 302


def offer_state(app, world, offer_id):
    with app.app_context(), tenant_scope(world.a.id):
        offer = db.session.get(Offer, offer_id)
        return offer.state, offer.lead.state, offer.opened_at


def test_the_inbox_lists_offers_by_urgency_with_time_left_and_no_contact(
    app, client, world, offered
):
    _, emails, (first, second), offer_ids = offered
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Offer, offer_ids[second]).due_at = utcnow() + timedelta(minutes=30)
        db.session.commit()
    sign_in(client, emails["berlin"])
    page = client.get("/inbox/").get_data(as_text=True)
    rows = re.findall(r'data-testid="offer-row-(\d+)"', page)
    assert rows == [str(offer_ids[second]), str(offer_ids[first])]
    assert "30 minutes left" in page or "29 minutes left" in page
    assert "text-bg-danger" in page
    assert "Anna Weber" not in page and "anna@spree.example" not in page


def statements_of(client, path):
    """The response to a GET of the path, and the SQL statements answering it ran."""
    seen = []

    def record(connection, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        response = client.get(path)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    return response, seen


def _statements(client, path):
    response, seen = statements_of(client, path)
    assert response.status_code == 200
    return seen


def test_the_inbox_reads_no_routing_explanation_and_as_many_queries_for_more_offers(
    app, client, world, offered, monkeypatch
):
    _, emails, _, offer_ids = offered
    with app.app_context(), tenant_scope(world.a.id):
        assert all(db.session.get(Offer, i).explanation for i in offer_ids.values())
    monkeypatch.setitem(app.config, "KEPT_PAGE_SECONDS", 0)  # what drawing a page costs
    sign_in(client, emails["berlin"])
    two = _statements(client, "/inbox/")
    take_in(app, world.a.id, company_name="Dahme Werft GmbH", contact_email="c@dahme.example")
    three = _statements(client, "/inbox/")
    assert len(re.findall(r'data-testid="offer-row-', client.get("/inbox/").get_data(True))) == 3
    assert len(three) == len(two)
    assert not [s for s in three if "explanation" in s or "score_breakdown" in s]


def test_the_inbox_is_paged_the_nearest_deadline_first(app, client, world, offered, monkeypatch):
    _, emails, (first, second), offer_ids = offered
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Offer, offer_ids[second]).due_at = utcnow() + timedelta(minutes=30)
        db.session.commit()
    monkeypatch.setitem(app.config, "PAGE_SIZE", 1)
    sign_in(client, emails["berlin"])

    def rows(path):
        page = client.get(path).get_data(as_text=True)
        return re.findall(r'data-testid="offer-row-(\d+)"', page), page

    shown, page = rows("/inbox/")
    assert shown == [str(offer_ids[second])]
    assert "2 in all, page 1 of 2" in page and 'href="/inbox/?page=2"' in page
    assert rows("/inbox/?page=2")[0] == [str(offer_ids[first])]
    # Past the last page (the last offer there was answered meanwhile): the last page.
    shown, page = rows("/inbox/?page=9")
    assert shown == [str(offer_ids[first])] and "page 2 of 2" in page
    assert rows("/inbox/?page=oops")[0] == [str(offer_ids[second])]
    monkeypatch.setitem(app.config, "KEPT_PAGE_SECONDS", 0)  # what drawing a page costs
    assert len(_statements(client, "/inbox/?page=2")) == len(_statements(client, "/inbox/"))


def test_opening_an_offer_is_recorded_once_and_hides_the_contact(app, client, world, offered):
    _, emails, (first, _), offer_ids = offered
    sign_in(client, emails["berlin"])
    page = client.get(f"/inbox/offers/{offer_ids[first]}").get_data(as_text=True)
    assert 'data-testid="contact-hidden"' in page and "Anna Weber" not in page
    assert "Spree Logistik GmbH" in page and "left</strong> to answer" in page
    assert '<dt class="col-5">Budget</dt>' in page and "not known" in page  # no BANT given
    opened = offer_state(app, world, offer_ids[first])[2]
    assert opened is not None
    client.get(f"/inbox/offers/{offer_ids[first]}")
    assert offer_state(app, world, offer_ids[first])[2] == opened
    with app.app_context(), tenant_scope(world.a.id):
        count = db.session.scalar(
            sa.select(sa.func.count(LeadEvent.id)).where(LeadEvent.action == "open_offer")
        )
    assert count == 1


def test_an_offer_that_closed_while_its_page_was_made_is_not_marked_opened(app, world, offered):
    ids, _, (first, _), offer_ids = offered
    with app.app_context(), tenant_scope(world.a.id):
        offer = offers.partner_offer(offer_ids[first], ids["berlin"])
        assert offer.state == "open" and offer.lead.state == "offered"
        # Expired meanwhile by another transaction: this session still holds the open offer.
        db.session.execute(
            sa.update(Offer)
            .where(Offer.id == offer.id)
            .values(state="expired")
            .execution_options(synchronize_session=False)
        )
        offers.mark_opened(offer, "a partner user")
        opened = db.session.scalar(
            sa.select(sa.func.count(LeadEvent.id)).where(LeadEvent.action == "open_offer")
        )
        assert opened == 0
        assert db.session.scalar(sa.select(Offer.opened_at).where(Offer.id == offer.id)) is None


def test_accepting_shows_the_contact_and_a_second_accept_is_told_why(app, client, world, offered):
    _, emails, (first, _), offer_ids = offered
    sign_in(client, emails["berlin"])
    url = f"/inbox/offers/{offer_ids[first]}"
    token = csrf_token(client, url)
    response = client.post(f"{url}/accept", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/inbox/leads/{first}"
    )
    page = client.get(f"/inbox/leads/{first}").get_data(as_text=True)
    assert "Anna Weber" in page and "+49 30 1234" in page
    history = page.split('data-testid="held-history"')[1].split("</ol>")[0]
    assert "Offered to Berlin Nord" in history and "Accepted by Berlin Nord" in history
    assert "Taken in" not in history  # intake and scoring are the vendor's side
    again = client.post(f"{url}/accept", data={"csrf_token": token}, follow_redirects=True)
    assert "This offer was accepted already; nothing was changed." in again.get_data(as_text=True)
    assert offer_state(app, world, offer_ids[first])[:2] == ("accepted", "accepted")


def test_rejecting_needs_a_reason_shown_at_the_field(app, client, world, offered):
    ids, emails, (first, _), offer_ids = offered
    sign_in(client, emails["berlin"])
    url = f"/inbox/offers/{offer_ids[first]}"
    response = post_form(client, f"{url}/reject", {"reason_code": ""}, page=url)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="reason_code-error"' in page
    response = post_form(client, f"{url}/reject", {"reason_code": "other"}, page=url)
    assert response.status_code == 400 and 'id="comment-error"' in response.get_data(as_text=True)
    assert offer_state(app, world, offer_ids[first])[0] == "open"
    response = post_form(
        client, f"{url}/reject", {"reason_code": "other", "comment": "Shell company"}, page=url
    )
    assert response.status_code == 302
    assert offer_state(app, world, offer_ids[first])[:2] == ("rejected", "offered")
    with app.app_context(), tenant_scope(world.a.id):
        next_offer = db.session.scalar(
            sa.select(Offer).where(Offer.lead_id == first, Offer.state == "open")
        )
        assert next_offer.partner_id == ids["germany"]


def test_the_next_partner_sees_only_its_own_offer_in_the_lead_history(app, client, world, offered):
    _, emails, (first, _), offer_ids = offered
    sign_in(client, emails["berlin"])
    url = f"/inbox/offers/{offer_ids[first]}"
    post_form(client, f"{url}/reject", {"reason_code": "no_capacity"}, page=url)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/inbox/")})
    with app.app_context(), tenant_scope(world.a.id):
        second_offer = db.session.scalar(
            sa.select(Offer.id).where(Offer.lead_id == first, Offer.state == "open")
        )
    sign_in(client, emails["germany"])
    url = f"/inbox/offers/{second_offer}"
    assert post_form(client, f"{url}/accept", {}, page=url).status_code == 302
    page = client.get(f"/inbox/leads/{first}").get_data(as_text=True)
    history = page.split('data-testid="held-history"')[1].split("</ol>")[0]
    assert "Offered to Germany Direct" in history and "Accepted by Germany Direct" in history
    assert "Berlin Nord" not in history


def test_an_offer_past_its_deadline_cannot_be_accepted(app, client, world, offered):
    _, emails, (first, _), offer_ids = offered
    sign_in(client, emails["berlin"])
    url = f"/inbox/offers/{offer_ids[first]}"
    token = csrf_token(client, url)
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Offer, offer_ids[first]).due_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.post(f"{url}/accept", data={"csrf_token": token}, follow_redirects=True)
    assert "The deadline for this offer has passed" in response.get_data(as_text=True)
    assert offer_state(app, world, offer_ids[first])[:2] == ("open", "offered")


def test_bulk_accept_and_bulk_reject(app, client, world, offered):
    _, emails, (first, second), offer_ids = offered
    sign_in(client, emails["berlin"])
    token = csrf_token(client, "/inbox/")
    response = client.post(
        "/inbox/answer",
        data={"csrf_token": token, "decision": "reject", "offer_ids": [str(offer_ids[first])]},
        follow_redirects=True,
    )
    assert "Choose a reason from the list." in response.get_data(as_text=True)
    assert offer_state(app, world, offer_ids[first])[0] == "open"
    response = client.post(
        "/inbox/answer",
        data={
            "csrf_token": token,
            "decision": "accept",
            "offer_ids": [str(offer_ids[first]), str(offer_ids[second])],
        },
        follow_redirects=True,
    )
    assert "2 leads accepted." in response.get_data(as_text=True)
    assert offer_state(app, world, offer_ids[second])[:2] == ("accepted", "accepted")


def test_a_bulk_rejection_reads_the_reasons_once(app, client, world, offered, monkeypatch):
    _, emails, (first, second), offer_ids = offered
    # Nothing kept (tests/integration/test_kept_values.py has the reasons kept): one read.
    monkeypatch.setitem(app.config, "KEPT_PAGE_SECONDS", 0)
    sign_in(client, emails["berlin"])
    token = csrf_token(client, "/inbox/")
    seen = []

    def record(connection, cursor, statement, *args):
        seen.append(statement.lower())

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        response = client.post(
            "/inbox/answer",
            data={"csrf_token": token, "decision": "reject", "reason_code": "no_capacity",
                  "offer_ids": [str(offer_ids[first]), str(offer_ids[second])]},
        )  # fmt: skip
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    assert response.status_code == 302
    assert offer_state(app, world, offer_ids[first])[0] == "rejected"
    assert offer_state(app, world, offer_ids[second])[0] == "rejected"
    assert len([s for s in seen if "from rejection_reason" in s]) == 1


def test_the_accepted_lead_goes_to_sql_then_won_with_errors_at_fields(app, client, world, offered):
    _, emails, (first, _), offer_ids = offered
    sign_in(client, emails["berlin"])
    url = f"/inbox/offers/{offer_ids[first]}"
    client.post(f"{url}/accept", data={"csrf_token": csrf_token(client, url)})
    held = f"/inbox/leads/{first}"
    response = post_form(client, f"{held}/qualify", {"amount": "-1", "close_on": ""}, page=held)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="amount-error"' in page
    close_on = (utcnow() + timedelta(days=20)).date().isoformat()
    response = post_form(
        client, f"{held}/qualify", {"amount": "25,000", "close_on": close_on}, page=held
    )
    assert response.status_code == 302
    page = client.get(held).get_data(as_text=True)
    assert "€25,000, expected to close" in page and 'data-testid="win-form"' in page
    future = (utcnow() + timedelta(days=5)).date().isoformat()
    response = post_form(client, f"{held}/win", {"amount": "24000", "close_on": future}, page=held)
    assert response.status_code == 400 and "cannot close in the future" in response.get_data(
        as_text=True
    )
    today = utcnow().date().isoformat()
    post_form(client, f"{held}/win", {"amount": "24000", "close_on": today}, page=held)
    with app.app_context(), tenant_scope(world.a.id):
        lead = db.session.get(Lead, first)
        assert (lead.state, lead.won_minor) == ("won", 2400000)
    listing = client.get("/inbox/leads/?state=won").get_data(as_text=True)
    assert f'held-row-{first}"' in listing and "€24,000" in listing


def test_a_stale_accepted_lead_is_flagged(app, client, world, offered):
    _, emails, (first, _), offer_ids = offered
    sign_in(client, emails["berlin"])
    url = f"/inbox/offers/{offer_ids[first]}"
    client.post(f"{url}/accept", data={"csrf_token": csrf_token(client, url)})
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Lead, first).partner_updated_at = utcnow() - timedelta(days=15)
        db.session.commit()
    assert 'data-testid="stale"' in client.get("/inbox/leads/").get_data(as_text=True)
    assert 'data-testid="stale-warning"' in client.get(f"/inbox/leads/{first}").get_data(
        as_text=True
    )


def test_another_partner_another_tenant_and_vendor_roles_get_404_or_403(
    app, client, login_as, world, offered
):
    _, emails, (first, _), offer_ids = offered
    sign_in(client, emails["germany"])
    url = f"/inbox/offers/{offer_ids[first]}"
    assert client.get(url).status_code == 404
    token = csrf_token(client, "/inbox/")
    assert client.post(f"{url}/accept", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{url}/reject", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/inbox/leads/{first}").status_code == 404
    response = client.post(
        "/inbox/answer",
        data={"csrf_token": token, "decision": "accept", "offer_ids": [str(offer_ids[first])]},
        follow_redirects=True,
    )
    assert "This offer is not yours to answer." in response.get_data(as_text=True)
    assert offer_state(app, world, offer_ids[first])[0] == "open"
    client.post("/logout", data={"csrf_token": token})
    login_as("partner_user", tenant="b")
    assert client.get(url).status_code == 404
    assert client.get(f"/inbox/leads/{first}").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/inbox/")})
    login_as("channel_manager")
    assert client.get("/inbox/").status_code == 403
    assert client.get(url).status_code == 403
    assert client.get("/inbox/leads/").status_code == 403


def test_the_empty_inbox_and_empty_leads_say_so(client, login_as):
    login_as("partner_user")
    assert 'data-testid="inbox-empty"' in client.get("/inbox/").get_data(as_text=True)
    assert 'data-testid="my-leads-empty"' in client.get("/inbox/leads/").get_data(as_text=True)
