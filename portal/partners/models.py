"""The channel network: tiers, partners, territories, products and who covers what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, TenantScoped, Timestamped
from portal.partners.validation import PARTNER_STATUSES  # noqa: F401  (re-exported)

TERRITORY_KINDS = ("global", "region", "country", "subdivision", "postal")
SLA_CLOCKS = ("wall", "business")


class Tier(TenantScoped, Base):
    __tablename__ = "tier"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    rank: Mapped[int]  # 1 is the top tier
    routing_weight: Mapped[int] = mapped_column(default=0)


class SlaPolicy(TenantScoped, Base):
    """How long a partner has to answer an offer, and how that time is counted."""

    __tablename__ = "sla_policy"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name"),
        sa.CheckConstraint("response_hours > 0", name="response_hours_positive"),
        # At most one default per tenant, whatever the services do.
        sa.Index(
            "uq_sla_policy_one_default",
            "tenant_id",
            unique=True,
            postgresql_where=sa.text("is_default"),
            sqlite_where=sa.text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    response_hours: Mapped[int]
    clock: Mapped[str] = mapped_column(sa.String(10), default="business")
    # Monday is 0, as in datetime.weekday().
    work_days: Mapped[list[Any]] = mapped_column(sa.JSON, default=lambda: [0, 1, 2, 3, 4])
    work_start: Mapped[str] = mapped_column(sa.String(5), default="09:00")
    work_end: Mapped[str] = mapped_column(sa.String(5), default="17:00")
    holiday_country: Mapped[str | None] = mapped_column(sa.String(2))
    reminder_points: Mapped[list[Any]] = mapped_column(sa.JSON, default=lambda: [50, 90])
    is_default: Mapped[bool] = mapped_column(default=False)


class Partner(TenantScoped, Timestamped, Base):
    __tablename__ = "partner"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name"),
        sa.CheckConstraint("capacity >= 0", name="capacity_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    tier_id: Mapped[int] = mapped_column(sa.ForeignKey("tier.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(sa.String(12), default="active")
    capacity: Mapped[int] = mapped_column(default=25)
    country: Mapped[str] = mapped_column(sa.String(2))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    contact_name: Mapped[str | None] = mapped_column(sa.String(120))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    # None: the tenant's default SLA policy applies.
    sla_policy_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sla_policy.id", ondelete="RESTRICT"), index=True
    )
    # The scorecard quality (0 to 100) over the tenant's quality window, which routing reads;
    # None until the partner has answered an offer in it. Kept by portal.scorecards.
    quality: Mapped[int | None]
    quality_at: Mapped[datetime | None]

    tier: Mapped[Tier] = relationship(lazy="joined", innerjoin=True)
    sla_policy: Mapped[SlaPolicy | None] = relationship()
    territories: Mapped[list[PartnerTerritory]] = relationship(
        back_populates="partner", cascade="all, delete-orphan"
    )
    products: Mapped[list[PartnerProduct]] = relationship(
        back_populates="partner", cascade="all, delete-orphan"
    )


class Territory(TenantScoped, Base):
    """A node of the ISO 3166 hierarchy a partner can cover, from global to a postal prefix."""

    __tablename__ = "territory"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(12))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    subdivision: Mapped[str | None] = mapped_column(sa.String(6))
    postal_prefix: Mapped[str | None] = mapped_column(sa.String(10))
    region_countries: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class ProductLine(TenantScoped, Base):
    __tablename__ = "product_line"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(120))


class Product(TenantScoped, Base):
    __tablename__ = "product"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(120))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    line_id: Mapped[int] = mapped_column(
        sa.ForeignKey("product_line.id", ondelete="RESTRICT"), index=True
    )

    line: Mapped[ProductLine] = relationship()


class PartnerTerritory(TenantScoped, Base):
    __tablename__ = "partner_territory"
    __table_args__ = (sa.UniqueConstraint("partner_id", "territory_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partner.id", ondelete="CASCADE"))
    territory_id: Mapped[int] = mapped_column(
        sa.ForeignKey("territory.id", ondelete="RESTRICT"), index=True
    )

    partner: Mapped[Partner] = relationship(back_populates="territories")
    territory: Mapped[Territory] = relationship()


class PartnerProduct(TenantScoped, Base):
    __tablename__ = "partner_product"
    __table_args__ = (sa.UniqueConstraint("partner_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partner.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        sa.ForeignKey("product.id", ondelete="RESTRICT"), index=True
    )
    certification: Mapped[int] = mapped_column(default=0)

    partner: Mapped[Partner] = relationship(back_populates="products")
    product: Mapped[Product] = relationship()


class PartnerImport(TenantScoped, Timestamped, Base):
    """An uploaded partner CSV: checked in a dry run, applied at most once."""

    __tablename__ = "partner_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    content: Mapped[str] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    applied_at: Mapped[datetime | None]
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
