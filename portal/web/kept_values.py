"""A tenant's settings that every partner's page reads, kept in the process between requests.

The inbox, an offer and an answer each read the tenant's rejection reasons, which a channel
manager changes now and then. Every write to them changes the tenant's version
(portal/page_versions.py), and each signed-in request reads that version before it reads
anything else (the kept login's lookup, portal/web/kept_logins.py). So an answer read from
the database is kept in this process under the versions the request read, and given to a
later request that reads the same versions: for at most KEPT_PAGE_SECONDS, as a page is
kept, since a write whose version change Redis missed is seen that late at most. Without
versions (nothing is kept, Redis did not answer, or it holds none yet), the database answers.

Only values are kept (tuples of frozen dataclasses): never rows of a session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import Any, TypeVar

import redis
from flask import current_app, g

from portal.page_versions import EVERY_TENANT, ensure, tenant_key
from portal.tenancy.scoping import current_tenant_id

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Kept:
    versions: tuple[str, str]
    until: float
    value: Any


_kept: dict[tuple[str, int], _Kept] = {}


def note_versions(
    connection: redis.Redis, tenant_id: int, every: str | None, tenant: str | None
) -> None:
    """The versions of writes across tenants and of this tenant's, as the request read them
    before reading anything else. A version Redis does not hold is made for the next request:
    an answer is kept only under versions a write can change."""
    if every and tenant:
        g.kept_tenant_versions = (tenant_id, (every, tenant))
        return
    try:
        ensure(connection, [EVERY_TENANT, tenant_key(tenant_id)])
    except redis.RedisError as exc:
        log.warning("kept values: Redis did not answer: %s", exc)


def per_tenant(name: str, load: Callable[[], T]) -> T:
    """load()'s answer for the tenant in scope: the one kept in this process while the
    versions this request read hold, else load()'s now (kept for the next)."""
    noted = g.get("kept_tenant_versions")
    tenant_id = current_tenant_id()
    seconds = current_app.config["KEPT_PAGE_SECONDS"]
    if noted is None or noted[0] != tenant_id or seconds <= 0:
        return load()
    key, now = (name, tenant_id), monotonic()
    kept = _kept.get(key)
    if kept is not None and kept.versions == noted[1] and now < kept.until:
        return kept.value  # type: ignore[no-any-return]
    value = load()
    _kept[key] = _Kept(noted[1], now + seconds, value)
    return value
