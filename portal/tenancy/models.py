"""Tenants, their users, login sessions and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, TenantScoped, Timestamped, utcnow
from portal.tenancy.roles import Permission, Role, can

if TYPE_CHECKING:
    from portal.partners.models import Partner


class Tenant(Timestamped, Base):
    __tablename__ = "tenant"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    default_currency: Mapped[str] = mapped_column(sa.String(3), default="EUR")
    # Bumped by every change to routing-relevant configuration; routing indexes compare it.
    config_version: Mapped[int] = mapped_column(default=1)


class User(UserMixin, TenantScoped, Timestamped, Base):
    __tablename__ = "user_account"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "email"),
        sa.CheckConstraint(
            "(role = 'partner_user') = (partner_id IS NOT NULL)", name="partner_iff_partner_user"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20))
    partner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("partner.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    tenant: Mapped[Tenant] = relationship(lazy="joined", innerjoin=True)
    partner: Mapped[Partner | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def can(self, permission: Permission) -> bool:
        return can(self.role, permission)


class AuthSession(TenantScoped, Timestamped, Base):
    """One login: ended by logout, deactivation, a password change or its timeouts."""

    __tablename__ = "auth_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))

    user: Mapped[User] = relationship()


class ApiKey(TenantScoped, Timestamped, Base):
    """A tenant's key for the JSON API; only its SHA-256 is kept."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    created_by: Mapped[User | None] = relationship()
    tenant: Mapped[Tenant] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
