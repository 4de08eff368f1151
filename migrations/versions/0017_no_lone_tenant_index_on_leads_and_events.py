"""no lone tenant index on leads and their events

Every query that reads leads by tenant is served by the composite indexes that lead with
tenant_id (state, contact e-mail, company domain and product, external id). Events are
read by their lead, never by tenant alone. Each of these indexes was only work for every
lead and event written.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 19:51:19.289118

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_tenant_id')

    with op.batch_alter_table('lead_event', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_event_tenant_id')


def downgrade():
    with op.batch_alter_table('lead_event', schema=None) as batch_op:
        batch_op.create_index('ix_lead_event_tenant_id', ['tenant_id'], unique=False)

    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.create_index('ix_lead_tenant_id', ['tenant_id'], unique=False)
