"""lead e-mail index within the tenant

Duplicate detection looks a tenant's leads up by contact e-mail. With the e-mail alone
indexed, PostgreSQL combined it with a scan of all the tenant's leads whenever its
statistics still saw a small table, as during a large import.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 12:48:37.974144

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.create_index('ix_lead_tenant_contact_email', ['tenant_id', 'contact_email'], unique=False)
        batch_op.drop_index('ix_lead_contact_email')


def downgrade():
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.create_index('ix_lead_contact_email', ['contact_email'], unique=False)
        batch_op.drop_index('ix_lead_tenant_contact_email')
