"""Jobs through the real Redis with real workers, the in-process default, and Redis limits."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import redis
import sqlalchemy as sa
from rq import SimpleWorker

from portal.db import utcnow
from portal.extensions import db, queue
from portal.jobs import periodic_jobs, run_due_periodic_jobs
from portal.tenancy.models import AuthSession
from portal.tenancy.scoping import tenant_scope, unscoped
from portal.tenancy.tasks import purge_ended_sessions
from tests.conftest import build_tenant, login, make_app

ROOT = Path(__file__).resolve().parents[2]


def _stale_sessions(app, count=3):
    """Logins of one user: `count` long ended, one still live."""
    with app.app_context():
        world = build_tenant("jobs")
        with tenant_scope(world.id):
            long_ago = utcnow() - timedelta(days=60)
            for n in range(count):
                db.session.add(
                    AuthSession(
                        user_id=world.admin.id,
                        token_hash=f"{n:064d}",
                        expires_at=long_ago,
                        created_at=long_ago,
                        last_seen_at=long_ago,
                        ended_at=long_ago,
                    )
                )
            db.session.add(
                AuthSession(
                    user_id=world.admin.id,
                    token_hash="f" * 64,
                    expires_at=utcnow() + timedelta(hours=1),
                )
            )
            db.session.commit()
    return world


def _session_count(app):
    with app.app_context(), unscoped():
        return db.session.scalar(sa.select(sa.func.count(AuthSession.id)))


def test_a_job_goes_through_redis_and_a_real_worker_runs_it(redis_app):
    _stale_sessions(redis_app)
    with redis_app.app_context():
        job = queue.enqueue(purge_ended_sessions)
        assert queue.is_async and job.get_status() == "queued"
        worker = SimpleWorker([queue.queue("default")], connection=queue.connection)
        assert worker.work(burst=True, with_scheduler=True)
        job.refresh()
        assert job.get_status() == "finished" and job.return_value() == 3
    assert _session_count(redis_app) == 1


def worker_process(app, redis_url):
    """`flask rq worker --burst` run in a process of its own on the app's database and Redis,
    as deployed: it works off what is queued and stops."""
    env = {
        **os.environ,
        "PORTAL_ENV": "testing",
        "DATABASE_URL": app.config["TEST_DATABASE_URL"],
        "REDIS_URL": redis_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_flask_rq_worker_process_runs_queued_jobs(redis_app, redis_url):
    _stale_sessions(redis_app, count=2)
    with redis_app.app_context():
        job = queue.enqueue(purge_ended_sessions)
    result = worker_process(redis_app, redis_url)
    assert result.returncode == 0, result.stderr[-2000:]
    with redis_app.app_context():
        job.refresh()
        assert job.get_status() == "finished" and job.return_value() == 2
    assert _session_count(redis_app) == 1


def test_a_job_that_runs_twice_does_no_harm(redis_app):
    _stale_sessions(redis_app)
    with redis_app.app_context():
        assert purge_ended_sessions() == 3
        assert purge_ended_sessions() == 0
    assert _session_count(redis_app) == 1


def test_without_redis_jobs_run_in_process_at_once(app, world):
    with app.app_context():
        assert not queue.is_async
        job = queue.enqueue(purge_ended_sessions)
        assert job.get_status() == "finished"


def test_the_in_process_timer_runs_each_periodic_job_once_per_interval(app, world):
    last_run: dict[str, float] = {}
    run_due_periodic_jobs(app, last_run, now=1000.0)
    assert set(last_run) == {p.fn.__qualname__ for p in periodic_jobs()}
    first = dict(last_run)
    run_due_periodic_jobs(app, last_run, now=1001.0)
    assert last_run == first


def test_failed_logins_are_counted_in_redis_across_app_instances(redis_app, redis_url):
    with redis_app.app_context():
        build_tenant("limits")
    limit = int(redis_app.config["LOGIN_RATE_LIMIT"].split()[0])
    for _ in range(limit):
        assert (
            login(redis_app.test_client(), "admin@limits.example", "wrong-password!").status_code
            == 401
        )
    other_process = make_app(
        redis_app.config["TEST_DATABASE_URL"], REDIS_URL=redis_url, RATELIMIT_STORAGE_URI=redis_url
    )
    assert login(other_process.test_client(), "admin@limits.example").status_code == 429
    assert any(b"LIMITS" in key for key in redis.Redis.from_url(redis_url).keys("*"))
    with other_process.app_context():
        db.engine.dispose()


def test_the_health_endpoint_reports_the_database_and_redis(redis_app):
    body = redis_app.test_client().get("/healthz").get_json()
    assert body == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_without_redis_the_health_endpoint_says_jobs_run_in_process(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "in-process"},
    }


def test_a_redis_that_does_not_answer_makes_the_health_endpoint_degraded(app, client, monkeypatch):
    def refuse() -> None:
        raise redis.ConnectionError("connection refused")

    with app.app_context():
        monkeypatch.setattr(queue.connection, "ping", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "error: ConnectionError"},
    }
