"""Scorecards added up by the database: the same numbers as the arithmetic on each offer,
answer times kept when offers are answered (and filled in for older ones), tier medians
kept per period, and the ranking for one product."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.db import utcnow
from portal.extensions import db
from portal.leads import offers
from portal.leads.inbox import STILL_OPEN, stale_after
from portal.leads.models import Offer
from portal.partners.models import Partner, PartnerProduct, Product, ProductLine, Tier
from portal.scorecards import metrics, services
from portal.scorecards.models import TierQuality
from portal.scorecards.periods import month_of, parse
from portal.sla.policy import default_policy, sla_calendar
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.conftest import login
from tests.factories import LeadFactory, OfferFactory
from tests.integration.test_offers import routed, run  # noqa: F401  (a fixture)

PAST = parse("2025-03", utcnow().date())
STATES = ("open", "accepted", "accepted", "rejected", "expired", "recalled")
LEAD_STATES = ("accepted", "sql", "won", "lost")


def _random_history(rng, partner_ids, count):
    """count offers of March 2025 to these partners, in every state, with leads in every
    later state; each offer with the outcome the arithmetic expects of it."""
    now, after = utcnow(), stale_after()
    expected = {pid: [] for pid in partner_ids}
    for n in range(count):
        pid = rng.choice(partner_ids)
        state = rng.choice(STATES)
        offered = PAST.starts_at + timedelta(days=rng.randrange(30), minutes=rng.randrange(1440))
        due = offered + timedelta(hours=8)
        answered = state in ("accepted", "rejected")
        decided = offered + timedelta(minutes=rng.randrange(1, 900)) if state != "open" else None
        seconds = rng.choice([None, rng.randrange(0, 200_000)]) if answered else None
        lead_state = rng.choice(LEAD_STATES) if state == "accepted" else "mql"
        won = rng.randrange(1, 10**7) if lead_state == "won" else None
        currency = rng.choice(["EUR", "USD"]) if won else None
        opportunity = rng.choice([None, 50_000]) if lead_state in ("sql", "won", "lost") else None
        touched = now - timedelta(days=rng.randrange(0, 30), hours=12)  # off the stale edge
        lead = LeadFactory(
            state=lead_state, won_minor=won, won_currency=currency,
            opportunity_minor=opportunity, partner_updated_at=touched,
        )  # fmt: skip
        reason = rng.choice(["no_budget", "out_of_area", None]) if state == "rejected" else None
        OfferFactory(
            lead_id=lead.id, partner_id=pid, state=state, offered_at=offered, due_at=due,
            decided_at=decided, response_seconds=seconds, reason_code=reason,
        )  # fmt: skip
        held = state == "accepted"
        expected[pid].append(
            metrics.OfferOutcome(
                state=state,
                reason_code=reason,
                answered_in_time=(decided <= due) if answered else None,
                response_hours=None if seconds is None else seconds / 3600,
                lead_state=lead_state if held else None,
                had_opportunity=held and opportunity is not None,
                won_minor=won if held else None,
                won_currency=currency if held else None,
                stale=held and lead_state in STILL_OPEN and now - touched > after,
            )
        )
        if n % 50 == 0:
            db.session.flush()
    db.session.commit()
    return expected


@pytest.mark.parametrize("seed", [1, 2])
def test_the_database_s_sums_make_the_scorecards_the_arithmetic_makes(app, world, routed, seed):  # noqa: F811
    ids, *_ = routed
    with app.app_context(), tenant_scope(world.a.id):
        expected = _random_history(random.Random(seed), list(ids.values()), 150)
        got = {row.partner_id: row.card for row in services.cards(PAST)}
        weights = services.quality_weights()
        for pid, outcomes in expected.items():
            window = sla_calendar(db.session.get(Partner, pid), default_policy())[0]
            want = metrics.scorecard(outcomes, weights, window.response_hours)
            assert got[pid] == want, pid


def test_an_answer_keeps_its_time_and_older_answers_are_filled_in(app, world, routed):  # noqa: F811
    ids, users, _, offer_id = routed
    run(app, world, offers.accept, offer_id, user=users["berlin"])
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.get(Offer, offer_id).response_seconds is not None
        # An answer from before answer times were kept: Monday 9:00 to Tuesday 9:00.
        old = OfferFactory(
            partner_id=ids["berlin"], state="accepted",
            offered_at=datetime(2025, 3, 3, 8, tzinfo=UTC),
            due_at=datetime(2025, 3, 5, 8, tzinfo=UTC),
            decided_at=datetime(2025, 3, 4, 8, tzinfo=UTC), response_seconds=None,
        )  # fmt: skip
        db.session.commit()
        assert services.fill_answer_times() == 1
        assert services.fill_answer_times() == 0
        seconds = db.session.get(Offer, old.id).response_seconds
    # Business hours count a working day at most, wall-clock hours the whole day.
    assert 0 < seconds <= 24 * 3600


def test_tier_medians_are_kept_and_worked_out_again_when_old(app, world, routed):  # noqa: F811
    ids, *_ = routed
    with app.app_context(), tenant_scope(world.a.id):
        _random_history(random.Random(3), list(ids.values()), 60)
        first = services.tier_medians(PAST)
        kept = db.session.scalars(sa.select(TierQuality).where(TierQuality.period == PAST.key))
        assert {row.tier_id: row.median for row in kept} == first
        assert any(value is not None for value in first.values())
        # A kept median is read, not worked out: change it and the page sees the change.
        db.session.execute(sa.update(TierQuality).values(median=1.0))
        db.session.commit()
        assert set(services.tier_medians(PAST).values()) == {1.0}
        old = utcnow() - services.TIER_MEDIAN_FRESH - timedelta(minutes=1)
        db.session.execute(sa.update(TierQuality).values(computed_at=old))
        db.session.commit()
        assert services.tier_medians(PAST) == first
        staff = tenancy.get_user(world.a.staff.id)
        values = {**services.settings_values(), "weight_sla": "0"}
        services.save_settings({k: str(v) for k, v in values.items()}, actor=staff)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TierQuality)) == 0


def test_the_trend_compares_with_the_tier_s_median(app, world, routed):  # noqa: F811
    ids, *_ = routed
    with app.app_context(), tenant_scope(world.a.id):
        _random_history(random.Random(4), list(ids.values()), 60)
        row = services.partner_card(ids["berlin"], PAST)
        last = services.trend(row, PAST)[-1]
        tier_id = db.session.get(Partner, ids["berlin"]).tier_id
        same_tier = [
            c.card.quality
            for c in services.cards(PAST, tier_id=tier_id)
            if c.card.quality is not None
        ]
    assert last.card == row.card and same_tier
    assert last.tier_median_quality == statistics.median(same_tier)


def test_a_trend_over_several_periods_is_each_period_s_own_scorecard(app, world, routed):  # noqa: F811
    ids, *_ = routed
    april = parse("2025-04", utcnow().date())
    with app.app_context(), tenant_scope(world.a.id):
        _random_history(random.Random(5), list(ids.values()), 80)
        for pid in ids.values():
            row = services.partner_card(pid, april)
            points = services.trend(row, april, count=3)  # February, March (the data), April
            assert [p.period.key for p in points] == ["2025-02", "2025-03", "2025-04"]
            for point in points:
                assert point.card == services.partner_card(pid, point.period).card
            assert points[1].card.offered > 0 and points[0].card.offered == 0


def test_the_ranking_for_a_product_counts_its_leads_by_the_partners_that_sell_it(
    app,
    world,
    client,
    routed,  # noqa: F811
):
    ids, *_ = routed
    with app.app_context(), tenant_scope(world.a.id):
        line = db.session.scalar(sa.select(ProductLine)) or ProductLine(code="X", name="X")
        db.session.add(line)
        db.session.flush()
        product = Product(code="NICHE", name="Niche Suite", line_id=line.id)
        db.session.add(product)
        db.session.flush()
        db.session.add(PartnerProduct(partner_id=ids["europa"], product_id=product.id))
        lead = LeadFactory(product_id=product.id, state="accepted")
        OfferFactory(
            lead_id=lead.id, partner_id=ids["europa"], state="accepted",
            offered_at=utcnow(), decided_at=utcnow(), response_seconds=60,
        )  # fmt: skip
        db.session.commit()
        rows = services.cards(month_of(utcnow().date()), product_id=product.id)
        assert [(r.partner_id, r.card.offered, r.card.accepted) for r in rows] == [
            (ids["europa"], 1, 1)
        ]
        product_id = product.id
    login(client, world.a.staff.email)
    page = client.get(f"/scorecards/?product={product_id}").get_data(as_text=True)
    assert page.count('data-testid="ranking-row"') == 1
    assert "Niche Suite" in page and 'data-testid="product-note"' in page
    # Another tenant's product filters to nobody of this tenant's, never to its partners.
    stranger = app.test_client()
    login(stranger, world.b.staff.email)
    other = stranger.get(f"/scorecards/?product={product_id}")
    assert other.status_code == 200
    assert 'data-testid="ranking-row"' not in other.get_data(as_text=True)


def test_a_tier_without_partners_has_no_median(app, world, routed):  # noqa: F811
    with app.app_context(), tenant_scope(world.a.id):
        empty = Tier(name="Empty", rank=9)
        db.session.add(empty)
        db.session.commit()
        assert services.tier_medians(parse("2020-01", utcnow().date()))[empty.id] is None
