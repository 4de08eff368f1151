"""Tenant scoping applied by the session itself, so no query has to remember it.

Every ORM SELECT, UPDATE and DELETE that touches a ``TenantScoped`` entity gets
``tenant_id = <current tenant>`` added, including relationship loads and joins.
New rows take the current tenant; a row of another tenant cannot be written.
Outside any tenant (login, CLI, system jobs) queries on tenant tables fail closed
unless the code says ``unscoped()`` on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from portal.db import TenantScoped

UNSCOPED = object()
_current: ContextVar[int | object | None] = ContextVar("current_tenant", default=None)


class TenantScopeError(RuntimeError):
    """A tenant table was touched with no tenant in scope, or across tenants."""


def scope() -> int | object | None:
    """The tenant id in scope, UNSCOPED across tenants, or None outside any tenant."""
    return _current.get()


def current_tenant_id() -> int | None:
    value = _current.get()
    return value if isinstance(value, int) else None


@contextmanager
def tenant_scope(tenant_id: int) -> Iterator[None]:
    """Run the block as the given tenant."""
    token = _current.set(int(tenant_id))
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def unscoped() -> Iterator[None]:
    """Run the block across tenants: only for login, CLI and system-wide jobs."""
    token = _current.set(UNSCOPED)
    try:
        yield
    finally:
        _current.reset(token)


def enter_tenant(tenant_id: int | None) -> object:
    """Set the tenant for the rest of a request; returns a token for leave_tenant."""
    return _current.set(tenant_id)


def leave_tenant(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def _touches_tenant_tables(state: ORMExecuteState) -> bool:
    return any(issubclass(m.class_, TenantScoped) for m in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    scope = _current.get()
    if scope is UNSCOPED:
        return
    if scope is None:
        if _touches_tenant_tables(state):
            raise TenantScopeError("a tenant table was queried with no tenant in scope")
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == scope,
            include_aliases=True,
            propagate_to_loaders=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_and_guard_writes(session: Session, flush_context: object, instances: object) -> None:
    scope = _current.get()
    if scope is UNSCOPED:
        return
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if scope is None and obj.tenant_id is None:
            raise TenantScopeError(f"new {type(obj).__name__} has no tenant and none is in scope")
        if obj.tenant_id is None:
            obj.tenant_id = scope
        elif scope is not None and obj.tenant_id != scope:
            raise TenantScopeError(f"new {type(obj).__name__} belongs to another tenant")
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TenantScoped) and scope is not None and obj.tenant_id != scope:
            raise TenantScopeError(f"{type(obj).__name__} of another tenant cannot be changed")
