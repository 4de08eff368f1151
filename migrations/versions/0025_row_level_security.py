"""row-level security

A second wall between tenants in PostgreSQL: every table with a tenant_id gets a policy
that shows and accepts only the rows of the tenant the transaction names (see
portal/tenancy/rls.py), forced on the tables' owner too. SQLite has no such thing; there
the session's scoping stays the only wall.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 01:40:00

"""
from alembic import op

from portal.tenancy import rls


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table in rls.tenant_tables(connection):
        for statement in rls.enable_statements(table):
            op.execute(statement)


def downgrade():
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table in rls.tenant_tables(connection):
        for statement in rls.disable_statements(table):
            op.execute(statement)
