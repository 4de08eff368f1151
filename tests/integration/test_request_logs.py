"""Every request has an id, sent back in X-Request-ID and carried by each of its log records;
every record of an RQ job carries the job's id."""

import functools
import json
import logging
import re

import redis
from rq import Queue, SimpleWorker

from portal.logs import JsonFormatter
from portal.tenancy import services
from portal.tenancy.scoping import tenant_scope

probe = logging.getLogger("tests.probe")


def _logging_view(app, monkeypatch, endpoint="web.health", fail=False):
    """Make an endpoint log one line while it runs (and raise, if fail)."""
    view = app.view_functions[endpoint]

    @functools.wraps(view)
    def logging_view(*args, **kwargs):
        probe.info("inside the view")
        if fail:
            raise RuntimeError("the view broke")
        return view(*args, **kwargs)

    monkeypatch.setitem(app.view_functions, endpoint, logging_view)


def _records_of(caplog, request_id):
    return [r for r in caplog.records if getattr(r, "request_id", None) == request_id]


def test_a_request_s_log_records_carry_its_id_and_the_response_sends_it_back(
    app, client, caplog, monkeypatch
):
    _logging_view(app, monkeypatch)
    with caplog.at_level(logging.INFO):
        response = client.get("/healthz", headers={"X-Request-ID": "lb-trace-0042"})
    assert response.headers["X-Request-ID"] == "lb-trace-0042"
    ours = _records_of(caplog, "lb-trace-0042")
    assert [(r.name, r.getMessage()) for r in ours] == [
        ("tests.probe", "inside the view"),
        ("portal.access", "GET /healthz 200"),
    ]
    access = json.loads(JsonFormatter().format(ours[1]))
    assert {k: access[k] for k in ("method", "path", "status", "request_id")} == {
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "request_id": "lb-trace-0042",
    }
    assert access["duration_ms"] >= 0


def test_a_request_without_a_usable_id_gets_a_new_one_of_its_own(app, client, caplog):
    with caplog.at_level(logging.INFO):
        first = client.get("/healthz").headers["X-Request-ID"]
        second = client.get("/healthz", headers={"X-Request-ID": "not a token"}).headers[
            "X-Request-ID"
        ]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second
    assert [r.getMessage() for r in _records_of(caplog, first)] == ["GET /healthz 200"]
    assert [r.getMessage() for r in _records_of(caplog, second)] == ["GET /healthz 200"]


def test_a_signed_in_user_s_records_name_the_tenant_and_the_user(client, login_as, caplog):
    person = login_as("channel_manager")
    with caplog.at_level(logging.INFO):
        response = client.get("/network/")
    (access,) = _records_of(caplog, response.headers["X-Request-ID"])
    assert (access.status, access.tenant_id, access.user_id) == (200, person.tenant_id, person.id)


def test_an_api_request_s_records_name_the_tenant_and_the_key(app, client, world, caplog):
    with app.app_context(), tenant_scope(world.a.id):
        key, secret = services.create_api_key("CRM", actor=services.get_user(world.a.admin.id))
        key_id = key.id
    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/tenant", headers={"Authorization": f"Bearer {secret}"})
    (access,) = _records_of(caplog, response.headers["X-Request-ID"])
    assert (access.status, access.tenant_id, access.api_key_id) == (200, world.a.id, key_id)


def test_a_request_that_fails_logs_the_exception_under_its_id(app, client, caplog, monkeypatch):
    _logging_view(app, monkeypatch, fail=True)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    with caplog.at_level(logging.INFO):
        response = client.get("/healthz", headers={"X-Request-ID": "trace-500"})
    assert (response.status_code, response.headers["X-Request-ID"]) == (500, "trace-500")
    ours = _records_of(caplog, "trace-500")
    assert (ours[0].getMessage(), ours[-1].getMessage()) == ("inside the view", "GET /healthz 500")
    errors = [json.loads(JsonFormatter().format(r)) for r in ours if r.levelno == logging.ERROR]
    # Once: Flask logs it with its traceback, and the error page adds no second copy.
    assert len(errors) == 1 and "RuntimeError: the view broke" in errors[0]["exception"]


def log_inside_a_job() -> None:
    logging.getLogger("tests.job").info("inside the job")


def test_an_rq_job_s_records_carry_the_job_id(app, redis_url, caplog):
    connection = redis.Redis.from_url(redis_url)
    job = Queue("default", connection=connection).enqueue(log_inside_a_job)
    with caplog.at_level(logging.INFO):
        SimpleWorker(["default"], connection=connection).work(burst=True)
    assert job.get_status(refresh=True) == "finished"
    (record,) = [r for r in caplog.records if r.name == "tests.job"]
    assert record.job_id == job.id
    assert json.loads(JsonFormatter().format(record))["job_id"] == job.id


def fail_inside_a_job() -> None:
    raise RuntimeError("the job broke")


def test_a_job_that_fails_is_marked_failed_and_the_worker_takes_the_next(app, redis_url):
    # RQ logs a failure with the job's id in `extra`: a record that carries a job_id of its
    # own already makes logging raise, and the worker quit instead of going on.
    connection = redis.Redis.from_url(redis_url)
    queue = Queue("default", connection=connection)
    failing = queue.enqueue(fail_inside_a_job)
    after = queue.enqueue(log_inside_a_job)
    SimpleWorker(["default"], connection=connection).work(burst=True)
    assert failing.get_status(refresh=True) == "failed"
    assert after.get_status(refresh=True) == "finished"


def test_a_500_whose_layout_cannot_be_drawn_still_answers_with_its_id(
    app, client, caplog, monkeypatch
):
    """When the database is what failed, the error page's navigation cannot read the user:
    the answer is the page without its layout, still with the request id and access line."""
    from portal.web import errors

    def no_layout(*args, **kwargs):
        raise RuntimeError("the database is gone")

    _logging_view(app, monkeypatch, fail=True)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(errors, "render_template", no_layout)
    with caplog.at_level(logging.INFO):
        response = client.get("/healthz", headers={"X-Request-ID": "bare-500"})
    assert (response.status_code, response.headers["X-Request-ID"]) == (500, "bare-500")
    assert "Something went wrong on our side" in response.get_data(as_text=True)
    assert _records_of(caplog, "bare-500")[-1].getMessage() == "GET /healthz 500"
