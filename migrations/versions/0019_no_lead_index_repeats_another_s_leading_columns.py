"""no lead index repeats another's leading columns

(tenant_id, state) is the head of (tenant_id, state, partner_updated_at), which serves
every query the shorter one did. A lead changes state many times in its life and each
change writes a new entry to every index of the table, so the copy was only work.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 23:40:12.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_tenant_state')


def downgrade():
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.create_index('ix_lead_tenant_state', ['tenant_id', 'state'], unique=False)
