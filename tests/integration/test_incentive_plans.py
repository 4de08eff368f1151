"""Incentive plans: set up and changed as versions in their page, with an example of what
they pay; a plan that makes no sense is refused at its fields; who may see it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.incentives import services
from portal.incentives.models import IncentivePlan
from portal.tenancy.scoping import tenant_scope
from tests.conftest import login, post_form
from tests.factories import TierFactory


@pytest.fixture
def tiers(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        gold, silver = TierFactory(name="Gold", rank=1), TierFactory(name="Silver", rank=2)
        db.session.commit()
        return {"gold": gold.id, "silver": silver.id}


def plan_data(tiers, **overrides):
    data = {
        "currency": "EUR", "bounty": "100", f"share_{tiers['gold']}": "5",
        f"share_{tiers['silver']}": "2.5", "sla_gate": "", "accelerator_percent": "95",
        "accelerator_extra": "25", "cap": "", "note": "Launch plan",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_staff_set_up_a_plan_and_see_what_it_pays(app, world, tiers, client):
    login(client, world.a.staff.email)
    assert 'data-testid="no-plan"' in client.get("/incentives/plan").get_data(as_text=True)
    response = post_form(client, "/incentives/plan", plan_data(tiers))
    assert response.status_code == 302
    page = client.get("/incentives/plan").get_data(as_text=True)
    # Gold: nine kept SALs at 100, the accelerator of 25% at 95% compliance, 5% of 27,500.
    assert 'data-testid="example-total">€2,500<' in page and "A partner of Gold" in page
    assert page.count('data-testid="example-line"') == 9 + 1 + 2
    with app.app_context(), tenant_scope(world.a.id):
        plan = services.current_plan()
        assert (plan.version, plan.bounty_minor, plan.share_bp_by_tier) == (
            1,
            10_000,
            {"Gold": 500, "Silver": 250},
        )
        assert (plan.accelerator_percent, plan.accelerator_bp, plan.cap_minor) == (95, 2_500, None)


def test_a_change_is_a_new_version_and_the_old_one_stays(app, world, tiers, client):
    login(client, world.a.admin.email)
    post_form(client, "/incentives/plan", plan_data(tiers))
    response = post_form(client, "/incentives/plan", plan_data(tiers, bounty="150", cap="1,000"))
    assert response.status_code == 302
    with app.app_context(), tenant_scope(world.a.id):
        versions = db.session.execute(
            sa.select(
                IncentivePlan.version, IncentivePlan.bounty_minor, IncentivePlan.cap_minor
            ).order_by(IncentivePlan.version)
        ).all()
        audited = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action == "incentive_plan.saved")
        ).all()
    assert [tuple(v) for v in versions] == [(1, 10_000, None), (2, 15_000, 100_000)]
    assert len(audited) == 2
    page = client.get("/incentives/plan").get_data(as_text=True)
    assert "version 2" in page and 'data-testid="versions"' in page
    assert 'name="bounty" type="text" value="150"' in page
    assert 'name="cap" type="text" value="1000"' in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"currency": "XYZ"}, "not an ISO 4217 currency code"),
        ({"currency": ""}, "Give the plan&#39;s currency"),
        ({"bounty": "-5"}, "cannot be negative"),
        ({"bounty": "12.345"}, "at most 2 decimal places"),
        ({"share_gold": "60"}, "must be from 0% to 50%"),
        ({"share_gold": "a lot"}, "Give a percentage"),
        ({"sla_gate": "90", "accelerator_percent": "80"}, "cannot start below the gate"),
        ({"accelerator_extra": "0"}, "needs both its threshold and its extra"),
        ({"cap": "0"}, "A cap is above zero"),
        (
            {
                "bounty": "0",
                "share_gold": "0",
                "share_silver": "0",
                "accelerator_percent": "",
                "accelerator_extra": "0",
            },
            "The plan pays nothing",
        ),
    ],
)
def test_a_plan_that_makes_no_sense_is_refused_and_nothing_saved(
    app, world, tiers, client, overrides, message
):
    login(client, world.a.staff.email)
    for name, tier in (("share_gold", "gold"), ("share_silver", "silver")):
        if name in overrides:
            overrides[f"share_{tiers[tier]}"] = overrides.pop(name)
    response = post_form(client, "/incentives/plan", plan_data(tiers, **overrides))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context(), tenant_scope(world.a.id):
        assert services.current_plan() is None


@pytest.mark.parametrize("role", ["channel_manager", "partner_user"])
def test_only_admins_and_vendor_staff_see_the_plan(app, world, client, role):
    login(client, world.a.person(role).email)
    assert client.get("/incentives/plan").status_code == 403


def test_a_tenant_s_plan_is_its_own(app, world, tiers, client):
    login(client, world.a.staff.email)
    post_form(client, "/incentives/plan", plan_data(tiers))
    with app.app_context(), tenant_scope(world.b.id):
        assert services.current_plan() is None
