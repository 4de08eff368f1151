"""`flask demo` builds two realistic tenants, and running it again only resets the logins."""

import sqlalchemy as sa

from portal.extensions import db
from portal.leads.lifecycle import LeadState
from portal.leads.models import Lead, LeadEvent
from portal.partners.models import Partner, Tier
from portal.tenancy.models import Tenant, User
from portal.tenancy.roles import Role
from portal.tenancy.scoping import tenant_scope, unscoped
from tests.conftest import login


def _programme(tenant_id):
    with tenant_scope(tenant_id):
        partners = db.session.scalars(sa.select(Partner)).all()
        tiers = db.session.scalar(sa.select(sa.func.count(Tier.id)))
        roles = set(db.session.scalars(sa.select(User.role)))
        states = dict(
            db.session.execute(sa.select(Lead.state, sa.func.count()).group_by(Lead.state)).all()
        )
        last_event = (
            sa.select(LeadEvent.to_state)
            .where(LeadEvent.lead_id == Lead.id)
            .order_by(LeadEvent.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        mismatched = db.session.scalar(
            sa.select(sa.func.count(Lead.id)).where(Lead.state != "new", Lead.state != last_event)
        )
    return partners, tiers, roles, states, mismatched


def test_the_demo_builds_two_tenants_with_a_realistic_programme(app):
    result = app.test_cli_runner().invoke(args=["demo", "--password", "demo-portal-2026"])
    assert result.exit_code == 0, result.output
    with app.app_context(), unscoped():
        tenants = db.session.scalars(
            sa.select(Tenant).where(Tenant.slug.in_(["acme", "globex"]))
        ).all()
    assert len(tenants) == 2
    for tenant in tenants:
        with app.app_context():
            partners, tiers, roles, states, mismatched = _programme(tenant.id)
        assert len(partners) >= 20 and len({p.country for p in partners}) >= 5 and tiers >= 3
        assert roles == {r.value for r in Role}
        assert sum(states.values()) >= 500
        # An MQL waits only until routing takes it, which the demo's own intake sets off.
        lasting = set(LeadState) - {LeadState.MQL}
        assert all(states.get(s.value, 0) > 0 for s in lasting), states
        assert mismatched == 0
    assert "admin@acme.example" in result.output and "reseller@multi.example" in result.output


def test_running_the_demo_again_resets_the_logins_without_building_twice(app, client):
    runner = app.test_cli_runner()
    runner.invoke(args=["demo"])
    again = runner.invoke(args=["demo", "--password", "another-demo-pass"])
    assert again.exit_code == 0, again.output
    with app.app_context(), unscoped():
        assert (
            db.session.scalar(sa.select(sa.func.count(Tenant.id)).where(Tenant.slug == "acme")) == 1
        )
    assert login(client, "manager@acme.example", "another-demo-pass").status_code == 302


def test_a_weak_demo_password_is_refused_before_anything_is_built(app):
    result = app.test_cli_runner().invoke(args=["demo", "--password", "password"])
    assert result.exit_code != 0 and "password" in result.output
    with app.app_context(), unscoped():
        assert db.session.scalar(sa.select(sa.func.count(Tenant.id))) == 0


def test_a_demo_lead_s_routing_says_the_demo_chose_its_partner(app, client):
    from portal.leads.models import Offer
    from portal.routing.lead_routing import routing_history

    result = app.test_cli_runner().invoke(args=["demo", "--password", "demo-portal-2026"])
    assert result.exit_code == 0, result.output
    with app.app_context(), unscoped():
        tenant_id = db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == "acme"))
    with app.app_context(), tenant_scope(tenant_id):
        offer = db.session.scalars(sa.select(Offer).order_by(Offer.id)).first()
        [record, *_] = [r for r in routing_history(offer.lead) if r.partner_name]
        assert record.title == "Assigned by hand" and record.assigned_by == "the demo data"
        assert record.summary.startswith(f"Offered to {record.partner_name} (")
        assert "could have had it" in record.summary
        lead_id = offer.lead_id
    assert login(client, "manager@acme.example", "demo-portal-2026").status_code == 302
    page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert "Chosen by hand by the demo data, not by the routing engine." in page
    # Won, lost and SQL leads carry what their partner recorded, and their pages show it.
    with app.app_context(), tenant_scope(tenant_id):
        outcomes = {
            state: db.session.scalars(sa.select(Lead).where(Lead.state == state)).all()
            for state in ("sql", "won", "lost")
        }
    assert all(lead.opportunity_minor and lead.expected_close_on for lead in outcomes["sql"])
    assert all(lead.won_minor and lead.closed_on for lead in outcomes["won"])
    assert all(lead.lost_reason and lead.closed_on for lead in outcomes["lost"])
    for state, leads in outcomes.items():
        response = client.get(f"/leads/{leads[0].id}")
        assert response.status_code == 200, (state, response.get_data(as_text=True)[:300])


def test_the_demo_has_a_plan_and_statements_paid_approved_and_to_review(app, client):
    from datetime import timedelta

    from portal.db import utcnow
    from portal.incentives.models import Statement
    from portal.scorecards.periods import month_of

    result = app.test_cli_runner().invoke(args=["demo", "--password", "demo-portal-2026"])
    assert result.exit_code == 0, result.output
    this_month = month_of(utcnow().date()).key
    with app.app_context(), unscoped():
        tenant_id = db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == "acme"))
    with app.app_context(), tenant_scope(tenant_id):
        rows = db.session.execute(sa.select(Statement.period, Statement.status)).all()
        partners = db.session.scalar(
            sa.select(sa.func.count(Partner.id)).where(Partner.status == "active")
        )
    by_period: dict[str, set[str]] = {}
    for period, status in rows:
        by_period.setdefault(period, set()).add(status)
    months = sorted(by_period)
    assert len(months) == 3 and months[-1] == this_month
    assert [by_period[m] for m in months] == [{"paid"}, {"approved"}, {"draft"}]
    assert len(rows) == 3 * partners
    assert login(client, "partner1@acme.example", "demo-portal-2026").status_code == 302
    mine = client.get("/incentives/mine").get_data(as_text=True)
    last_month = month_of(month_of(utcnow().date()).start - timedelta(days=1)).label
    assert "No approved statement yet" not in mine and f"{last_month} <span" in mine
