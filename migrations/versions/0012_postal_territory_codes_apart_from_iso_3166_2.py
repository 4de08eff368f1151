"""postal territory codes apart from ISO 3166-2

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 19:33:06.775292

Postal prefixes used to get the code country-prefix (FR-69), the shape of ISO 3166-2
subdivision codes, so a subdivision and a prefix could not both be added and a reader
could not tell them apart. Postal territories whose code is that old default get the new
one (FR-PC-69), unless a territory of the tenant has it already; those keep their code.
Tenants with renamed territories get a new configuration version, so routing rebuilds.
The shapes are written out here rather than imported, so the migration keeps meaning
what it meant when the application changes.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

territory = sa.table(
    "territory",
    sa.column("id", sa.Integer),
    sa.column("tenant_id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("kind", sa.String),
    sa.column("country", sa.String),
    sa.column("postal_prefix", sa.String),
)
tenant = sa.table("tenant", sa.column("id", sa.Integer), sa.column("config_version", sa.Integer))


def _old_code(country, prefix):
    return f"{country}-{'-'.join(prefix.split())}"


def _new_code(country, prefix):
    return f"{country}-PC-{'-'.join(prefix.split())}"


def _rename(from_shape, to_shape):
    """Give postal territories coded from_shape the code to_shape where it is free."""
    bind = op.get_bind()
    taken = set(bind.execute(sa.select(territory.c.tenant_id, territory.c.code)).all())
    postal = bind.execute(
        sa.select(
            territory.c.id,
            territory.c.tenant_id,
            territory.c.code,
            territory.c.country,
            territory.c.postal_prefix,
        )
        .where(territory.c.kind == "postal")
        .order_by(territory.c.id)
    ).all()
    tenants = set()
    for id_, tenant_id, code, country, prefix in postal:
        if not country or not prefix or code != from_shape(country, prefix):
            continue
        new = to_shape(country, prefix)
        if (tenant_id, new) in taken:
            continue
        bind.execute(sa.update(territory).where(territory.c.id == id_).values(code=new))
        taken.discard((tenant_id, code))
        taken.add((tenant_id, new))
        tenants.add(tenant_id)
    for tenant_id in sorted(tenants):
        bind.execute(
            sa.update(tenant)
            .where(tenant.c.id == tenant_id)
            .values(config_version=tenant.c.config_version + 1)
        )


def upgrade():
    _rename(_old_code, _new_code)


def downgrade():
    _rename(_new_code, _old_code)
