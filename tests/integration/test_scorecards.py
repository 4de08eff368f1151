"""Scorecards: the numbers read from a period's offers, the ranking and partner pages, and who
may see them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.db import utcnow
from portal.extensions import db
from portal.leads import offers
from portal.leads.models import Offer
from portal.partners.models import Partner
from portal.routing.models import RoutingSettings
from portal.scorecards import services
from portal.scorecards.periods import month_of, parse
from portal.scorecards.services import recompute_quality
from portal.scorecards.tasks import recompute_quality_everywhere
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.services import note_config_change
from tests.conftest import login, post_form
from tests.factories import LeadFactory, OfferFactory
from tests.integration.test_live_routing import take_in
from tests.integration.test_offers import routed, run  # noqa: F401  (a fixture)


def open_offer_id(lead_id):
    """The lead's open offer, in the tenant in scope."""
    return db.session.scalar(
        sa.select(Offer.id).where(Offer.lead_id == lead_id, Offer.state == "open")
    )


def open_offer(app, world, lead_id):
    with app.app_context(), tenant_scope(world.a.id):
        return open_offer_id(lead_id)


@pytest.fixture
def worked(app, world, routed):  # noqa: F811
    """Berlin Nord rejects one lead (which goes on to Germany Direct, who accepts and wins
    it) and accepts another; a third lead waits with Berlin Nord."""
    ids, users, first, offer_id = routed
    run(app, world, offers.reject, offer_id, "no_budget", None, user=users["berlin"])
    run(app, world, offers.accept, open_offer(app, world, first), user=users["germany"])
    run(app, world, offers.qualify, first, {"amount": "1000", "close_on": "2027-01-31"},
        user=users["germany"])  # fmt: skip
    today = utcnow().date().isoformat()
    run(app, world, offers.win, first, {"amount": "1200.50", "close_on": today},
        user=users["germany"])  # fmt: skip
    second = take_in(app, world.a.id, contact_email="b@two.example", company_name="Two AG")
    run(app, world, offers.accept, open_offer(app, world, second), user=users["berlin"])
    take_in(app, world.a.id, contact_email="c@three.example", company_name="Three AG")
    return ids, users


def test_the_period_s_offers_make_each_partner_s_numbers(app, world, worked):
    ids, _ = worked
    with app.app_context(), tenant_scope(world.a.id):
        rows = {r.partner_id: r.card for r in services.cards(month_of(utcnow().date()))}
    berlin, germany, europa = rows[ids["berlin"]], rows[ids["germany"]], rows[ids["europa"]]
    assert (berlin.offered, berlin.accepted, berlin.rejected, berlin.open) == (3, 1, 1, 1)
    assert berlin.rejected_by_reason == {"no_budget": 1}
    assert berlin.acceptance_rate == pytest.approx(0.5) and berlin.sla_compliance == 1.0
    assert berlin.sal_to_sql == 0.0 and berlin.response_median_h is not None
    assert (germany.offered, germany.accepted, germany.sal_to_won) == (1, 1, 1.0)
    assert germany.won_revenue == {"EUR": 120050}
    assert germany.quality > berlin.quality
    assert europa.offered == 0 and europa.quality is None


def test_another_period_holds_none_of_these_offers(app, world, worked):
    with app.app_context(), tenant_scope(world.a.id):
        rows = services.cards(parse("2020-01", utcnow().date()))
    assert rows and all(r.card.offered == 0 and r.card.quality is None for r in rows)


def test_the_ranking_sorts_the_best_first_and_partners_without_data_last(app, world, worked):
    ids, _ = worked
    with app.app_context(), tenant_scope(world.a.id):
        rows = services.cards(month_of(utcnow().date()))
    by_quality = [r.partner_id for r in services.ranking(rows, "quality")]
    assert by_quality[:2] == [ids["germany"], ids["berlin"]]
    assert by_quality.index(ids["europa"]) > 1
    assert services.ranking(rows, "name")[0].name == "Berlin Nord"


def test_staff_see_the_ranking_filtered_and_a_partner_s_scorecard(app, world, worked, client):
    ids, _ = worked
    login(client, world.a.staff.email)
    page = client.get("/scorecards/?sort=acceptance_rate").get_data(as_text=True)
    assert 'data-testid="ranking"' in page and "Germany Direct" in page
    gold = client.get("/scorecards/").get_data(as_text=True)
    assert "Berlin Nord" in gold
    one = client.get(f"/scorecards/partners/{ids['germany']}").get_data(as_text=True)
    assert 'data-testid="won-revenue">€1,200.50<' in one
    assert 'data-testid="trend"' in one
    assert "<td>under 1 min</td>" in one  # answered within seconds: not "0.0 h"


def test_a_period_that_is_no_period_is_said_so_and_this_month_shown(app, world, client):
    login(client, world.a.manager.email)
    response = client.get("/scorecards/?period=2026-13")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="period-error"' in page
    assert "not a date that exists" in page
    assert "not a period" in client.get("/scorecards/?period=soon").get_data(as_text=True)


def test_a_partner_without_offers_has_an_empty_state(app, world, client):
    login(client, world.a.partner_user.email)
    response = client.get("/scorecards/mine", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="no-offers"' in page


@pytest.mark.parametrize("role", ["admin", "channel_manager", "vendor_staff"])
def test_the_vendor_side_may_see_scorecards(app, world, client, role):
    login(client, world.a.person(role).email)
    assert client.get("/scorecards/").status_code == 200
    assert client.get(f"/scorecards/partners/{world.a.partner_id}").status_code == 200


def test_a_partner_user_sees_only_its_own_scorecard(app, world, client):
    login(client, world.a.partner_user.email)
    assert client.get(f"/scorecards/partners/{world.a.partner_id}").status_code == 200
    assert client.get(f"/scorecards/partners/{world.a.other_partner_id}").status_code == 404
    assert client.get("/scorecards/").status_code == 403


def test_another_tenant_s_partners_are_neither_found_nor_ranked(app, world, worked, client):
    ids, _ = worked
    login(client, world.b.staff.email)
    assert client.get(f"/scorecards/partners/{ids['germany']}").status_code == 404
    assert client.get(f"/scorecards/partners/{world.a.partner_id}").status_code == 404
    ranking = client.get("/scorecards/").get_data(as_text=True)
    assert "Germany Direct" not in ranking and "Berlin Nord" not in ranking


def test_scorecards_need_a_signed_in_user(client):
    assert client.get("/scorecards/").status_code == 302
    assert client.get("/scorecards/partners/1").status_code == 302


def _history(app, world, partner_id, state, count):
    """Offers of an hour ago that the partner accepted at once, or let run out."""
    with app.app_context(), tenant_scope(world.a.id):
        now = utcnow()
        for _ in range(count):
            lead = LeadFactory(state="accepted" if state == "accepted" else "mql")
            OfferFactory(
                lead_id=lead.id, partner_id=partner_id, state=state,
                offered_at=now - timedelta(hours=1), due_at=now - timedelta(minutes=1),
                decided_at=now - timedelta(minutes=59 if state == "accepted" else 1),
                response_seconds=60 if state == "accepted" else None,
            )  # fmt: skip
        db.session.commit()
        recompute_quality()


def _first_offers(app, world, ids, users, count):
    """Take in count leads, each accepted by the partner it is offered to; those partners."""
    first = []
    for n in range(count):
        lead_id = take_in(app, world.a.id, contact_email=f"q@{n}-{id(first)}.example",
                          company_name=f"Quality {n} {id(first)}")  # fmt: skip
        with app.app_context(), tenant_scope(world.a.id):
            offer = db.session.scalar(sa.select(Offer).where(Offer.lead_id == lead_id))
            offer_id, partner_id = offer.id, offer.partner_id
        first.append(partner_id)
        name = next(k for k, v in ids.items() if v == partner_id)
        run(app, world, offers.accept, offer_id, user=users[name])
    return first


def test_a_partner_whose_quality_falls_is_offered_fewer_leads(app, world, routed):  # noqa: F811
    ids, users, _, offer_id = routed
    run(app, world, offers.recall, offer_id, "Not part of this test.", user=world.a.manager.id)
    with app.app_context(), tenant_scope(world.a.id):
        settings = db.session.scalar(sa.select(RoutingSettings))
        settings.weight_territory = settings.weight_tier = settings.weight_capacity = 0
        settings.weight_fairness, settings.weight_quality = 0, 100
        db.session.execute(sa.update(Partner).values(capacity=100))
        note_config_change()
        db.session.commit()
    for partner_id in ids.values():  # the same good record each
        _history(app, world, partner_id, "accepted", 4)
    before = _first_offers(app, world, ids, users, 6)
    assert before.count(ids["germany"]) >= 1  # alike, the partners take turns
    _history(app, world, ids["germany"], "expired", 8)
    with app.app_context(), tenant_scope(world.a.id):
        quality = dict(db.session.execute(sa.select(Partner.id, Partner.quality)).all())
    assert quality[ids["germany"]] < min(quality[ids["berlin"]], quality[ids["europa"]])
    after = _first_offers(app, world, ids, users, 6)
    assert after.count(ids["germany"]) < before.count(ids["germany"])


def test_the_periodic_job_works_out_every_partner_s_quality(app, world, worked):
    ids, _ = worked
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(sa.update(Partner).values(quality=None, quality_at=None))
        db.session.commit()
        version = db.session.scalar(sa.select(Tenant.config_version).where(Tenant.id == world.a.id))
    with app.app_context():
        assert recompute_quality_everywhere() >= 2
    with app.app_context(), tenant_scope(world.a.id):
        quality = dict(db.session.execute(sa.select(Partner.id, Partner.quality)).all())
        moved = db.session.scalar(sa.select(Tenant.config_version).where(Tenant.id == world.a.id))
    assert quality[ids["germany"]] > quality[ids["berlin"]] and quality[ids["europa"]] is None
    assert moved > version  # routing rebuilds its index with the new quality
    with app.app_context():
        assert recompute_quality_everywhere() == 0  # nothing changed since


SETTINGS = {
    "weight_acceptance": "0", "weight_sla": "0", "weight_response": "0",
    "weight_conversion": "100", "quality_window_days": "30",
}  # fmt: skip


def test_a_manager_sets_the_quality_weights_and_qualities_follow(app, world, worked, client):
    ids, _ = worked
    login(client, world.a.manager.email)
    response = post_form(client, "/scorecards/settings", SETTINGS)
    assert response.status_code == 302
    with app.app_context(), tenant_scope(world.a.id):
        quality = dict(db.session.execute(sa.select(Partner.id, Partner.quality)).all())
        audited = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.tenant_id == world.a.id)
        ).all()
    # Conversion alone: Germany Direct won its lead, Berlin Nord's accepted lead is no SQL.
    assert (quality[ids["germany"]], quality[ids["berlin"]]) == (100, 0)
    assert "scorecard_settings.updated" in audited
    page = client.get("/scorecards/settings").get_data(as_text=True)
    assert 'value="30"' in page and 'value="100"' in page


def test_weights_that_count_nothing_or_are_no_numbers_are_refused(app, world, client):
    login(client, world.a.admin.email)
    zero = post_form(client, "/scorecards/settings", {**SETTINGS, "weight_conversion": "0"})
    assert zero.status_code == 400 and "At least one part must count" in zero.get_data(True)
    bad = post_form(client, "/scorecards/settings", {**SETTINGS, "quality_window_days": "3"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "from 7 to 365" in page and "is-invalid" in page
    with app.app_context(), tenant_scope(world.a.id):
        assert services.settings_row() is None  # nothing half-saved


@pytest.mark.parametrize("role", ["vendor_staff", "partner_user"])
def test_only_admins_and_channel_managers_change_scorecard_settings(app, world, client, role):
    login(client, world.a.person(role).email)
    assert client.get("/scorecards/settings").status_code == 403
    assert client.post("/scorecards/settings", data=SETTINGS).status_code in (400, 403)


def test_a_tenant_s_settings_are_its_own(app, world, client):
    login(client, world.b.manager.email)
    assert post_form(client, "/scorecards/settings", SETTINGS).status_code == 302
    with app.app_context(), tenant_scope(world.a.id):
        assert services.settings_row() is None
        assert services.quality_weights().conversion == 20


def test_each_number_links_to_the_offers_it_counts(app, world, worked, client):
    ids, _ = worked
    with app.app_context(), tenant_scope(world.a.id):
        cards = {r.partner_id: r.card for r in services.cards(month_of(utcnow().date()))}
    login(client, world.a.staff.email)
    for name, outcome, count in [
        ("berlin", "offered", 3), ("berlin", "accepted", 1), ("berlin", "rejected", 1),
        ("berlin", "open", 1), ("berlin", "late", cards[ids["berlin"]].late),
        ("germany", "won", 1), ("germany", "sql", 1), ("europa", "offered", 0),
    ]:  # fmt: skip
        url = f"/scorecards/partners/{ids[name]}/offers?outcome={outcome}"
        page = client.get(url).get_data(as_text=True)
        assert page.count('data-testid="offer-row"') == count, (name, outcome)
        if not count:
            assert 'data-testid="no-offers"' in page
    page = client.get(f"/scorecards/partners/{ids['berlin']}").get_data(as_text=True)
    assert f"/scorecards/partners/{ids['berlin']}/offers?" in page
    by_reason = f"/scorecards/partners/{ids['berlin']}/offers?outcome=rejected&reason=no_budget"
    assert client.get(by_reason).get_data(as_text=True).count('data-testid="offer-row"') == 1
    unknown = f"/scorecards/partners/{ids['berlin']}/offers?outcome=everything"
    assert client.get(unknown).status_code == 404


def test_the_offers_behind_a_number_are_for_their_partner_and_tenant_only(app, world, client):
    login(client, world.a.partner_user.email)
    assert client.get(f"/scorecards/partners/{world.a.partner_id}/offers").status_code == 200
    assert client.get(f"/scorecards/partners/{world.a.other_partner_id}/offers").status_code == 404
    assert client.get(f"/scorecards/partners/{world.b.partner_id}/offers").status_code == 404


def test_another_tenant_s_offers_behind_a_number_are_not_found(app, world, client):
    login(client, world.b.staff.email)
    assert client.get(f"/scorecards/partners/{world.a.partner_id}/offers").status_code == 404


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, '<span class="text-muted">no data</span>'),
        (0.0, "under 1 min"),
        (0.25, "15 min"),
        (0.99, "59 min"),
        (0.999, "1.0 h"),
        (5.62, "5.6 h"),
        (48, "48.0 h"),
    ],
)
def test_durations_under_an_hour_are_shown_in_minutes(app, value, shown):
    numbers = app.jinja_env.get_template("scorecards/_numbers.html").module
    assert str(numbers.hours(value)) == shown
