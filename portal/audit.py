"""The append-only audit trail: who changed what, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantScoped, utcnow


class AuditEvent(TenantScoped, Base):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_tenant_at", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    action: Mapped[str] = mapped_column(sa.String(60))
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(40))
    changes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


def record(
    session: Any,
    *,
    actor: Any,
    action: str,
    obj: Any,
    changes: dict[str, Any] | None = None,
    tenant_id: int | None = None,
) -> AuditEvent:
    """Add an audit row to the caller's transaction; actor is a user, or a label for the CLI."""
    actor_id = getattr(actor, "id", None)
    label = getattr(actor, "email", None) or str(actor)
    event = AuditEvent(
        actor_id=actor_id,
        actor_label=label,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=str(getattr(obj, "id", "") or ""),
        changes=changes or {},
    )
    if tenant_id is not None:
        event.tenant_id = tenant_id
    session.add(event)
    return event


def apply_changes(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Set each value on obj; return {field: [old, new]} for those that really changed."""
    changes = {}
    for field, new in values.items():
        old = getattr(obj, field)
        if old != new:
            setattr(obj, field, new)
            changes[field] = [plain(old), plain(new)]
    return changes


def plain(value: Any) -> Any:
    """A JSON-safe form of a value for the audit row."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)
