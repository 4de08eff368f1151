"""Lead imports as jobs: on real RQ workers, on a thread without Redis, stopped and resumed,
and raced, each with real commits on a database of its own."""

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from portal.db import utcnow
from portal.errors import Conflict
from portal.extensions import db, queue
from portal.leads import csv_import
from portal.leads.models import Lead, LeadImport, LeadImportProblem
from portal.tenancy.models import User
from portal.tenancy.scoping import tenant_scope
from tests.conftest import BACKEND, build_tenant, fresh_database, make_app
from tests.factories import ProductFactory

HEADER = "Company,E-mail,Country,Product"


def _file(count, bad_every=0):
    """Leads without external ids, so a line taken in twice would show as two leads."""
    lines = [HEADER]
    for n in range(count):
        email = "broken@" if bad_every and n % bad_every == 0 else f"buyer{n}@firm{n}.example"
        lines.append(f"Firm {n} GmbH,{email},DE,CB")
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.fixture
def job_app(tmp_path, redis_url):
    """An app on the real Redis, with a tenant, a product and a manager committed."""
    with fresh_database(tmp_path) as url:
        app = make_app(url, REDIS_URL=redis_url, RATELIMIT_STORAGE_URI=redis_url)
        with app.app_context():
            world = build_tenant("imports")
            with tenant_scope(world.id):
                ProductFactory(code="CB", name="Cloud Backup")
                db.session.commit()
        app.config["TEST_DATABASE_URL"] = url
        app.config["TEST_WORLD"] = world
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _as_manager(app):
    """An app context in the tenant's scope, and the manager who acts."""
    world = app.config["TEST_WORLD"]
    context = app.app_context()
    context.push()
    scope = tenant_scope(world.id)
    scope.__enter__()
    manager = db.session.get(User, world.manager.id)
    return manager, lambda: (scope.__exit__(None, None, None), context.pop())


def _staged(app, content):
    manager, done = _as_manager(app)
    try:
        upload = csv_import.stage("leads.csv", content, "utf-8", actor=manager)
        return upload.id, list(upload.mapping)
    finally:
        done()


def _state(app, import_id):
    world = app.config["TEST_WORLD"]
    with app.app_context(), tenant_scope(world.id):
        db.session.expire_all()
        upload = db.session.get(LeadImport, import_id)
        leads = db.session.scalar(sa.select(sa.func.count(Lead.id)))
        problems = db.session.scalar(
            sa.select(sa.func.count(LeadImportProblem.id)).where(
                LeadImportProblem.phase == csv_import.phase(upload)
            )
        )
        return upload.state, upload.processed, dict(upload.counts), leads, problems


def _call(app, fn, *args):
    manager, done = _as_manager(app)
    try:
        return fn(*args, actor=manager)
    finally:
        done()


def _work_off(app):
    with app.app_context():
        worker = SimpleWorker([queue.queue("default")], connection=queue.connection)
        worker.work(burst=True, with_scheduler=True)


def test_check_and_import_run_on_a_real_worker_and_the_request_only_enqueues(job_app):
    import_id, mapping = _staged(job_app, _file(2_500, bad_every=100))
    _call(job_app, csv_import.check, import_id, mapping)
    assert _state(job_app, import_id)[:2] == ("checking", 0)  # queued, not done in the request
    _work_off(job_app)
    assert _state(job_app, import_id) == (
        "checked",
        2_500,
        {"new": 2_475, "existing": 0, "invalid": 25},
        0,
        25,
    )
    _call(job_app, csv_import.start, import_id)
    assert _state(job_app, import_id)[0] == "importing"
    _work_off(job_app)
    assert _state(job_app, import_id) == (
        "imported",
        2_500,
        {"created": 2_475, "existing": 0, "invalid": 25},
        2_475,
        25,
    )


def test_without_redis_a_long_job_runs_on_a_thread_and_the_page_can_follow_it(tmp_path):
    with fresh_database(tmp_path) as url:
        app = make_app(url, INPROCESS_JOB_THREADS=True)
        with app.app_context():
            world = build_tenant("threads")
            with tenant_scope(world.id):
                ProductFactory(code="CB", name="Cloud Backup")
                db.session.commit()
        app.config["TEST_WORLD"] = world
        try:
            import_id, mapping = _staged(app, _file(3_000))
            _call(app, csv_import.check, import_id, mapping)
            _wait_for(app, import_id, "checked")
            _call(app, csv_import.start, import_id)
            assert _wait_for(app, import_id, "imported")[3] == 3_000
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def _wait_for(app, import_id, state, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = _state(app, import_id)
        if found[0] == state:
            return found
        assert found[0] != "failed", found
        time.sleep(0.2)
    raise AssertionError(f"the import did not reach {state}: {_state(app, import_id)}")


def test_a_stopped_import_resumes_after_its_last_chunk_and_takes_no_line_in_twice(
    job_app, monkeypatch
):
    monkeypatch.setattr(csv_import, "CHUNK", 100)
    import_id, mapping = _staged(job_app, _file(450, bad_every=50))
    _call(job_app, csv_import.check, import_id, mapping)
    _work_off(job_app)
    _call(job_app, csv_import.start, import_id)
    real = csv_import.take_in_batch
    calls = []

    def dies_on_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise ConnectionError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(csv_import, "take_in_batch", dies_on_the_third_chunk)
    _work_off(job_app)  # the worker records the job as failed
    state, processed, _, leads, _ = _state(job_app, import_id)
    assert (state, processed, leads) == ("failed", 200, 196)
    # Its columns cannot change now: a new dry run would start the import over from line 1.
    with pytest.raises(Conflict, match="can no longer change"):
        _call(job_app, csv_import.check, import_id, mapping)
    monkeypatch.setattr(csv_import, "take_in_batch", real)
    _call(job_app, csv_import.resume, import_id)
    _work_off(job_app)
    assert _state(job_app, import_id) == (
        "imported",
        450,
        {"created": 441, "existing": 0, "invalid": 9},
        441,
        9,
    )


def test_only_a_failed_or_stalled_import_can_be_resumed(job_app):
    import_id, mapping = _staged(job_app, _file(10))
    _call(job_app, csv_import.check, import_id, mapping)
    with pytest.raises(Conflict, match="still running or done"):
        _call(job_app, csv_import.resume, import_id)
    world = job_app.config["TEST_WORLD"]
    with job_app.app_context(), tenant_scope(world.id):
        upload = db.session.get(LeadImport, import_id)
        upload.progress_at = utcnow() - timedelta(hours=1)  # its worker was killed
        db.session.commit()
        assert csv_import.stalled(upload)
    _call(job_app, csv_import.resume, import_id)
    _work_off(job_app)
    assert _state(job_app, import_id)[:2] == ("checked", 10)


def test_two_runs_of_the_same_import_at_once_take_each_line_in_once(job_app, monkeypatch):
    monkeypatch.setattr(csv_import, "CHUNK", 50)
    import_id, mapping = _staged(job_app, _file(600))
    _call(job_app, csv_import.check, import_id, mapping)
    _work_off(job_app)
    _call(job_app, csv_import.start, import_id)
    world = job_app.config["TEST_WORLD"]
    # SQLite lets one writer in at a time (and the embedded default runs one job thread), so
    # the race is run where it can happen.
    runs = 3 if BACKEND == "postgresql" else 1
    barrier = threading.Barrier(runs)
    outcomes = []

    def run():
        with job_app.app_context():
            barrier.wait()
            outcomes.append(csv_import.import_lines(world.id, import_id))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert "imported" in outcomes and set(outcomes) <= {"imported", "overtaken", "nothing to do"}
    assert _state(job_app, import_id) == (
        "imported",
        600,
        {"created": 600, "existing": 0, "invalid": 0},
        600,
        0,
    )
