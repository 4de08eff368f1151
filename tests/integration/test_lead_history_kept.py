"""No path deletes a lead or its history; a merge keeps both leads and every event; a change
of a lead's fields leaves its values before and after in the audit trail and the events."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.leads import duplicates
from portal.leads.models import HistoryDeletionRefused, Lead, LeadActivity, LeadEvent, Offer
from portal.tenancy import services as tenancy
from portal.tenancy.scoping import tenant_scope
from tests.integration.test_duplicates import _merge, _pair, _programme
from tests.integration.test_live_routing import programme, take_in


@pytest.fixture
def offered(app, world):
    """A lead of tenant A taken in and offered to a partner: it has events and an offer."""
    programme(app, world.a.id)
    return take_in(app, world.a.id)


def _history(app, tenant_id, lead_id):
    """The lead's state, and its events and offers as (id, what) pairs."""
    with app.app_context(), tenant_scope(tenant_id):
        lead = db.session.get(Lead, lead_id)
        events = db.session.execute(
            sa.select(LeadEvent.id, LeadEvent.action, LeadEvent.reason)
            .where(LeadEvent.lead_id == lead_id)
            .order_by(LeadEvent.id)
        ).all()
        offers = db.session.execute(
            sa.select(Offer.id, Offer.state).where(Offer.lead_id == lead_id).order_by(Offer.id)
        ).all()
        return lead.state, [tuple(e) for e in events], [tuple(o) for o in offers]


# Deleting is refused ----------------------------------------------------------------------------


def test_the_orm_refuses_to_delete_a_lead_and_leaves_it_with_its_history(app, world, offered):
    before = _history(app, world.a.id, offered)
    with app.app_context(), tenant_scope(world.a.id):
        db.session.delete(db.session.get(Lead, offered))
        with pytest.raises(HistoryDeletionRefused, match=f"Refused to delete lead {offered}: "):
            db.session.flush()
        db.session.rollback()
    assert before[1] and before[2]
    assert _history(app, world.a.id, offered) == before


def test_the_orm_refuses_to_delete_a_lead_s_event_or_offer(app, world, offered):
    before = _history(app, world.a.id, offered)
    (event_id, *_), (offer_id, _) = before[1][0], before[2][0]
    with app.app_context(), tenant_scope(world.a.id):
        for model, row_id in ((LeadEvent, event_id), (Offer, offer_id)):
            db.session.delete(db.session.get(model, row_id))
            table = model.__tablename__
            with pytest.raises(HistoryDeletionRefused, match=f"delete {table} {row_id}: "):
                db.session.flush()
            db.session.rollback()
    assert _history(app, world.a.id, offered) == before


@pytest.mark.parametrize("model", [Lead, LeadEvent, Offer])
def test_a_delete_statement_through_the_session_is_refused(app, world, offered, model):
    before = _history(app, world.a.id, offered)
    with app.app_context(), tenant_scope(world.a.id):
        for statement in (sa.delete(model), sa.delete(model.__table__)):
            with pytest.raises(HistoryDeletionRefused, match="Refused to delete"):
                db.session.execute(statement.where(model.id > 0))
            db.session.rollback()
    assert _history(app, world.a.id, offered) == before


def test_the_database_refuses_a_raw_delete_of_a_lead_with_history(app, world, offered):
    with app.app_context(), tenant_scope(world.a.id):
        with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
            db.session.execute(sa.text("DELETE FROM lead WHERE id = :id"), {"id": offered})
        assert db.session.get(Lead, offered) is not None
        db.session.rollback()


def test_every_foreign_key_to_a_lead_restricts_its_delete(app):
    """Offers, events, activities, statement lines and the merged lead's link are RESTRICT, as
    migrated; only a duplicate flag's pointer would be cleared, and leads are never deleted."""
    with app.app_context():
        inspector = sa.inspect(db.engine)
        to_lead = {
            (table, tuple(fk["constrained_columns"])): (fk.get("options") or {}).get("ondelete")
            for table in inspector.get_table_names()
            for fk in inspector.get_foreign_keys(table)
            if fk["referred_table"] == "lead"
        }
    assert to_lead == {
        ("offer", ("lead_id",)): "RESTRICT",
        ("lead_event", ("tenant_id", "lead_id")): "RESTRICT",
        ("lead_activity", ("lead_id",)): "RESTRICT",
        ("statement_line", ("lead_id",)): "RESTRICT",
        ("lead", ("merged_into_id",)): "RESTRICT",
        ("lead", ("duplicate_of_id",)): "SET NULL",
    }


# Merges and corrections keep history ------------------------------------------------------------


@pytest.fixture
def pair(app, world):
    """Two leads of tenant A, the later flagged as a duplicate of the earlier, with histories."""
    _programme(app, world.a.id)
    return _pair(app, world.a.id)


def _merge_as_manager(app, world, lead_id, into, **choices):
    with app.app_context(), tenant_scope(world.a.id):
        manager = tenancy.get_user(world.a.manager.id)
        duplicates.merge(lead_id, into, choices, actor=manager)


def test_a_merge_keeps_both_leads_and_the_merged_lead_s_whole_history(app, world, pair):
    survivor, duplicate = pair
    _, survivor_events, _ = _history(app, world.a.id, survivor)
    _, duplicate_events, _ = _history(app, world.a.id, duplicate)
    _merge_as_manager(app, world, duplicate, survivor)
    state, events_after, _ = _history(app, world.a.id, duplicate)
    # The merged lead is still there, marked, and its events are all kept, with one more.
    assert state == "merged"
    assert events_after[: len(duplicate_events)] == duplicate_events
    assert [action for _, action, _ in events_after[len(duplicate_events) :]] == ["merge"]
    with app.app_context(), tenant_scope(world.a.id):
        merged = db.session.get(Lead, duplicate)
        assert (merged.merged_into_id, merged.duplicate_resolution) == (survivor, "merged")
        activities = db.session.scalars(
            sa.select(LeadActivity.activity_type).where(LeadActivity.lead_id == duplicate)
        ).all()
    assert activities == ["demo_requested"]  # copied to the survivor, not moved
    _, survivor_after, _ = _history(app, world.a.id, survivor)
    assert survivor_after[: len(survivor_events)] == survivor_events
    assert "absorb_duplicate" in [action for _, action, _ in survivor_after]


def test_a_correction_of_a_lead_s_fields_leaves_the_values_before_and_after(
    app, client, login_as, world, pair
):
    """A merge is where a lead's fields are corrected: the survivor takes the values chosen."""
    survivor, duplicate = pair
    login_as("channel_manager")
    _merge(client, duplicate, survivor, company_name="duplicate", contact_phone="duplicate")
    with app.app_context(), tenant_scope(world.a.id):
        lead = db.session.get(Lead, survivor)
        assert (lead.company_name, lead.contact_phone) == ("Nordbank Hamburg", "+49 40 1234")
        record = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "lead.duplicate_merged")
        ).one()
        absorbed = db.session.scalars(
            sa.select(LeadEvent).where(
                LeadEvent.lead_id == survivor, LeadEvent.action == "absorb_duplicate"
            )
        ).one()
    assert (record.object_type, record.object_id) == ("lead", str(survivor))
    assert record.actor_label == world.a.manager.email
    assert record.changes["fields"]["company_name"] == ["Nordbank AG", "Nordbank Hamburg"]
    assert record.changes["fields"]["contact_phone"] == [None, "+49 40 1234"]
    assert record.changes["score"][0] != record.changes["score"][1]
    assert {"company_name", "contact_phone"} <= set(absorbed.data["fields"])
    assert absorbed.data["duplicate"] == duplicate
    assert "company name" in absorbed.reason
