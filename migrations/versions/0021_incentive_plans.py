"""incentive plans

One row per version of a tenant's plan: bounty per SAL, share of won revenue by tier, the
SLA gate and accelerator, the cap. Statements name the version they were worked out under.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29 23:58:55.155115

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('incentive_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('bounty_minor', sa.BigInteger(), nullable=False),
    sa.Column('share_bp_by_tier', sa.JSON(), nullable=False),
    sa.Column('sla_gate_percent', sa.Integer(), nullable=True),
    sa.Column('accelerator_percent', sa.Integer(), nullable=True),
    sa.Column('accelerator_bp', sa.Integer(), nullable=False),
    sa.Column('cap_minor', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_label', sa.String(length=254), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_incentive_plan_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incentive_plan')),
    sa.UniqueConstraint('tenant_id', 'version', name=op.f('uq_incentive_plan_tenant_id_version'))
    )


def downgrade():
    op.drop_table('incentive_plan')
