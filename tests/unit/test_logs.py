"""Request ids and log lines: what an incoming id must look like, and the JSON each line is."""

import json
import logging
import re
import sys
from datetime import UTC, datetime

from portal.logs import JsonFormatter, TextFormatter, request_id_from, wants_json

GENERATED = re.compile(r"[0-9a-f]{32}")


def _record(message="routed %s leads", args=(3,), exc_info=None, **attributes):
    record = logging.LogRecord("portal.routing", logging.INFO, __file__, 1, message, args, exc_info)
    record.__dict__.update(attributes)
    return record


def test_an_incoming_id_that_is_a_sane_token_is_kept():
    for incoming in (
        "3f2c8a1e-5b7d-4c2a-9e0f-1a2b3c4d5e6f",
        "0af7651916cd43dd8448eb211c80319c",
        "lb-7:2026.11.30_x",
        "Root=1-67891233-abcdef012345678912345678",
        "a" * 128,
    ):
        assert request_id_from(incoming) == incoming


def test_an_incoming_id_is_kept_without_the_spaces_around_it():
    assert request_id_from("  trace-42 \t") == "trace-42"


def test_a_missing_or_unsafe_id_is_replaced_by_a_new_one():
    for incoming in (
        None,
        "",
        "   ",
        "a" * 129,
        "two words",
        'quote"inside',
        "line\nbreak",
        "-starts-with-a-dash",
        "naïve",
        "{}",
    ):
        replaced = request_id_from(incoming)
        assert GENERATED.fullmatch(replaced), (incoming, replaced)


def test_each_new_id_is_different():
    assert len({request_id_from(None) for _ in range(100)}) == 100


def test_lines_are_json_in_production_and_text_elsewhere_unless_log_format_says():
    assert wants_json("production", None)
    assert not wants_json("development", None)
    assert not wants_json("testing", None)
    assert wants_json("development", "json")
    assert not wants_json("production", "text")


def test_an_unknown_log_format_is_refused():
    try:
        wants_json("production", "xml")
    except ValueError as exc:
        assert "json or text" in str(exc)
    else:
        raise AssertionError("LOG_FORMAT=xml was accepted")


def test_a_json_line_has_the_time_in_utc_the_level_the_logger_and_the_message():
    record = _record()
    record.created = datetime(2026, 11, 30, 9, 15, 2, 250000, tzinfo=UTC).timestamp()
    line = json.loads(JsonFormatter().format(record))
    assert line == {
        "time": "2026-11-30T09:15:02.250Z",
        "level": "INFO",
        "logger": "portal.routing",
        "message": "routed 3 leads",
    }


def test_a_json_line_carries_the_request_context_and_leaves_out_what_is_unknown():
    record = _record(request_id="trace-42", tenant_id=7, user_id=None, api_key_id=None, job_id=None)
    line = json.loads(JsonFormatter().format(record))
    assert (line["request_id"], line["tenant_id"]) == ("trace-42", 7)
    assert not {"user_id", "api_key_id", "job_id"} & line.keys()


def test_a_json_access_line_has_method_path_status_and_duration_first():
    record = _record(
        "%s %s %s",
        ("POST", "/api/v1/leads", 201),
        method="POST",
        path="/api/v1/leads",
        status=201,
        duration_ms=12.5,
        request_id="trace-42",
    )
    line = json.loads(JsonFormatter().format(record))
    assert list(line)[3:9] == ["message", "method", "path", "status", "duration_ms", "request_id"]
    assert line["message"] == "POST /api/v1/leads 201"


def test_a_json_line_keeps_extra_fields_and_writes_what_json_cannot_hold_as_text():
    when = datetime(2026, 11, 30, tzinfo=UTC)
    line = json.loads(JsonFormatter().format(_record(lead_id=12, due_at=when)))
    assert (line["lead_id"], line["due_at"]) == (12, str(when))


def test_a_json_line_with_an_exception_is_still_one_line_and_holds_the_traceback():
    try:
        raise RuntimeError("the database went away")
    except RuntimeError:
        record = _record(exc_info=sys.exc_info())
    text = JsonFormatter().format(record)
    assert "\n" not in text
    exception = json.loads(text)["exception"]
    assert exception.startswith("Traceback") and "RuntimeError: the database went away" in exception


def test_a_text_line_shows_the_request_id_when_there_is_one():
    with_id = TextFormatter().format(_record(request_id="trace-42"))
    without = TextFormatter().format(_record(request_id=None))
    assert with_id.endswith("INFO portal.routing [trace-42] routed 3 leads")
    assert without.endswith("INFO portal.routing routed 3 leads")
