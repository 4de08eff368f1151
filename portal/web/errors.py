"""Error pages for people and problem-details JSON for the API."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, jsonify, make_response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    NotFound,
    ServiceUnavailable,
)

from portal.errors import NotFound as NotFoundError
from portal.errors import ServiceError, ValidationFailed
from portal.extensions import db
from portal.tenancy.policy import is_api_request

MESSAGES = {
    400: "The request could not be understood. Check the form and try again.",
    401: "You need to sign in to see this.",
    403: "Your role does not allow this page. Ask an administrator if you need it.",
    404: "There is nothing here. The link may be old, or the item belongs to someone else.",
    405: "This address does not accept that kind of request.",
    413: "What you sent is too large.",
    429: "Too many attempts. Wait a minute before you try again.",
    500: "Something went wrong on our side. The error has been logged; please try again.",
    503: "The portal cannot reach its database for a moment. Nothing was changed; try again "
    "in a few seconds.",
}
# How long a client is asked to wait before it tries again after a 503.
RETRY_AFTER_S = 5


def _respond(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> Any:
    if is_api_request():
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
        }
        if errors:
            body["errors"] = errors
        response = jsonify(body)
        response.status_code = status
        response.mimetype = "application/problem+json"
        return response
    return render_template("errors/error.html", status=status, title=title, detail=detail), status


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    detail = (
        exc.description if exc.description and not _is_default(exc) else MESSAGES.get(status, "")
    )
    return _respond(status, exc.name, detail)


def _is_default(exc: HTTPException) -> bool:
    return exc.description == type(exc).description


def _csrf_error(exc: CSRFError) -> Any:
    return _respond(
        400,
        "Form expired",
        "The form was open too long or did not come from this site. Reload the page and try again.",
    )


def _bare(status: int, title: str) -> Response:
    """The error page without the portal's layout: what a 500 or 503 shows when the layout
    cannot be drawn, because its navigation reads the signed-in user from the database that
    failed."""
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><h1>{title}</h1>"
        f"<p>{MESSAGES[status]}</p></body></html>"
    )
    return Response(page, status=status, mimetype="text/html")


def _after_a_failure(status: int, title: str) -> Any:
    """The error answer once the database may have failed: the transaction rolled back, then
    the page, or the bare page if drawing it fails too."""
    try:
        db.session.rollback()
        return make_response(_respond(status, title, MESSAGES[status]))
    except Exception:
        current_app.logger.warning("the error page was drawn without its layout", exc_info=True)
        return _bare(status, title)


def _unexpected(exc: Exception) -> Any:
    # Flask has logged the exception with its traceback before it calls this handler.
    return _after_a_failure(500, InternalServerError().name)


def _database_unavailable(exc: Exception) -> Any:
    """The database could not answer (restarting, unreachable, a connection cut, a deadlock
    or lock wait given up): the transaction was rolled back, so the request changed nothing
    and can be sent again. 503 with Retry-After, not 500: the fault passes."""
    current_app.logger.error("database unavailable: %s", type(exc).__name__, exc_info=exc)
    response = _after_a_failure(503, ServiceUnavailable().name)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


# PostgreSQL's SQLSTATE for a number beyond its column's range.
NUMERIC_OUT_OF_RANGE = "22003"


def _out_of_range(exc: Exception) -> Any:
    """A number from a form or a query string beyond what the database can hold (an id of
    2**64, a page of 10**30): the request's fault, not the server's. Other data errors
    are faults of the code that let them through, and stay 500s."""
    if isinstance(exc, sa.exc.DataError) and (
        getattr(exc.orig, "sqlstate", None) != NUMERIC_OUT_OF_RANGE
    ):
        current_app.logger.exception("unhandled error", exc_info=exc)
        return _unexpected(exc)
    db.session.rollback()
    return _respond(400, "Bad Request", "A number in the request is out of range.")


def not_found() -> Any:
    """The answer for an object that is not in this tenant, or not the user's to see."""
    return _respond(404, NotFound().name, MESSAGES[404])


def _service_error(exc: ServiceError) -> Any:
    """Errors a service raised on purpose, where a view let them through (the API does)."""
    db.session.rollback()
    if isinstance(exc, ValidationFailed):
        errors = [{"field": field, "message": message} for field, message in exc.errors.items()]
        return _respond(422, "Unprocessable Content", "Some fields are not valid.", errors)
    if isinstance(exc, NotFoundError):
        return _respond(404, NotFound().name, MESSAGES[404])
    return _respond(409, "Conflict", str(exc))


def api_problem(error: Any) -> Any:
    """APIFlask's errors (bad JSON, failed schema validation) as RFC 9457 problem details."""
    errors = []
    for location, fields in (error.detail or {}).items():
        for field, messages in fields.items():
            for message in messages if isinstance(messages, list) else [messages]:
                errors.append({"field": field, "location": location, "message": str(message)})
    detail = "Some fields are not valid." if errors else (error.message or "")
    response = make_response(_respond(error.status_code, error.message or "Error", detail, errors))
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


def register(app: Flask) -> None:
    if hasattr(app, "error_processor"):
        app.error_processor(api_problem)
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _unexpected)
    # SQLite's driver refuses an integer beyond 64 bits with OverflowError; PostgreSQL's
    # answers NumericValueOutOfRange, which SQLAlchemy raises as a DataError.
    app.register_error_handler(OverflowError, _out_of_range)
    app.register_error_handler(sa.exc.DataError, _out_of_range)
    app.register_error_handler(sa.exc.OperationalError, _database_unavailable)
