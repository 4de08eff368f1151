"""The partner portal: create_app() builds the Flask application."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from apiflask import APIFlask
from flask import Flask
from sqlalchemy.orm import configure_mappers
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from portal import config as settings
from portal import logs
from portal.api import schemas as api_schemas
from portal.api.idempotency import document_key
from portal.db import MAX_ID, keep_prepared_statements, ping_when_idle

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment; overrides win (tests use them)."""
    app = APIFlask(
        __name__,
        title="Partner portal API",
        version="1",
        spec_path="/api/v1/openapi.json",
        docs_path=None,  # the portal shows its own API page; the stock one loads from a CDN
        json_errors=False,  # pages get HTML errors; the API's come from web/errors.py
        static_folder=str(ROOT / "static"),
        template_folder=str(ROOT / "templates"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(
        HTTP_ERROR_SCHEMA=api_schemas.PROBLEM_SCHEMA,
        VALIDATION_ERROR_SCHEMA=api_schemas.PROBLEM_SCHEMA,
    )
    app.spec_processor(lambda spec: document_key(api_schemas.document_problems(spec)))
    app.security_schemes = {
        "ApiKey": {"type": "http", "scheme": "bearer", "description": "A tenant API key"}
    }
    app.config.from_mapping(settings.load(app.instance_path, overrides))
    logs.init_app(app)  # first, so its request hooks wrap everyone else's
    # Ids beyond the id columns' range cannot exist: such a URL is a 404, not a database error.
    app.url_map.converters["int"] = DatabaseId
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    if app.config["PROXY_HOPS"]:
        # Behind a reverse proxy every request comes from the proxy's address: the login
        # rate limit per address and each session's recorded address need the client's,
        # which the proxies in front say in X-Forwarded-For (trusted for that many hops).
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app


def warm_up(app: Flask) -> None:
    """Do once, in a server's parent process, what every process would otherwise do on its
    first requests: compile every template (tens of milliseconds for a page and the layout
    and macros it uses) and set up the mappers. The processes forked afterwards, and those
    forked to replace them, start with both done.
    """
    for name in app.jinja_env.list_templates():
        app.jinja_env.get_template(name)
    configure_mappers()


class DatabaseId(IntegerConverter):
    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def register_extensions(app: Flask) -> None:
    from portal import models  # noqa: F401  (every model registered before migrations look)
    from portal.extensions import csrf, db, limiter, login_manager, migrate, queue
    from portal.notifications import listener  # noqa: F401  (hands lead events to the fan-out)
    from portal.tenancy import policy
    from portal.web import kept_pages, security

    db.init_app(app)
    with app.app_context():
        _tune_engine(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    security.init_upload_limits(app)
    queue.init_app(app)
    # Before the access check, which looks the login up: a kept page needs no lookup.
    kept_pages.init_app(app)
    # Access first: it enters the signed-in user's tenant, which the error page of a
    # refused CSRF token needs to show the user's partner in the navigation.
    policy.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    security.init_app(app)


def _tune_engine(engine: sa.Engine) -> None:
    if engine.dialect.name == "postgresql":
        from portal.tenancy import rls

        ping_when_idle(engine)
        rls.install(engine)
        keep_prepared_statements(engine)
        return
    if engine.dialect.name != "sqlite":
        return

    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN itself
    # (the recipe from SQLAlchemy's SQLite dialect documentation).
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    # IMMEDIATE takes the write lock up front, so concurrent requests queue on busy_timeout.
    # A deferred transaction that reads, then writes after another connection committed,
    # fails at once with "database is locked" instead of waiting (WAL cannot move its
    # snapshot forward), so concurrent writes under `flask serve` would answer 500.
    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def register_blueprints(app: Flask) -> None:
    from portal.api import views as api
    from portal.extensions import csrf
    from portal.incentives import views as incentives
    from portal.leads import (
        duplicate_views,
        import_views,
        inbox_views,
        manage_views,
        qualification_views,
        reason_views,
    )
    from portal.leads import views as leads
    from portal.notifications import views as notifications
    from portal.notifications import webhook_views
    from portal.partners import csv_views, product_views, sla_views, territory_views, tier_views
    from portal.partners import views as partners
    from portal.routing import queue_views
    from portal.routing import views as routing
    from portal.scorecards import views as scorecards
    from portal.tenancy import admin_views
    from portal.tenancy import views as auth
    from portal.tenancy.policy import public
    from portal.web import views as web

    csrf.exempt(api.bp)  # the API authenticates each request by key, not by cookie
    rooms = (
        web,
        auth,
        admin_views,
        notifications,
        webhook_views,
        partners,
        csv_views,
        tier_views,
        sla_views,
        territory_views,
        product_views,
        leads,
        inbox_views,
        manage_views,
        import_views,
        duplicate_views,
        qualification_views,
        reason_views,
        routing,
        queue_views,
        scorecards,
        incentives,
        api,
    )
    for room in rooms:
        app.register_blueprint(room.bp)
    public(app.view_functions["openapi.spec"])
    web.init_app(app)
    notifications.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from portal.web import errors

    errors.register(app)


def register_commands(app: Flask) -> None:
    from portal.cli import register

    register(app)
