"""The migrations build the whole schema from empty, it matches the models, and data moves."""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from portal import create_app
from portal.extensions import db
from portal.tenancy.scoping import unscoped
from tests.conftest import fresh_database, make_app


def test_migrations_from_empty_match_the_models(tmp_path):
    with fresh_database(tmp_path) as url:
        app = make_app(url)
        with app.app_context():
            with db.engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                differences = compare_metadata(context, db.metadata)
            db.engine.dispose()
    assert differences == []


def _migrated_codes(connection):
    rows = connection.execute(sa.text("SELECT tenant_id, code FROM territory ORDER BY id"))
    versions = connection.execute(sa.text("SELECT id, config_version FROM tenant ORDER BY id"))
    return [tuple(r) for r in rows], dict(versions.all())


def test_postal_prefixes_with_the_old_default_code_get_the_new_one_where_it_is_free(tmp_path):
    with fresh_database(tmp_path) as url:
        app = create_app(
            {"PORTAL_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None}
        )
        with app.app_context():
            upgrade(revision="0011")
            with db.engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO tenant (id, slug, name, timezone, default_currency,"
                        " config_version, created_at) VALUES (:id, :slug, :slug, 'UTC', 'EUR',"
                        " 3, :now)"
                    ),
                    [{"id": n, "slug": f"t{n}", "now": datetime.now(UTC)} for n in (1, 2, 3)],
                )
                connection.execute(
                    sa.text(
                        "INSERT INTO territory (tenant_id, code, name, kind, country,"
                        " postal_prefix, region_countries) VALUES (:tenant, :code, :code,"
                        " :kind, :country, :prefix, '[]')"
                    ),
                    [
                        _row(1, "FR-69", "postal", "FR", "69"),
                        _row(1, "GB-SW1A-1", "postal", "GB", "SW1A 1"),
                        _row(1, "MUNICH", "postal", "DE", "80"),
                        _row(2, "DE-80", "postal", "DE", "80"),
                        _row(2, "DE-PC-80", "region", None, None),
                        _row(3, "DE", "country", "DE", None),
                    ],
                )
            upgrade()
            with unscoped(), db.engine.connect() as connection:
                upgraded = _migrated_codes(connection)
            downgrade(revision="0011")
            with unscoped(), db.engine.connect() as connection:
                downgraded = _migrated_codes(connection)
            db.engine.dispose()
    assert upgraded == (
        [
            (1, "FR-PC-69"),
            (1, "GB-PC-SW1A-1"),
            (1, "MUNICH"),
            (2, "DE-80"),
            (2, "DE-PC-80"),
            (3, "DE"),
        ],
        {1: 4, 2: 3, 3: 3},
    )
    assert downgraded[0] == [
        (1, "FR-69"),
        (1, "GB-SW1A-1"),
        (1, "MUNICH"),
        (2, "DE-80"),
        (2, "DE-PC-80"),
        (3, "DE"),
    ]


def _row(tenant, code, kind, country, prefix):
    return {"tenant": tenant, "code": code, "kind": kind, "country": country, "prefix": prefix}


def test_a_populated_database_migrates_up_and_down_with_its_keys_intact(tmp_path):
    """SQLite rebuilds a table to alter it; rows of other tables point at it all along."""
    with fresh_database(tmp_path) as url:
        app = make_app(url)  # migrated to the newest revision
        with app.app_context():
            from portal.demo import build_demo

            build_demo(password="demo-portal-2026", leads_per_tenant=500)
            with unscoped(), db.engine.connect() as connection:
                before = connection.exec_driver_sql("SELECT count(*) FROM lead_event").scalar()
            downgrade(revision="0016")
            upgrade()
            with unscoped(), db.engine.connect() as connection:
                after = connection.exec_driver_sql("SELECT count(*) FROM lead_event").scalar()
                if connection.dialect.name == "sqlite":
                    assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            db.engine.dispose()
    assert before == after > 0
