"""Statements: drafts worked out from the month's accepted and won leads under the plan,
identical when worked out again; approved (once, even when two approve at once), paid,
exported with formulas kept inert; partners see their own once approved."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from portal.db import utcnow
from portal.errors import Conflict
from portal.extensions import db
from portal.incentives import services, statements
from portal.incentives.models import Statement
from portal.leads import offers
from portal.leads.models import Lead
from portal.partners.models import Partner
from portal.scorecards.periods import month_of, parse
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.conftest import at_once, build_tenant, login, post_form
from tests.integration.test_live_routing import programme
from tests.integration.test_offers import routed, run  # noqa: F401  (a fixture)
from tests.integration.test_scorecards import worked  # noqa: F401  (a fixture)

PLAN = {"currency": "EUR", "bounty": "100", "accelerator_extra": "0"}


def set_plan(app, tenant_id, **shares):
    with app.app_context(), tenant_scope(tenant_id):
        admin = db.session.scalar(sa.select(tenancy.User).where(tenancy.User.role == "admin"))
        tiers = {t.name: t.id for t in services.tiers()}
        raw = {**PLAN, **{f"share_{tiers[name]}": value for name, value in shares.items()}}
        services.save_plan(raw, actor=admin)


def this_month():
    return month_of(utcnow().date())


def statement_of(app, tenant_id, partner_id, period=None):
    period = period or this_month()
    with app.app_context(), tenant_scope(tenant_id):
        row = db.session.scalar(
            sa.select(Statement).where(
                Statement.partner_id == partner_id, Statement.period == period.key
            )
        )
        return (
            row.status,
            row.total_minor,
            [(line.kind, line.amount_minor, line.lead_id) for line in row.lines],
        )


def test_drafts_pay_the_month_s_sals_and_won_revenue_and_come_out_the_same(app, world, worked):  # noqa: F811
    ids, _ = worked
    set_plan(app, world.a.id, Gold="2")
    with app.app_context(), tenant_scope(world.a.id):
        done = statements.work_out(this_month())
    assert (done.drafted, done.locked) >= (3, 0)
    status, total, lines = statement_of(app, world.a.id, ids["germany"])
    # One SAL kept (100.00) and 2% of the 1,200.50 won (24.01).
    assert (status, total) == ("draft", 12_401)
    assert [kind for kind, _, _ in lines] == ["bounty", "share"]
    assert statement_of(app, world.a.id, ids["berlin"])[1] == 10_000
    assert statement_of(app, world.a.id, ids["europa"])[1:] == (0, [])
    first = [statement_of(app, world.a.id, pid) for pid in ids.values()]
    with app.app_context(), tenant_scope(world.a.id):
        statements.work_out(this_month())
    assert [statement_of(app, world.a.id, pid) for pid in ids.values()] == first


def test_an_approved_statement_is_locked_and_approving_twice_is_refused(app, world, worked):  # noqa: F811
    ids, _ = worked
    set_plan(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        statements.work_out(this_month())
        statement_id = db.session.scalar(
            sa.select(Statement.id).where(Statement.partner_id == ids["berlin"])
        )
        staff = tenancy.get_user(world.a.staff.id)
        statements.approve(statement_id, actor=staff)
        with pytest.raises(Conflict, match="approved it already"):
            statements.approve(statement_id, actor=staff)
    set_plan(app, world.a.id, Silver="10")  # a new plan version: the approved one stays
    with app.app_context(), tenant_scope(world.a.id):
        done = statements.work_out(this_month())
        statements.mark_paid(statement_id, actor=tenancy.get_user(world.a.staff.id))
        with pytest.raises(Conflict):
            statements.mark_paid(statement_id, actor=tenancy.get_user(world.a.staff.id))
    assert done.locked == 1
    assert statement_of(app, world.a.id, ids["berlin"])[:2] == ("paid", 10_000)


def test_statements_need_a_plan_and_a_month(app, world):
    with (
        app.app_context(),
        tenant_scope(world.a.id),
        pytest.raises(Conflict, match="no incentive plan"),
    ):
        statements.work_out(this_month())
    set_plan(app, world.a.id)
    quarter = parse("2026-Q4", utcnow().date())
    with app.app_context(), tenant_scope(world.a.id), pytest.raises(Conflict, match="a month"):
        statements.work_out(quarter)


def test_two_people_approving_at_once_give_one_approval(race_app):
    with race_app.app_context():
        tenant = build_tenant("approvals")
    programme(race_app, tenant.id)
    set_plan(race_app, tenant.id)
    with race_app.app_context(), tenant_scope(tenant.id):
        statements.work_out(this_month())
        statement_id = db.session.scalar(sa.select(Statement.id).limit(1))
    people = [tenant.staff.id, tenant.admin.id] * 5
    calls = [
        (lambda uid=uid: statements.approve(statement_id, actor=tenancy.get_user(uid)))
        for uid in people
    ]
    outcomes = at_once(race_app, tenant.id, calls)
    assert sum(1 for o in outcomes if o is None) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o is not None), outcomes


def test_staff_work_out_approve_and_export_in_the_pages(app, world, worked, client):  # noqa: F811
    ids, _ = worked
    set_plan(app, world.a.id, Gold="2")
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(
            sa.update(Partner).where(Partner.id == ids["germany"]).values(name="=cmd|' /C calc'!A0")
        )
        db.session.commit()
    login(client, world.a.staff.email)
    assert (
        post_form(
            client, "/incentives/statements/work-out", {}, "/incentives/statements"
        ).status_code
        == 302
    )
    page = client.get("/incentives/statements").get_data(as_text=True)
    assert page.count('data-testid="statement-row"') >= 3
    with app.app_context(), tenant_scope(world.a.id):
        statement_id = db.session.scalar(
            sa.select(Statement.id).where(Statement.partner_id == ids["germany"])
        )
    detail = f"/incentives/statements/{statement_id}"
    assert post_form(client, f"{detail}/approve", {}, detail).status_code == 302
    assert statement_of(app, world.a.id, ids["germany"])[0] == "approved"
    again = post_form(client, f"{detail}/approve", {}, detail)
    assert again.status_code == 302  # refused with a message, not an error
    rows = list(
        csv.reader(io.StringIO(client.get("/incentives/statements/export.csv").get_data(True)))
    )
    assert rows[0] == statements.EXPORT_HEADER
    germany = [row for row in rows[1:] if row[0] == "'=cmd|' /C calc'!A0"]
    assert [row[2:4] for row in germany] == [["approved", "bounty"], ["approved", "share"]]
    assert all(not row[0].startswith("=") for row in rows[1:])


def test_a_partner_sees_its_approved_statements_only(app, world, worked, client):  # noqa: F811
    set_plan(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        statements.work_out(this_month())
        mine = db.session.scalar(
            sa.select(Statement.id).where(Statement.partner_id == world.a.partner_id)
        )
    login(client, world.a.partner_user.email)
    assert 'data-testid="no-statements"' in client.get("/incentives/mine").get_data(as_text=True)
    with app.app_context(), tenant_scope(world.a.id):
        statements.approve(mine, actor=tenancy.get_user(world.a.staff.id))
    page = client.get("/incentives/mine").get_data(as_text=True)
    assert page.count('data-testid="my-statement"') == 1
    assert f'<h2 class="h5">{this_month().label} <span' in page  # "November 2026", not "2026-11"
    assert client.get(f"/incentives/statements/{mine}").status_code == 403
    assert client.get("/incentives/statements").status_code == 403


def test_another_tenant_s_statement_is_not_found(app, world, worked, client):  # noqa: F811
    set_plan(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        statements.work_out(this_month())
        statement_id = db.session.scalar(sa.select(Statement.id).limit(1))
    login(client, world.b.staff.email)
    assert client.get(f"/incentives/statements/{statement_id}").status_code == 404
    detail = "/incentives/statements"
    assert post_form(client, f"{detail}/{statement_id}/approve", {}, detail).status_code == 404
    assert 'data-testid="no-statements"' in client.get(detail).get_data(as_text=True)


def test_a_lead_given_back_after_approval_is_taken_back_in_the_next_month(app, world, worked):  # noqa: F811
    ids, users = worked
    set_plan(app, world.a.id)
    month = this_month()
    following = month_of(month.end)
    after_that = month_of(following.end)
    staff = world.a.staff.id
    with app.app_context(), tenant_scope(world.a.id):
        statements.work_out(month)
        held = db.session.scalar(
            sa.select(Statement.id).where(Statement.partner_id == ids["berlin"])
        )
        statements.approve(held, actor=tenancy.get_user(staff))
        two = db.session.scalar(sa.select(Lead.id).where(Lead.company_name == "Two AG"))
    assert statement_of(app, world.a.id, ids["berlin"])[:2] == ("approved", 10_000)
    # Berlin Nord gives Two AG back (lost, never an opportunity): its bounty is not due.
    run(app, world, offers.lose, two, {"reason": "Not a real project"}, user=users["berlin"])
    with app.app_context(), tenant_scope(world.a.id):
        statements.work_out(following)
        statements.work_out(after_that)  # the draft before it carries the adjustment
    assert statement_of(app, world.a.id, ids["berlin"], following) == (
        "draft",
        -10_000,
        [("bounty", -10_000, two)],
    )
    assert statement_of(app, world.a.id, ids["berlin"], after_that)[1:] == (0, [])
    assert statement_of(app, world.a.id, ids["berlin"])[:2] == ("approved", 10_000)
    with app.app_context(), tenant_scope(world.a.id):
        statements.work_out(following)  # again: the same adjustment, not a second one
        row = db.session.scalar(
            sa.select(Statement).where(
                Statement.partner_id == ids["berlin"], Statement.period == following.key
            )
        )
        assert [line.adjusts_period for line in row.lines] == [month.key]
        assert row.lines[0].description == (
            f"Adjustment to {month.key}: Bounty for Two AG (no longer due)"
        )
        statements.approve(row.id, actor=tenancy.get_user(staff))
        statements.work_out(after_that)
    # Settled: the month after carries nothing more for it.
    assert statement_of(app, world.a.id, ids["berlin"], after_that)[1:] == (0, [])
