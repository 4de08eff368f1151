"""A stateful property test of the lead life cycle against the real services.

Hypothesis drives random sequences of intake (and routing), accept, reject, expire,
recall, reassign, retry of unroutable leads, SQL, won and lost; after every step each
lead has at most one open offer, its state matches its last event and its offers, and
no partner was offered a lead twice.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from portal.db import utcnow
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.leads import offers
from portal.leads.models import Lead, LeadEvent, Offer
from portal.partners.models import Partner
from portal.routing import lead_routing
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.conftest import build_tenant
from tests.factories import UserFactory
from tests.integration.test_live_routing import lead_data, programme

_tenants = itertools.count(1)
REFUSALS = (Conflict, NotFound, ValidationFailed)
HELD = {"accepted": "accepted", "sql": "accepted", "won": "accepted", "lost": "accepted"}


def test_random_life_cycles_keep_every_lead_consistent(app):
    class LeadLifeCycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.context = app.app_context()
            self.context.push()
            world = build_tenant(f"machine-{next(_tenants)}")
            self.tenant_id, self.manager_id = world.id, world.manager.id
            self.scope = tenant_scope(self.tenant_id)
            self.scope.__enter__()
            self.partners = programme(app, self.tenant_id)
            for partner_id in self.partners.values():
                db.session.get(Partner, partner_id).capacity = 3
            self.users = {
                pid: UserFactory(
                    email=f"u{pid}-{self.tenant_id}@machine.example",
                    role="partner_user",
                    partner_id=pid,
                ).id
                for pid in self.partners.values()
            }
            db.session.commit()
            self.count = 0

        def teardown(self) -> None:
            self.scope.__exit__(None, None, None)
            db.session.remove()
            self.context.pop()

        # Helpers ---------------------------------------------------------------------

        def _offers(self, state: str) -> list[Offer]:
            db.session.expire_all()
            return list(
                db.session.scalars(sa.select(Offer).where(Offer.state == state).order_by(Offer.id))
            )

        def _leads(self, *states: str) -> list[Lead]:
            db.session.expire_all()
            return list(
                db.session.scalars(sa.select(Lead).where(Lead.state.in_(states)).order_by(Lead.id))
            )

        def _partner_user(self, offer: Offer):
            return tenancy.get_user(self.users[offer.partner_id])

        def _manager(self):
            return tenancy.get_user(self.manager_id)

        def _try(self, call) -> None:
            try:
                call()
            except REFUSALS:
                db.session.rollback()

        # Rules -----------------------------------------------------------------------

        @initialize()
        def some_leads(self):
            for postal in ("10115", "10117", "80331", "80333"):
                self.take_in("CB", postal)

        @rule(
            product=st.sampled_from(["CB", "CB", "DR"]), postal=st.sampled_from(["10115", "80331"])
        )
        def take_in(self, product, postal):
            from portal.leads import intake

            self.count += 1
            data = lead_data(
                product=product,
                postal_code=postal,
                company_name=f"Firm {self.count}",
                contact_email=f"c@firm{self.count}-{self.tenant_id}.example",
            )
            intake.take_in(data, actor="machine", channel="a test")

        @rule(pick=st.integers(0, 10))
        def accept(self, pick):
            open_offers = self._offers("open")
            if open_offers:
                offer = open_offers[pick % len(open_offers)]
                self._try(lambda: offers.accept(offer.id, actor=self._partner_user(offer)))

        @rule(pick=st.integers(0, 10), reason=st.sampled_from(["no_budget", "other", "bogus"]))
        def reject(self, pick, reason):
            open_offers = self._offers("open")
            if open_offers:
                offer = open_offers[pick % len(open_offers)]
                user = self._partner_user(offer)
                self._try(lambda: offers.reject(offer.id, reason, "a comment", actor=user))

        @rule(pick=st.integers(0, 10))
        def expire(self, pick):
            open_offers = self._offers("open")
            if open_offers:
                offer = open_offers[pick % len(open_offers)]
                offer.due_at = utcnow() - timedelta(seconds=1)
                db.session.commit()
                offers.expire(offer.id)

        @rule(pick=st.integers(0, 10))
        def recall(self, pick):
            open_offers = self._offers("open")
            if open_offers:
                offer = open_offers[pick % len(open_offers)]
                self._try(lambda: offers.recall(offer.id, "machine", actor=self._manager()))

        @rule(pick=st.integers(0, 10), partner=st.sampled_from(["berlin", "germany", "europa"]))
        def reassign(self, pick, partner):
            leads = self._leads("offered")
            if leads:
                lead = leads[pick % len(leads)]
                partner_id = str(self.partners[partner])
                self._try(
                    lambda: offers.reassign(lead.id, partner_id, "machine", actor=self._manager())
                )

        @rule()
        def retry_unroutable(self):
            lead_routing.retry(None, actor=self._manager())

        @rule(pick=st.integers(0, 10), step=st.sampled_from(["qualify", "win", "lose"]))
        def progress(self, pick, step):
            leads = self._leads("accepted", "sql")
            if not leads:
                return
            lead = leads[pick % len(leads)]
            holder = next(o for o in lead.offers if o.state == "accepted")
            user = self._partner_user(holder)
            today = utcnow().date()
            values = {
                "qualify": {"amount": "1000", "close_on": (today + timedelta(days=9)).isoformat()},
                "win": {"amount": "900", "close_on": today.isoformat()},
                "lose": {"reason": "machine"},
            }[step]
            self._try(lambda: getattr(offers, step)(lead.id, values, actor=user))

        # Invariants ------------------------------------------------------------------

        @invariant()
        def every_lead_is_consistent(self):
            db.session.expire_all()
            offer_rows = db.session.execute(
                sa.select(Offer.lead_id, Offer.partner_id, Offer.state)
            ).all()
            pairs = Counter((lead_id, partner_id) for lead_id, partner_id, _ in offer_rows)
            assert all(n == 1 for n in pairs.values()), "a partner was offered a lead twice"
            by_lead: dict[int, Counter] = {}
            for lead_id, _, state in offer_rows:
                by_lead.setdefault(lead_id, Counter())[state] += 1
            last_event = dict(
                db.session.execute(
                    sa.select(LeadEvent.lead_id, LeadEvent.to_state).where(
                        LeadEvent.id.in_(
                            sa.select(sa.func.max(LeadEvent.id)).group_by(LeadEvent.lead_id)
                        )
                    )
                ).all()
            )
            for lead in db.session.scalars(sa.select(Lead)):
                counts = by_lead.get(lead.id, Counter())
                assert counts["open"] <= 1, f"lead {lead.id} has {counts['open']} open offers"
                assert (counts["open"] == 1) == (lead.state == "offered"), (lead.id, lead.state)
                assert (counts["accepted"] == 1) == (lead.state in HELD), (lead.id, lead.state)
                assert last_event[lead.id] == lead.state, (lead.id, lead.state, last_event[lead.id])

    run_state_machine_as_test(
        LeadLifeCycle,
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
