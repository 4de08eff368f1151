"""Logins kept in Redis: a signed-in request's user without the login's query.

Every signed-in request looks up its login: the login, its user, the user's tenant, partner
and tier, and what the navigation counts (portal/tenancy/services.py, session_user). Between
two lookups that answer changes only when something writes it, and every such write changes
a version of portal/page_versions.py: a logout, a purge or another ended login (the login's
table), a deactivation, a role or partner change (the user's), the tenant's, partner's or
tier's settings (all their tenant's), a notification (the user's). So the answer is kept
under the login's token, stamped with those versions as read before the lookup, and taken
from Redis while the stamp matches: for at most KEPT_PAGE_SECONDS, and never past the moment
the login's idle clock is due to be moved on (the lookup does that) or the login ends.

Columns a lookup does not need to be right about, and which change without changing a
version, are left out and read from the database if anything asks for them: a user's
password hash (never copied to Redis), last login and a partner's quality. Redis that cannot
answer means the login is looked up as if none were kept.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from flask import current_app
from sqlalchemy import inspect
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from portal.db import utcnow
from portal.extensions import db
from portal.page_versions import EVERY_TENANT, tenant_key, user_key
from portal.partners.models import Partner, Tier
from portal.tenancy.models import AuthSession, Tenant, User
from portal.tenancy.services import SESSION_TOUCH_EVERY, SignedIn, login_ends_at
from portal.web import kept_values
from portal.web.kept_pages import keeping_connection, login_digest

log = logging.getLogger(__name__)

# Read from the database when asked for: a secret, and columns that change unversioned.
LEFT_OUT = {
    User: frozenset({"password_hash", "last_login_at"}),
    Partner: frozenset({"quality", "quality_at"}),
    Tenant: frozenset({"config_version"}),
}
_MODELS = {model.__name__: model for model in (AuthSession, User, Tenant, Partner, Tier)}


@dataclass
class Recall:
    """What a login's kept entry gave: the signed-in user, or the stamp to keep one under."""

    key: str
    stamp: list[str | None]
    found: SignedIn | None = None


def recall(user_id: str, token: str | None, tenant_id: Any) -> Recall | None:
    """The kept answer for this login if it still holds; None when nothing can be kept."""
    connection = keeping_connection()
    if connection is None or not token or type(tenant_id) is not int or not user_id.isdigit():
        return None
    key = "kl:" + login_digest(token)
    keys = [EVERY_TENANT, tenant_key(tenant_id), user_key(int(user_id))]
    try:
        entry, *versions = connection.mget([key, *keys])
    except redis.RedisError as exc:
        log.warning("kept logins: Redis did not answer: %s", exc)
        return None
    stamp = [v.decode() if v else None for v in versions]
    kept_values.note_versions(connection, tenant_id, stamp[0], stamp[1])
    kept = Recall(key, stamp)
    if entry:
        try:
            kept.found = _revived(entry, stamp, int(user_id), tenant_id)
        except (KeyError, TypeError, ValueError) as exc:
            # An entry of another shape (kept by an older release, say): the database answers.
            log.warning("kept logins: entry not read: %r", exc)
    return kept


def keep(kept: Recall, found: SignedIn) -> None:
    """Keep a login the database has just answered for, under the stamp read before."""
    now = utcnow()
    until = min(found.ends_at, found.auth.last_seen_at + SESSION_TOUCH_EVERY)
    seconds = min(float(current_app.config["KEPT_PAGE_SECONDS"]), (until - now).total_seconds())
    if seconds < 1:
        return
    user = found.user
    rows = [found.auth, user, user.tenant]
    if user.partner is not None:
        rows += [user.partner, user.partner.tier]
    entry = {
        "stamp": kept.stamp,
        "rows": [[type(row).__name__, _columns(row)] for row in rows],
        "extras": found.extras,
    }
    try:
        value = json.dumps(entry, default=_encode)
        keeping_connection().set(kept.key, value, px=int(seconds * 1000))  # type: ignore[union-attr]
    except (redis.RedisError, TypeError) as exc:
        log.warning("kept logins: login not kept: %s", exc)


def _revived(
    entry: bytes, stamp: list[str | None], user_id: int, tenant_id: int
) -> SignedIn | None:
    kept = json.loads(entry, object_hook=_decode)
    if kept.get("stamp") != stamp:
        return None
    values = {name: columns for name, columns in kept["rows"]}
    auth, user = values.get("AuthSession", {}), values.get("User", {})
    owner = (auth.get("user_id"), user.get("id"), user.get("tenant_id"))
    if owner != (user_id, user_id, tenant_id):
        return None
    now = utcnow()
    ends_at = login_ends_at(auth["expires_at"], auth["last_seen_at"])
    # The lookup moves the idle clock on; past that moment, or if anything ended the login,
    # the database answers.
    if auth["ended_at"] is not None or not user["active"] or now >= ends_at:
        return None
    if now - auth["last_seen_at"] >= SESSION_TOUCH_EVERY:
        return None
    # A process's first request may come here before any query has set the mappers up, and
    # an attribute of a mapper not yet set up cannot be written.
    configure_mappers()
    objects = {name: _attached(_MODELS[name], columns) for name, columns in kept["rows"]}
    # Linked as the login's query links them: the relationships are loaded, and hold the rows
    # (the session's identity map alone would let them go).
    auth, user, partner = objects["AuthSession"], objects["User"], objects.get("Partner")
    set_committed_value(auth, "user", user)
    set_committed_value(user, "tenant", objects["Tenant"])
    set_committed_value(user, "partner", partner)
    if partner is not None:
        set_committed_value(partner, "tier", objects["Tier"])
    return SignedIn(user, auth, kept["extras"], ends_at)


def _columns(row: Any) -> dict[str, Any]:
    """The row's loaded columns: one not loaded is read when asked for, not now."""
    left_out = LEFT_OUT.get(type(row), frozenset())
    loaded = inspect(row).dict
    return {
        attr.key: loaded[attr.key]
        for attr in inspect(type(row)).column_attrs
        if attr.key in loaded and attr.key not in left_out
    }


def _attached(model: type, columns: dict[str, Any]) -> Any:
    """The row as a persistent object of the request's session, as if a query had loaded it;
    a column not kept is read from the database if anything asks for it."""
    mapper = inspect(model)
    identity = mapper.identity_key_from_primary_key([columns[c.key] for c in mapper.primary_key])
    present = db.session.identity_map.get(identity)
    if present is not None:
        return present
    row = mapper.class_manager.new_instance()
    for name, value in columns.items():
        setattr(row, name, value)
    make_transient_to_detached(row)
    db.session.add(row)
    return row


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$at": value.isoformat()}
    raise TypeError(f"cannot keep a {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    if value.keys() == {"$at"}:
        return datetime.fromisoformat(value["$at"])
    return value
