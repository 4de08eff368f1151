"""Log lines: one JSON object each in production, plain text in development.

Every record written while a request runs carries the request's id (also sent back in
the X-Request-ID header), and its tenant and user where known; every record written by
an RQ job carries the job's id. Each request ends with one access line (method, path,
status, duration). gunicorn.conf.py sends gunicorn's own lines through the same handler.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

import sqlalchemy as sa
from flask import Flask, Response, g, has_request_context, request
from flask.logging import default_handler
from rq.job import get_current_job

from portal.tenancy.scoping import current_tenant_id

REQUEST_ID_HEADER = "X-Request-ID"
LOG_FORMATS = ("json", "text")
# Ids that proxies and clients send (UUIDs, hex, trace ids) fit; anything else could forge
# or break a log line, so it is replaced rather than trusted.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,127}")
# What the context adds to each record, in the order a JSON line shows it.
CONTEXT_FIELDS = ("request_id", "tenant_id", "user_id", "api_key_id", "job_id")
_LEADING_FIELDS = ("method", "path", "status", "duration_ms", *CONTEXT_FIELDS)
# Every attribute a plain LogRecord has, and those placed first; the others came as `extra`.
_NOT_EXTRA = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    *_LEADING_FIELDS,
}

access_log = logging.getLogger("portal.access")


def request_id_from(header: str | None) -> str:
    """The id a request goes by: the incoming header's if it is a sane token, else a new one."""
    candidate = (header or "").strip()
    if _SANE_REQUEST_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


def wants_json(portal_env: str, log_format: str | None) -> bool:
    """Whether lines are JSON: LOG_FORMAT decides when set, else JSON only in production."""
    if log_format is None:
        return portal_env == "production"
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be json or text, not {log_format!r}")
    return log_format == "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, context, extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _LEADING_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        for name, value in vars(record).items():
            if name not in _NOT_EXTRA:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A plain line for people at a terminal, with the request or job id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        ids = [getattr(record, name, None) for name in ("request_id", "job_id")]
        context = " ".join(str(i) for i in ids if i)
        head = f"{record.asctime} {record.levelname} {record.name}"
        return f"{head} [{context}] {record.message}" if context else f"{head} {record.message}"


def _utc_iso(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout or sys.stderr is when a line is written, as
    logging.lastResort does, so a test runner or a CLI runner that swaps them is followed."""

    def __init__(self, to: str = "stderr") -> None:
        if to not in ("stdout", "stderr"):
            raise ValueError(f"a console handler writes to stdout or stderr, not {to!r}")
        self.to = to
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stdout if self.to == "stdout" else sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def formatter_from_environment() -> logging.Formatter:
    """The formatter the environment asks for, for processes that start before the app."""
    env = os.environ.get("PORTAL_ENV") or "development"
    return _formatter(wants_json(env, os.environ.get("LOG_FORMAT") or None))


def _formatter(json_lines: bool) -> logging.Formatter:
    return JsonFormatter() if json_lines else TextFormatter()


# Context on every record -----------------------------------------------------------------


def _identity(row: object) -> Any:
    """A mapped row's primary key without loading anything: logging must never query."""
    state = sa.inspect(row, raiseerr=False) if row is not None else None
    identity = getattr(state, "identity", None)
    return identity[0] if identity else None


def _request_context() -> dict[str, Any]:
    if not has_request_context():
        return {}
    return {
        "request_id": g.get("request_id"),
        # Flask-Login's user once it is loaded; a kept page's, which loads none.
        "user_id": _identity(g.get("_login_user")) or g.get("kept_page_user_id"),
        "api_key_id": _identity(g.get("api_key")),
    }


def _with_context(make_record: Callable[..., logging.LogRecord]) -> Callable[..., Any]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        job = get_current_job()
        context = {
            **_request_context(),
            "tenant_id": current_tenant_id(),
            "job_id": job.id if job is not None else None,
        }
        # Only the fields known here: logging refuses (KeyError) an `extra` that names a field
        # the record has, and RQ logs a failed job with its job_id in `extra`, once the job's
        # own context has ended; the formatters read a missing field as None.
        for name in CONTEXT_FIELDS:
            value = context.get(name)
            if value is not None:
                setattr(record, name, value)
        return record

    make.adds_portal_context = True  # type: ignore[attr-defined]
    return make


def configure(json_lines: bool, level: int = logging.INFO) -> None:
    """Add the context to every record and write lines in the chosen format.

    Lines go to stderr, so that a command's own output (`flask apikey create`) stays
    apart; gunicorn.conf.py puts a handler on stdout first, which is then kept. Like
    logging.basicConfig, it leaves alone a root logger that something else (a test
    runner) has set up, apart from the context; run again, it changes only the format.
    """
    if not getattr(logging.getLogRecordFactory(), "adds_portal_context", False):
        logging.setLogRecordFactory(_with_context(logging.getLogRecordFactory()))
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, ConsoleHandler)]
    if not ours and root.handlers:
        return
    if not ours:
        ours = [ConsoleHandler()]
        root.addHandler(ours[0])
    root.setLevel(level)
    # Alembic announces each of its plugins at INFO whenever it is imported: every process.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    for handler in ours:
        handler.setFormatter(_formatter(json_lines))
    # In JSON, a warning printed as it is would be the one line that is not an object.
    logging.captureWarnings(json_lines)


# Requests --------------------------------------------------------------------------------


def _begin_request() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    g.request_started = time.perf_counter()


def _end_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or request_id_from(None)
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    # The path without its query string, where a token or an e-mail address could be.
    access_log.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
        },
    )
    return response


def init_app(app: Flask) -> None:
    """Configure logging from the app's settings and give every request an id.

    Call it before anything else registers request hooks: its before_request then runs
    first, so even a refused request has an id, and its after_request last, so the access
    line has the final status.
    """
    configure(wants_json(app.config["PORTAL_ENV"], app.config.get("LOG_FORMAT")))
    # Records reach the root logger's handler; Flask's own would write each line twice.
    app.logger.removeHandler(default_handler)
    app.before_request(_begin_request)
    app.after_request(_end_request)
