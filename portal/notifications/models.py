"""Notifications to users, the e-mail outbox, webhook endpoints and their deliveries, and the
catch-up cursor of each tenant's fan-out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, TenantScoped, Timestamped, utcnow
from portal.tenancy.models import User

MESSAGE_STATES = ("pending", "sent", "failed")


class Notification(TenantScoped, Timestamped, Base):
    """A line in one user's in-app notifications, unread until read_at is set."""

    __tablename__ = "notification"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "user_id"),
        # The navigation bar counts a user's unread notifications on every page.
        sa.Index(
            "ix_notification_unread",
            "user_id",
            postgresql_where=sa.text("read_at IS NULL"),
            sqlite_where=sa.text("read_at IS NULL"),
        ),
        sa.Index("ix_notification_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lead_event.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(sa.String(300))
    link: Mapped[str | None] = mapped_column(sa.String(300))
    read_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class OutboundEmail(TenantScoped, Timestamped, Base):
    """One e-mail in the outbox: pending until the mail job sent it, or failed for good."""

    __tablename__ = "outbound_email"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "recipient"),
        sa.Index("ix_outbound_email_state_next", "state", "next_attempt_at"),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lead_event.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(8), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None]


class WebhookEndpoint(TenantScoped, Timestamped, Base):
    """A URL of the tenant's that is sent the lead events it subscribed to, signed."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(500))
    # The event types it receives, among rules.WEBHOOK_EVENTS.
    events: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    # Kept in clear: every delivery is signed with it. Shown to the admin once, at creation.
    secret: Mapped[str] = mapped_column(sa.String(80))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )


class WebhookDelivery(TenantScoped, Timestamped, Base):
    """One event sent (or to be sent) to one endpoint, with the outcome of its last attempt."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # A lead event goes to an endpoint once; test events and resends have no event_id.
        sa.UniqueConstraint("event_id", "endpoint_id"),
        sa.Index("ix_webhook_delivery_state_next", "state", "next_attempt_at"),
        sa.Index("ix_webhook_delivery_endpoint_id_id", "endpoint_id", "id"),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE")
    )
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lead_event.id", ondelete="CASCADE"))
    resend_of_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("webhook_delivery.id", ondelete="SET NULL")
    )
    event_type: Mapped[str] = mapped_column(sa.String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    state: Mapped[str] = mapped_column(sa.String(8), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    response_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    duration_ms: Mapped[int | None]

    endpoint: Mapped[WebhookEndpoint] = relationship()


class FanOutCursor(TenantScoped, Base):
    """The last lead event of the tenant the catch-up has fanned out."""

    __tablename__ = "fan_out_cursor"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int] = mapped_column(default=0)
