"""copy_rows writes rows as an INSERT of the same values would, in one COPY."""

import pytest
import sqlalchemy as sa

from portal.db import COPY_FROM_ROWS, copy_rows, insert_rows, utcnow
from portal.extensions import db
from portal.leads.models import Lead
from portal.tenancy.scoping import tenant_scope
from tests.conftest import postgres_app


@pytest.fixture(scope="module")
def app():
    """PostgreSQL, on either run of the suite: COPY is PostgreSQL's."""
    with postgres_app() as app:
        yield app


COMPARED = ("company_name", "contact_email", "employees", "bant", "score", "score_breakdown")


def _row(tenant_id, n, **values):
    return {
        "tenant_id": tenant_id, "company_name": "Nordbank\tAG\n", "external_id": f"crm-{n}",
        "contact_email": None, "employees": 1200, "bant": {"need": "Backups\\ for 40 sites"},
        **values,
    }  # fmt: skip


def _stored(app, tenant_id, external_id):
    with app.app_context(), tenant_scope(tenant_id):
        lead = db.session.scalar(sa.select(Lead).where(Lead.external_id == external_id))
        return lead, {name: getattr(lead, name) for name in COMPARED}


def test_copied_rows_read_back_as_inserted_rows_with_the_same_defaults(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(sa.insert(Lead.__table__), [_row(world.a.id, 1)])
        copy_rows(db.session.connection(), Lead.__table__, [_row(world.a.id, 2)])
        db.session.commit()
    inserted, inserted_values = _stored(app, world.a.id, "crm-1")
    copied, copied_values = _stored(app, world.a.id, "crm-2")
    assert copied_values == inserted_values
    assert copied_values["company_name"] == "Nordbank\tAG\n"
    assert (copied.state, copied.score, copied.score_breakdown) == ("new", 0, [])
    assert copied.created_at.tzinfo is not None and copied.created_at >= inserted.created_at


def test_a_unique_key_already_taken_is_an_integrity_error(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        copy_rows(db.session.connection(), Lead.__table__, [_row(world.a.id, 1)])
        with pytest.raises(sa.exc.IntegrityError):
            copy_rows(db.session.connection(), Lead.__table__, [_row(world.a.id, 1)])
        db.session.rollback()


def test_no_rows_write_nothing(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        copy_rows(db.session.connection(), Lead.__table__, [])
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Lead.__table__)) == 0


def test_values_shared_by_rows_are_written_to_each_of_them(app, world):
    breakdown = [{"source": "profile", "reason": "Industry is Banking", "points": 20}]
    at = utcnow()
    rows = [
        _row(world.a.id, n, bant={}, score_breakdown=breakdown, created_at=at, updated_at=at)
        for n in (1, 2)
    ]
    with app.app_context(), tenant_scope(world.a.id):
        copy_rows(db.session.connection(), Lead.__table__, rows)
        db.session.commit()
    for n in (1, 2):
        lead, values = _stored(app, world.a.id, f"crm-{n}")
        assert (values["bant"], values["score_breakdown"]) == ({}, breakdown)
        assert lead.created_at == lead.updated_at == at


def test_rows_given_as_values_in_the_order_of_the_named_columns(app, world):
    names = ("tenant_id", "company_name", "external_id", "bant")
    with app.app_context(), tenant_scope(world.a.id):
        copy_rows(
            db.session.connection(),
            Lead.__table__,
            [(world.a.id, "Nordbank AG", "crm-1", {})],
            names,
        )
        db.session.commit()
    lead, values = _stored(app, world.a.id, "crm-1")
    assert (values["company_name"], values["bant"], lead.state) == ("Nordbank AG", {}, "new")


def test_rows_made_as_they_are_written_by_a_generator(app, world):
    made = []

    def rows():
        for n in (1, 2, 3):
            made.append(n)
            yield _row(world.a.id, n)

    with app.app_context(), tenant_scope(world.a.id):
        copy_rows(db.session.connection(), Lead.__table__, rows())
        copy_rows(db.session.connection(), Lead.__table__, iter(()))  # nothing to write
        db.session.commit()
    assert made == [1, 2, 3]
    assert [_stored(app, world.a.id, f"crm-{n}")[1]["employees"] for n in made] == [1200] * 3


@pytest.mark.parametrize("count", [3, COPY_FROM_ROWS])
def test_inserted_rows_get_their_ids_in_order_by_insert_or_by_copy(app, world, count):
    rows = [_row(world.a.id, n, company_name=f"Co {n}") for n in range(count)]
    with app.app_context(), tenant_scope(world.a.id):
        ids = insert_rows(db.session.connection(), Lead.__table__, rows)
        db.session.commit()
        stored = dict(db.session.execute(sa.select(Lead.id, Lead.company_name)).all())
    assert len(set(ids)) == count and ids == sorted(ids)
    assert [stored[i] for i in ids] == [row["company_name"] for row in rows]
