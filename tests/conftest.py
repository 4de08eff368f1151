"""Fixtures shared by every tier: databases, the app, per-test rollback, people to log in as.

TEST_DATABASE picks the backend of the run: "sqlite" (default) or "postgresql"; the
README's test command runs the suite once with each. Redis is always the real server.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import WSGIRequestHandler, make_server

from portal.extensions import db, limiter
from tests.databases import make_app, postgres_database
from tests.factories import PASSWORD

BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@contextmanager
def fresh_database(tmp_dir: Path) -> Iterator[str]:
    """A new, empty database of the run's backend; dropped afterwards."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_dir / f'portal-{uuid.uuid4().hex[:8]}.db'}"
        return
    if BACKEND != "postgresql":
        raise pytest.UsageError(f"TEST_DATABASE must be sqlite or postgresql, not {BACKEND!r}")
    with postgres_database(PG_ADMIN_URL, "portal_test_", app_role=True) as url:
        yield url


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app served over HTTP on 127.0.0.1, a thread per request; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The suite needs the real servers; a missing one fails the run instead of skipping."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise pytest.UsageError(f"Redis at {REDIS_URL} does not answer: {exc}") from exc
    if BACKEND == "postgresql":
        try:
            sa.create_engine(PG_ADMIN_URL).connect().close()
        except sa.exc.OperationalError as exc:
            raise pytest.UsageError(f"PostgreSQL at {PG_ADMIN_URL} does not answer: {exc}") from exc


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _rollback_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run the test inside one outer transaction that is rolled back afterwards."""
    if "app" not in request.fixturenames:
        yield
        return
    app: Flask = request.getfixturevalue("app")
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        limiter.reset()
    connection = engine.connect()
    outer = connection.begin()
    engines[None] = connection  # type: ignore[index]
    try:
        yield
    finally:
        outer.rollback()
        connection.close()
        engines[None] = engine  # type: ignore[index]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis server, on a database the test owns and flushes."""
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield REDIS_URL
    connection.flushdb()


# People ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    role: str
    tenant_id: int
    partner_id: int | None = None


@dataclass(frozen=True)
class TenantWorld:
    id: int
    slug: str
    admin: Person
    manager: Person
    staff: Person
    partner_user: Person
    other_partner_user: Person
    partner_id: int
    other_partner_id: int

    def person(self, role: str) -> Person:
        return {
            "admin": self.admin,
            "channel_manager": self.manager,
            "vendor_staff": self.staff,
            "partner_user": self.partner_user,
        }[role]


@dataclass(frozen=True)
class World:
    a: TenantWorld
    b: TenantWorld


def build_tenant(slug: str) -> TenantWorld:
    """A tenant with a user of every role and two partners, each with a partner user."""
    from portal.tenancy.scoping import tenant_scope
    from portal.tenancy.seeding import seed_defaults
    from tests.factories import PartnerFactory, TenantFactory, UserFactory

    tenant = TenantFactory(slug=slug, name=slug.title())
    with tenant_scope(tenant.id):
        seed_defaults()
        partner, other = PartnerFactory(), PartnerFactory()
        people = {
            role: UserFactory(email=f"{role}@{slug}.example", role=role)
            for role in ("admin", "channel_manager", "vendor_staff")
        }
        pu = UserFactory(
            email=f"partner@{slug}.example", role="partner_user", partner_id=partner.id
        )
        opu = UserFactory(email=f"other@{slug}.example", role="partner_user", partner_id=other.id)
        db.session.commit()

        def person(user: object) -> Person:
            return Person(user.id, user.email, user.role, tenant.id, user.partner_id)  # type: ignore[attr-defined]

        return TenantWorld(
            tenant.id,
            slug,
            person(people["admin"]),
            person(people["channel_manager"]),
            person(people["vendor_staff"]),
            person(pu),
            person(opu),
            partner.id,
            other.id,
        )


@pytest.fixture
def world(app: Flask) -> World:
    """Two tenants, A and B, each with users of every role."""
    with app.app_context():
        return World(build_tenant("tenant-a"), build_tenant("tenant-b"))


_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(client: FlaskClient, url: str) -> str:
    """The CSRF token of the form on the page at url, as a browser would send it."""
    page = client.get(url).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def post_form(client: FlaskClient, url: str, data: dict[str, object], page: str | None = None):
    """Submit a form the way a browser does: read the page, then post with its token."""
    return client.post(url, data={"csrf_token": csrf_token(client, page or url), **data})


def login(client: FlaskClient, email: str, password: str = PASSWORD, follow: bool = False):
    return client.post(
        "/login",
        data={"csrf_token": csrf_token(client, "/login"), "email": email, "password": password},
        follow_redirects=follow,
    )


@pytest.fixture
def login_as(client: FlaskClient, world: World):
    """Sign the test client in as the given role of tenant "a" or "b"."""

    def sign_in(role: str, tenant: str = "a") -> Person:
        person = getattr(world, tenant).person(role)
        response = login(client, person.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return person

    return sign_in


@contextmanager
def app_on(url: str, **overrides: object) -> Iterator[Flask]:
    """An app on the database at url, whose commits are real; its connections closed after."""
    app = make_app(url, **overrides)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@contextmanager
def postgres_app(prefix: str = "portal_test_") -> Iterator[Flask]:
    """An app on a PostgreSQL database of its own, signed in as the app's role, on either run
    of the suite: for what only PostgreSQL has (row-level security, COPY)."""
    with postgres_database(PG_ADMIN_URL, prefix, app_role=True) as url, app_on(url) as app:
        yield app


@pytest.fixture
def race_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a database of its own, whose commits are real: for tests that race."""
    with fresh_database(tmp_path) as url, app_on(url) as app:
        yield app


@pytest.fixture
def redis_app(tmp_path: Path, redis_url: str) -> Iterator[Flask]:
    """An app on the real Redis and a database of its own with real commits; the database's
    URL is in its config as TEST_DATABASE_URL, for tests that reach it from outside."""
    redis = {"REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": redis_url}
    with fresh_database(tmp_path) as url, app_on(url, **redis) as app:
        app.config["TEST_DATABASE_URL"] = url
        yield app


def at_once(app: Flask, tenant_id: int, calls: list[Any]) -> list[object]:
    """Run each call in a session of its own in the tenant, all released together, and give
    back what each returned or raised. On PostgreSQL they really race, in threads; SQLite
    allows one writer, so there they run in turn and the outcome must be the same."""
    from portal.tenancy.scoping import tenant_scope

    outcomes: list[object] = [None] * len(calls)
    start = threading.Barrier(len(calls) if BACKEND == "postgresql" else 1)

    def run(k: int) -> None:
        with app.app_context(), tenant_scope(tenant_id):
            start.wait()
            try:
                outcomes[k] = calls[k]()
            except BaseException as exc:  # a Conflict is an outcome; anything else shows
                outcomes[k] = exc
            finally:
                db.session.remove()

    if BACKEND == "postgresql":
        threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    else:
        for k in range(len(calls)):
            run(k)
    return outcomes
