"""scorecard sums in the database

Scorecards are added up by the database: an answered offer keeps the time taken to answer
in its SLA calendar's seconds (offers answered before this are filled in by the hourly
quality job), one partner's offers of a period are found by an index, and each tier's
median quality per period is kept for the partner page's comparison.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 01:14:06.115572

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tier_quality',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=24), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=False),
    sa.Column('median', sa.Double(), nullable=True),
    sa.Column('partners', sa.Integer(), nullable=False),
    sa.Column('computed_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_tier_quality_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_id'], ['tier.id'], name=op.f('fk_tier_quality_tier_id_tier'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tier_quality')),
    sa.UniqueConstraint('tenant_id', 'period', 'tier_id', name=op.f('uq_tier_quality_tenant_id_period_tier_id'))
    )
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('response_seconds', sa.Integer(), nullable=True))
        batch_op.create_index('ix_offer_partner_offered', ['partner_id', 'offered_at'], unique=False)



def downgrade():
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_index('ix_offer_partner_offered')
        batch_op.drop_column('response_seconds')

    op.drop_table('tier_quality')
