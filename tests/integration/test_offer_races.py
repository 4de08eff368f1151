"""Answers racing each other: twenty users of one partner accepting one offer at once,
and an accept racing a reject, end with exactly one outcome and matching events.

On PostgreSQL they really race, in threads with real commits on a database of their own;
SQLite allows one writer, so there they run in turn and the outcome is the same.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.errors import Conflict
from portal.extensions import db
from portal.leads import offers
from portal.leads.models import Lead, LeadEvent, Offer
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.conftest import at_once, build_tenant
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in


def _setup(app, users: int):
    with app.app_context():
        tenant = build_tenant("answers")
    ids = programme(app, tenant.id)
    lead_id = take_in(app, tenant.id)
    with app.app_context(), tenant_scope(tenant.id):
        user_ids = [
            UserFactory(
                email=f"u{n}@berlin.example", role="partner_user", partner_id=ids["berlin"]
            ).id
            for n in range(users)
        ]
        db.session.commit()
        offer_id = db.session.scalar(sa.select(Offer.id).where(Offer.lead_id == lead_id))
    return tenant.id, lead_id, offer_id, user_ids


def _answered(user_id, answer):
    def call():
        return answer(tenancy.get_user(user_id))

    return call


def _history(app, tenant_id, lead_id):
    with app.app_context(), tenant_scope(tenant_id):
        lead = db.session.get(Lead, lead_id)
        actions = list(
            db.session.scalars(
                sa.select(LeadEvent.action)
                .where(LeadEvent.lead_id == lead_id)
                .order_by(LeadEvent.id)
            )
        )
        last = db.session.scalar(
            sa.select(LeadEvent.to_state)
            .where(LeadEvent.lead_id == lead_id)
            .order_by(LeadEvent.id.desc())
            .limit(1)
        )
        states = [
            s for s in db.session.scalars(sa.select(Offer.state).where(Offer.lead_id == lead_id))
        ]
        return lead.state, actions, last, states


def test_twenty_accepts_of_one_offer_give_exactly_one_acceptance(race_app):
    tenant_id, lead_id, offer_id, user_ids = _setup(race_app, 20)
    calls = [_answered(uid, lambda user: offers.accept(offer_id, actor=user)) for uid in user_ids]
    outcomes = at_once(race_app, tenant_id, calls)
    won = [o for o in outcomes if isinstance(o, Offer)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(won) == 1 and len(refused) == 19, outcomes
    assert all("accepted already" in str(o) for o in refused)
    state, actions, last, offer_states = _history(race_app, tenant_id, lead_id)
    assert state == last == "accepted" and actions.count("accept") == 1
    assert offer_states == ["accepted"]


def test_an_accept_racing_a_reject_gives_one_outcome(race_app):
    tenant_id, lead_id, offer_id, (first, second) = _setup(race_app, 2)
    calls = [
        _answered(first, lambda user: offers.accept(offer_id, actor=user)),
        _answered(second, lambda user: offers.reject(offer_id, "no_budget", None, actor=user)),
    ]
    outcomes = at_once(race_app, tenant_id, calls)
    assert sum(isinstance(o, Offer) for o in outcomes) == 1, outcomes
    state, actions, last, offer_states = _history(race_app, tenant_id, lead_id)
    assert state == last
    assert actions.count("accept") + actions.count("reject") == 1
    if "accept" in actions:
        assert state == "accepted" and offer_states == ["accepted"]
    else:
        assert state == "offered" and sorted(offer_states) == ["open", "rejected"]
