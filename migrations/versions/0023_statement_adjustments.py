"""statement adjustments

What changes after a month's statement is locked is carried into a later month as
adjustment lines, which name the month they correct; a statement keeps the tier it was
worked out for, so an adjustment pays a share by the same tier.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 01:12:02.001656

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier_name', sa.String(length=40), nullable=True))

    with op.batch_alter_table('statement_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adjusts_period', sa.String(length=7), nullable=True))


def downgrade():
    with op.batch_alter_table('statement_line', schema=None) as batch_op:
        batch_op.drop_column('adjusts_period')

    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.drop_column('tier_name')
