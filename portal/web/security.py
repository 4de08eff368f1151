"""Security headers on every response."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import BadRequest

F = TypeVar("F", bound=Callable[..., object])

# No inline script or style anywhere: every page's code is a file under static/.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
    if app.config["SESSION_COOKIE_SECURE"]:
        app.after_request(_add_hsts)


def _add_hsts(response: Response) -> Response:
    response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def large_upload(view: F) -> F:
    """Let this endpoint take bodies up to LARGE_UPLOAD_MAX_BYTES instead of the usual limit."""
    view.large_upload = True  # type: ignore[attr-defined]
    return view


def _allow_large_uploads() -> None:
    # Must run before CSRF protection reads the form, which is when the limit applies.
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "large_upload", False):
        request.max_content_length = current_app.config["LARGE_UPLOAD_MAX_BYTES"]


def init_upload_limits(app: Flask) -> None:
    app.before_request(_allow_large_uploads)
    app.before_request(_refuse_nul)


def _refuse_nul() -> None:
    """PostgreSQL text cannot hold U+0000 (SQLite stores it silently): a form field or a
    query parameter with one is refused here, once for every page, before it reaches a
    query. JSON bodies are the API's, which names the field (lead intake checks them)."""
    values = list(request.args.values())
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += request.form.values()
    if any("\x00" in value for value in values):
        raise BadRequest("Text may not contain the NUL character (U+0000).")
