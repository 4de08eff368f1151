"""scorecard settings and partner quality

A tenant sets the weights of the quality score's parts and the days of offers it is read
over; each partner keeps its latest quality, which routing's scorecard term reads.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 23:30:26.931127

"""
from alembic import op
import sqlalchemy as sa

import portal.db


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scorecard_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('weight_acceptance', sa.Integer(), nullable=False),
    sa.Column('weight_sla', sa.Integer(), nullable=False),
    sa.Column('weight_response', sa.Integer(), nullable=False),
    sa.Column('weight_conversion', sa.Integer(), nullable=False),
    sa.Column('quality_window_days', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('quality_window_days BETWEEN 7 AND 365', name=op.f('ck_scorecard_settings_quality_window')),
    sa.CheckConstraint('weight_acceptance >= 0 AND weight_sla >= 0 AND weight_response >= 0 AND weight_conversion >= 0 AND weight_acceptance + weight_sla + weight_response + weight_conversion > 0', name=op.f('ck_scorecard_settings_weights')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_scorecard_settings_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecard_settings')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_scorecard_settings_tenant_id'))
    )
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quality', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('quality_at', portal.db.UTCDateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.drop_column('quality_at')
        batch_op.drop_column('quality')

    op.drop_table('scorecard_settings')
