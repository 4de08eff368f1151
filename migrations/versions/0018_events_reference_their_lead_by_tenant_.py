"""events reference their lead by tenant and id

An event's foreign key to its lead, (tenant_id, lead_id) against a new unique (tenant_id,
id) on lead, replaces its two foreign keys to the lead and to the tenant: one check per
event written instead of two, and an event can no longer belong to another tenant than its
lead. Deleting a tenant now deletes its events before its leads, not by a cascade.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 20:46:41.810976

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_lead_tenant_id_id'), ['tenant_id', 'id'])

    with op.batch_alter_table('lead_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_lead_event_tenant_id_tenant'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_lead_event_lead_id_lead'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_lead_event_tenant_id_lead'), 'lead', ['tenant_id', 'lead_id'], ['tenant_id', 'id'], ondelete='RESTRICT')


def downgrade():
    with op.batch_alter_table('lead_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_lead_event_tenant_id_lead'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_lead_event_lead_id_lead'), 'lead', ['lead_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_foreign_key(batch_op.f('fk_lead_event_tenant_id_tenant'), 'tenant', ['tenant_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_lead_tenant_id_id'), type_='unique')
