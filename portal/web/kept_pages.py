"""Pages kept in Redis for the login that drew them, served again until what they show changes.

A partner reloads its inbox far more often than anything on it changes. A view marked
``@kept(...)`` has its page kept in Redis under the login's token and the address, stamped
with the versions (portal/page_versions.py) of the scopes the page shows: its tenant, its
user, writes across tenants, and whatever the view names (the inbox: its partner's offers).
The stamp is read before the page reads anything, and every write changes the versions it
touches after its commit, so a page kept is never older than a version that matches it.

The next GET of the same address by the same login is answered from Redis, before the login
or the page touch the database, while the stamp still matches and the page is fresh: at most
KEPT_PAGE_SECONDS, and never past a moment the view says its page changes by itself (an offer
running out) or past the end of the login. A deactivation, a role change or a logout writes
its tenant's tables, which changes the tenant's (or every tenant's) version. A page with a
message waiting to be shown (a flash) is drawn afresh and not kept. Redis that cannot answer
means pages are drawn as if none were kept.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import redis
from flask import Flask, Response, current_app, g, make_response, request, session
from redis.backoff import NoBackoff
from redis.retry import Retry

from portal.db import utcnow
from portal.page_versions import EVERY_TENANT, EXTENSION, install, tenant_key, user_key
from portal.tenancy.scoping import enter_tenant

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

SOURCE_HEADER = "X-Page-Source"
# Addresses longer than this are not kept: one login cannot fill Redis with variants.
MAX_QUERY = 64


@dataclass(frozen=True)
class Keep:
    params: frozenset[str]
    scopes: Callable[[], list[str]]


@dataclass
class _Plan:
    key: str
    user: str
    keys: list[str]
    stamp: list[str | None]


def kept(params: Iterable[str] = (), scopes: Callable[[], list[str]] = list) -> Callable[[F], F]:
    """Keep the view's pages: those of a GET with only these query parameters; scopes() names
    the version keys beyond the tenant's and the user's that the page shows."""
    keep = Keep(frozenset(params), scopes)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def keeping(*args: Any, **kwargs: Any) -> Any:
            plan = g.pop("kept_page_plan", None)
            if plan is None:
                return view(*args, **kwargs)
            stamped = _stamp_more(plan, keep.scopes())
            response = make_response(view(*args, **kwargs))
            if stamped:
                _put(plan, response)
            return response

        keeping.kept_page = keep  # type: ignore[attr-defined]
        return keeping  # type: ignore[return-value]

    return decorate


def fresh_until(moment: datetime | None) -> None:
    """The page being drawn changes by itself at this moment: keep it no longer."""
    if moment is None:
        return
    earlier = g.get("kept_page_until")
    g.kept_page_until = moment if earlier is None else min(earlier, moment)


def init_app(app: Flask) -> None:
    """Keep pages when Redis and KEPT_PAGE_SECONDS allow; register before the access check,
    so a kept page is served before the login is looked up."""
    if app.config["KEPT_PAGE_SECONDS"] <= 0:
        return
    from portal.extensions import db, queue

    with app.app_context():
        install(db.engine)
        url = app.config.get("REDIS_URL")
        app.extensions[EXTENSION] = connect(url) if url else queue.connection
    app.before_request(_serve_kept)


def connect(url: str) -> redis.Redis:
    """A Redis connection that gives up at once: a page is drawn rather than waiting on a
    Redis that cannot answer (redis-py would retry three times, with backoff, per call)."""
    return redis.Redis.from_url(
        url, retry=Retry(NoBackoff(), 0), socket_timeout=0.5, socket_connect_timeout=0.5
    )


def keeping_connection() -> redis.Redis | None:
    """Where pages and logins are kept; None while nothing is to be kept."""
    if current_app.config["KEPT_PAGE_SECONDS"] <= 0:
        return None
    return current_app.extensions.get(EXTENSION)


def login_digest(token: Any) -> str:
    """What names a login in the keys of what is kept for it: never the token itself."""
    return hashlib.sha256(str(token).encode()).hexdigest()[:32]


def _serve_kept() -> Response | None:
    keep = _keep_of_request()
    connection = keeping_connection()
    if keep is None or connection is None:
        return None
    token, user_id, tenant_id = (session.get(k) for k in ("auth_token", "_user_id", "tenant_id"))
    if not (token and user_id and tenant_id) or "_flashes" in session:
        return None
    key = f"kept:{login_digest(token)}:{request.full_path}"
    try:
        entry = connection.get(key)
        header, body = _parse(entry) if entry else ({}, b"")
        keys = header.get("keys") or [EVERY_TENANT, tenant_key(tenant_id), user_key(user_id)]
        stamp = [v.decode() if v else None for v in connection.mget(keys)]
    except redis.RedisError as exc:
        log.warning("kept pages: Redis did not answer: %s", exc)
        return None
    if entry and header.get("stamp") == stamp and header.get("user") == str(user_id):
        # Who and which tenant, for the request's log records, as a drawn page has them.
        g.kept_page_user_id = int(user_id)
        g.tenant_token = enter_tenant(int(tenant_id))
        response = Response(body, mimetype="text/html")
        response.headers[SOURCE_HEADER] = "kept"
        return response
    # Only the login's own keys: those the view adds are read once the view knows them.
    g.kept_page_plan = _Plan(key, str(user_id), keys[:3], stamp[:3])
    return None


def _keep_of_request() -> Keep | None:
    if request.method != "GET" or len(request.query_string) > MAX_QUERY:
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    keep: Keep | None = getattr(view, "kept_page", None)
    if keep is None or not set(request.args) <= keep.params:
        return None
    return keep


def _stamp_more(plan: _Plan, keys: list[str]) -> bool:
    """Add the view's own keys and their versions to the stamp; False if Redis failed."""
    connection = keeping_connection()
    if connection is None:
        return False
    try:
        values = connection.mget(keys) if keys else []
    except redis.RedisError as exc:
        log.warning("kept pages: Redis did not answer: %s", exc)
        return False
    plan.keys += keys
    plan.stamp += [v.decode() if v else None for v in values]
    return True


def _put(plan: _Plan, response: Response) -> None:
    if response.status_code != 200 or response.mimetype != "text/html":
        return
    now = utcnow()
    ends = [m for m in (g.get("kept_page_until"), g.get("login_ends_at")) if m and m > now]
    seconds = float(current_app.config["KEPT_PAGE_SECONDS"])
    seconds = min([seconds, *((m - now).total_seconds() for m in ends)])
    if seconds < 1 or "_flashes" in session:
        return
    header = {"keys": plan.keys, "stamp": plan.stamp, "user": plan.user}
    value = json.dumps(header).encode() + b"\n" + response.get_data()
    try:
        keeping_connection().set(plan.key, value, px=int(seconds * 1000))  # type: ignore[union-attr]
    except redis.RedisError as exc:
        log.warning("kept pages: page not kept: %s", exc)


def _parse(entry: bytes) -> tuple[dict[str, Any], bytes]:
    header, _, body = entry.partition(b"\n")
    try:
        return json.loads(header), body
    except ValueError:
        return {}, b""
