"""The migrations build the whole schema from empty, and it matches the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.extensions import db
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
