"""Answers to offers and what follows, through the services: accept, reject, expire, recall,
reassign, extend, and the accepted lead's way to SQL, won or lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.db import utcnow
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.leads import offers
from portal.leads.models import Lead, LeadEvent, Offer
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.factories import UserFactory
from tests.integration.test_live_routing import programme, take_in


@pytest.fixture
def routed(app, world):
    """A lead offered to Berlin Nord, and a user of each of the three partners."""
    ids = programme(app, world.a.id)
    lead_id = take_in(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        users = {
            name: UserFactory(
                email=f"{name}@partners.example", role="partner_user", partner_id=pid
            ).id
            for name, pid in ids.items()
        }
        db.session.commit()
        offer_id = db.session.scalar(sa.select(Offer.id).where(Offer.lead_id == lead_id))
    return ids, users, lead_id, offer_id


def run(app, world, fn, *args, user=None, **kwargs):
    with app.app_context(), tenant_scope(world.a.id):
        actor = tenancy.get_user(user) if user else None
        if actor is not None:
            kwargs["actor"] = actor
        return fn(*args, **kwargs)


def state_of(app, world, lead_id):
    with app.app_context(), tenant_scope(world.a.id):
        lead = db.session.get(Lead, lead_id)
        events = db.session.scalars(
            sa.select(LeadEvent).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
        ).all()
        offer_rows = db.session.execute(
            sa.select(Offer.partner_id, Offer.state)
            .where(Offer.lead_id == lead_id)
            .order_by(Offer.id)
        ).all()
        return lead.state, [(e.action, e.to_state) for e in events], [tuple(r) for r in offer_rows]


def test_the_partner_accepts_and_the_lead_is_a_sal(app, world, routed):
    ids, users, lead_id, offer_id = routed
    run(app, world, offers.accept, offer_id, user=users["berlin"])
    state, events, offer_rows = state_of(app, world, lead_id)
    assert state == "accepted" and events[-1] == ("accept", "accepted")
    assert offer_rows == [(ids["berlin"], "accepted")]


def test_another_partner_cannot_answer_the_offer(app, world, routed):
    _, users, lead_id, offer_id = routed
    with pytest.raises(NotFound):
        run(app, world, offers.accept, offer_id, user=users["germany"])
    assert state_of(app, world, lead_id)[0] == "offered"


def test_a_rejected_lead_goes_to_the_next_partner(app, world, routed):
    ids, users, lead_id, offer_id = routed
    run(app, world, offers.reject, offer_id, "not_my_territory", None, user=users["berlin"])
    state, events, offer_rows = state_of(app, world, lead_id)
    assert state == "offered"
    assert [e for e in events[-2:]] == [("reject", "mql"), ("route", "offered")]
    assert offer_rows == [(ids["berlin"], "rejected"), (ids["germany"], "open")]


def test_a_reason_that_needs_a_comment_is_refused_without_one(app, world, routed):
    _, users, lead_id, offer_id = routed
    with app.app_context(), tenant_scope(world.a.id):
        needing = next(r for r in offers.rejection_reasons() if r.comment_required).code
    with pytest.raises(ValidationFailed) as caught:
        run(app, world, offers.reject, offer_id, needing, "  ", user=users["berlin"])
    assert "comment" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        run(app, world, offers.reject, offer_id, "no_such_reason", None, user=users["berlin"])
    assert "reason_code" in caught.value.errors
    assert state_of(app, world, lead_id)[0] == "offered"


def test_an_answer_after_the_deadline_is_refused_and_expiry_moves_the_lead_on(app, world, routed):
    ids, users, lead_id, offer_id = routed
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Offer, offer_id).due_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    with pytest.raises(Conflict, match="deadline for this offer has passed"):
        run(app, world, offers.accept, offer_id, user=users["berlin"])
    assert run(app, world, offers.expire, offer_id) is True
    assert run(app, world, offers.expire, offer_id) is False  # idempotent
    state, events, offer_rows = state_of(app, world, lead_id)
    assert state == "offered" and ("expire", "mql") in events
    assert offer_rows == [(ids["berlin"], "expired"), (ids["germany"], "open")]
    with pytest.raises(Conflict, match="expired"):
        run(app, world, offers.accept, offer_id, user=users["berlin"])


def test_expiry_before_the_deadline_does_nothing(app, world, routed):
    _, _, lead_id, offer_id = routed
    assert run(app, world, offers.expire, offer_id) is False
    assert state_of(app, world, lead_id)[0] == "offered"


def test_a_manager_recalls_extends_and_reassigns_with_reasons(app, world, routed):
    ids, _, lead_id, offer_id = routed
    manager = world.a.manager.id
    with pytest.raises(ValidationFailed):
        run(app, world, offers.extend, offer_id, "5", "", user=manager)
    before = run(app, world, lambda: db.session.get(Offer, offer_id).due_at)
    run(app, world, offers.extend, offer_id, "5", "Partner asked for time", user=manager)
    after = run(app, world, lambda: db.session.get(Offer, offer_id).due_at)
    assert after - before == timedelta(hours=5)
    run(app, world, offers.reassign, lead_id, str(ids["europa"]), "Key account", user=manager)
    state, events, offer_rows = state_of(app, world, lead_id)
    assert state == "offered"
    assert offer_rows == [(ids["berlin"], "recalled"), (ids["europa"], "open")]
    assert [e[0] for e in events[-3:]] == ["extend_deadline", "recall", "assign"]
    europa_offer = run(
        app, world, lambda: db.session.scalar(sa.select(Offer.id).where(Offer.state == "open"))
    )
    run(app, world, offers.recall, europa_offer, "Wrong segment", user=manager)
    state, events, offer_rows = state_of(app, world, lead_id)
    assert offer_rows[-1] == (ids["germany"], "open") and state == "offered"
    actions = run(app, world, lambda: set(db.session.scalars(sa.select(AuditEvent.action))))
    assert {"offer.extended", "offer.recalled", "lead.assigned"} <= actions


def test_the_accepted_lead_moves_to_sql_and_won(app, world, routed):
    _, users, lead_id, offer_id = routed
    run(app, world, offers.accept, offer_id, user=users["berlin"])
    next_month = (utcnow() + timedelta(days=30)).date().isoformat()
    with pytest.raises(ValidationFailed) as caught:
        run(app, world, offers.qualify, lead_id, {"amount": "-5", "close_on": next_month},
            user=users["berlin"])  # fmt: skip
    assert "amount" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        usd = {"amount": "5000", "currency": "USD", "close_on": next_month}
        run(app, world, offers.qualify, lead_id, usd, user=users["berlin"])
    assert "currency" in caught.value.errors
    run(app, world, offers.qualify, lead_id, {"amount": "50,000", "close_on": next_month},
        user=users["berlin"])  # fmt: skip
    with pytest.raises(NotFound):
        run(app, world, offers.win, lead_id, {"amount": "1"}, user=users["germany"])
    today = utcnow().date().isoformat()
    run(app, world, offers.win, lead_id, {"amount": "48000.50", "close_on": today},
        user=users["berlin"])  # fmt: skip
    with app.app_context(), tenant_scope(world.a.id):
        lead = db.session.get(Lead, lead_id)
        assert (lead.state, lead.won_minor, lead.won_currency) == ("won", 4800050, "EUR")
        assert lead.opportunity_minor == 5000000
    with pytest.raises(Conflict):
        run(app, world, offers.lose, lead_id, {"reason": "late"}, user=users["berlin"])


def test_bulk_answers_report_each_offer_on_its_own(app, world, routed):
    _, users, _, offer_id = routed
    second = take_in(app, world.a.id, contact_email="z@spree2.example", company_name="Zwei")
    second_offer = run(
        app, world, lambda: db.session.scalar(sa.select(Offer.id).where(Offer.lead_id == second))
    )
    results = run(
        app, world, offers.answer_many, [offer_id, second_offer, 999999], True, user=users["berlin"]
    )
    assert [(r.offer_id, r.ok) for r in results] == [
        (offer_id, True),
        (second_offer, True),
        (999999, False),
    ]
    with pytest.raises(ValidationFailed):
        run(app, world, offers.answer_many, [], True, user=users["berlin"])


def test_an_inactive_reason_cannot_be_given(app, world, routed):
    from portal.leads.models import RejectionReason

    _, users, lead_id, offer_id = routed
    with app.app_context(), tenant_scope(world.a.id):
        reason = db.session.scalar(
            sa.select(RejectionReason).where(RejectionReason.code == "no_budget")
        )
        reason.active = False
        db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        run(app, world, offers.reject, offer_id, "no_budget", None, user=users["berlin"])
    assert caught.value.errors == {"reason_code": "Choose a reason from the list."}
    assert state_of(app, world, lead_id)[0] == "offered"


def test_a_won_amount_in_another_currency_is_refused(app, world, routed):
    _, users, lead_id, offer_id = routed
    run(app, world, offers.accept, offer_id, user=users["berlin"])
    close_on = (utcnow() + timedelta(days=3)).date().isoformat()
    run(app, world, offers.qualify, lead_id, {"amount": "100", "close_on": close_on},
        user=users["berlin"])  # fmt: skip
    today = utcnow().date().isoformat()
    with pytest.raises(ValidationFailed) as caught:
        won = {"amount": "100", "currency": "GBP", "close_on": today}
        run(app, world, offers.win, lead_id, won, user=users["berlin"])
    assert "EUR" in caught.value.errors["currency"]
    assert state_of(app, world, lead_id)[0] == "sql"
