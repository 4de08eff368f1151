"""Tenant scoping is applied by the session, so a careless query still sees one tenant."""

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.partners.models import Partner
from portal.tenancy.models import User
from portal.tenancy.scoping import TenantScopeError, tenant_scope, unscoped
from tests.factories import PartnerFactory


def test_an_unfiltered_query_returns_only_the_current_tenants_rows(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        users = db.session.scalars(sa.select(User)).all()
        partners = db.session.scalars(sa.select(Partner)).all()
    assert users and {u.tenant_id for u in users} == {world.a.id}
    assert {p.id for p in partners} == {world.a.partner_id, world.a.other_partner_id}


def test_a_join_and_a_relationship_load_stay_inside_the_tenant(app, world):
    with app.app_context(), tenant_scope(world.b.id):
        rows = db.session.execute(sa.select(User.email, Partner.name).join(Partner)).all()
        assert rows and all(email.endswith("@tenant-b.example") for email, _ in rows)
        assert db.session.get(Partner, world.a.partner_id) is None


def test_get_by_id_of_another_tenants_row_finds_nothing(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.get(User, world.b.admin.id) is None
        assert db.session.get(User, world.a.admin.id) is not None


def test_bulk_update_and_delete_cannot_reach_another_tenant(app, world):
    with app.app_context():
        with tenant_scope(world.a.id):
            db.session.execute(sa.update(Partner).values(capacity=99))
            db.session.commit()
        with unscoped():
            capacities = dict(
                db.session.execute(sa.select(Partner.tenant_id, Partner.capacity)).all()
            )
    assert capacities[world.a.id] == 99
    assert capacities[world.b.id] != 99


def test_querying_a_tenant_table_with_no_tenant_in_scope_fails_closed(app, world):
    with app.app_context(), pytest.raises(TenantScopeError):
        db.session.scalars(sa.select(User)).all()


def test_a_new_row_takes_the_tenant_in_scope(app, world):
    with app.app_context(), tenant_scope(world.b.id):
        partner = PartnerFactory()
        assert partner.tenant_id == world.b.id


def test_writing_a_row_for_another_tenant_is_refused(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        db.session.add(Partner(name="Intruder", tier_id=1, country="DE", tenant_id=world.b.id))
        with pytest.raises(TenantScopeError):
            db.session.flush()
        db.session.rollback()
