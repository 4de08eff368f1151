"""Managers resolving duplicate flags at the same moment: one result per flag, nothing lost.

On PostgreSQL the resolutions really race, in threads with real commits on a database of
their own; SQLite allows one writer, so there they run in turn.
"""

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from portal.errors import Conflict
from portal.extensions import db
from portal.leads import duplicates, intake
from portal.leads.models import Lead, LeadActivity, LeadEvent
from portal.tenancy import services
from portal.tenancy.scoping import tenant_scope
from tests.conftest import at_once, build_tenant
from tests.integration.test_duplicates import _lead, _pair, _programme


def _as_manager(manager_id: int, calls: list[Callable]) -> list[Callable]:
    """Each call given the manager, read in the session it runs in."""
    return [lambda call=call: call(services.get_user(manager_id)) for call in calls]


def _merge(lead_id, into, **choices):
    return lambda actor: duplicates.merge(lead_id, into, choices, actor=actor)


def _keep(lead_id, into):
    return lambda actor: duplicates.keep(lead_id, into, "race", actor=actor)


@pytest.mark.parametrize("contenders", [("merge", "merge"), ("merge", "keep"), ("keep", "keep")])
def test_two_managers_resolving_one_flag_at_once_get_one_result(race_app, contenders):
    app = race_app
    with app.app_context():
        tenant = build_tenant("race")
    _programme(app, tenant.id)
    first, second = _pair(app, tenant.id)
    make = {"merge": _merge(second, first), "keep": _keep(second, first)}
    outcomes = at_once(
        app, tenant.id, _as_manager(tenant.manager.id, [make[c] for c in contenders])
    )
    won = [o for o in outcomes if isinstance(o, Lead)]
    lost = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert "already resolved" in str(lost[0])
    with app.app_context(), tenant_scope(tenant.id):
        flagged = db.session.get(Lead, second)
        resolutions = db.session.scalars(
            sa.select(LeadEvent.action).where(
                LeadEvent.lead_id == second, LeadEvent.action.in_(["merge", "keep"])
            )
        ).all()
        copied = db.session.scalar(
            sa.select(sa.func.count(LeadActivity.id)).where(LeadActivity.lead_id == first)
        )
    assert len(resolutions) == 1
    winner = resolutions[0]
    assert flagged.duplicate_resolution == {"merge": "merged", "keep": "kept"}[winner]
    assert copied == (1 if winner == "merge" else 0)


def test_two_duplicates_merged_into_one_lead_at_once_lose_nothing(race_app):
    app = race_app
    with app.app_context():
        tenant = build_tenant("race")
    _programme(app, tenant.id, threshold=10)  # the survivor is an MQL and stays one
    with app.app_context(), tenant_scope(tenant.id):
        first = intake.take_in(_lead(), actor="t", channel="a test").lead.id
        second = intake.take_in(_lead(company_name="Nordbank Hamburg"), actor="t", channel="t")
        third = intake.take_in(_lead(contact_phone="+49 40 1234"), actor="t", channel="t")
        for lead in (second.lead, third.lead):
            intake.record_activity(lead.id, "demo_requested", None, actor="t")
        second, third = second.lead.id, third.lead.id
    outcomes = at_once(
        app,
        tenant.id,
        _as_manager(
            tenant.manager.id,
            [_merge(second, first, company_name="duplicate"), _merge(third, first)],
        ),
    )
    assert all(isinstance(o, Lead) for o in outcomes), outcomes
    with app.app_context(), tenant_scope(tenant.id):
        survivor = db.session.get(Lead, first)
        activities = db.session.scalar(
            sa.select(sa.func.count(LeadActivity.id)).where(LeadActivity.lead_id == first)
        )
        states = db.session.scalars(sa.select(Lead.state).where(Lead.id.in_([second, third]))).all()
    # Each merge read the survivor after locking it, so neither undid the other's choice.
    assert survivor.company_name == "Nordbank Hamburg" and survivor.contact_phone == "+49 40 1234"
    assert states == ["merged", "merged"]
    # Both duplicates recorded the same activity type at different moments: both are kept.
    assert activities == 2
