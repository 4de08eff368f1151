"""/healthz answers 503, saying which, when the database or Redis cannot be reached at all;
/livez answers 200 all the same, since it asks neither."""

from portal import create_app
from portal.extensions import db, queue
from tests.conftest import BACKEND

# Nothing listens on port 1 of this machine: a connection there is refused at once.
NOBODY = "127.0.0.1:1"


def _unreachable_database(tmp_path):
    if BACKEND == "postgresql":
        return f"postgresql+psycopg://portal@{NOBODY}/portal"
    return f"sqlite:///{tmp_path / 'no-such-folder' / 'portal.db'}"


def test_a_database_that_cannot_be_reached_makes_the_health_endpoint_answer_503(tmp_path):
    app = create_app(
        {
            "PORTAL_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": _unreachable_database(tmp_path),
            "REDIS_URL": None,
        }
    )
    response = app.test_client().get("/healthz")
    with app.app_context():
        db.engine.dispose()
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "degraded",
        "checks": {"database": "error: OperationalError", "redis": "in-process"},
    }


def test_a_redis_that_cannot_be_reached_makes_the_health_endpoint_answer_503(
    app, client, monkeypatch
):
    # Only the job queue's connection moves; the rate limiter keeps its own storage.
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://{NOBODY}/0")
    monkeypatch.setitem(app.extensions, "portal_jobs", app.extensions["portal_jobs"])
    queue.init_app(app)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "error: ConnectionError"},
    }


def test_the_liveness_endpoint_answers_ok_when_neither_the_database_nor_redis_can_be_reached(
    tmp_path,
):
    app = create_app(
        {
            "PORTAL_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": _unreachable_database(tmp_path),
            "REDIS_URL": None,
        }
    )
    # The job queue's Redis only: the rate limiter's storage is one for every app of the
    # process, and the other tests' apps would inherit an unreachable one.
    app.config["REDIS_URL"] = f"redis://{NOBODY}/0"
    queue.init_app(app)
    response = app.test_client().get("/livez")
    with app.app_context():
        db.engine.dispose()
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "ok"
    assert "Set-Cookie" not in response.headers
