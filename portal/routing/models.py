"""Routing configuration (segment rules, the weights of the routing score) and what-if runs."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, TenantScoped, Timestamped
from portal.partners.models import Partner, Tier
from portal.tenancy.models import User

SEGMENT_BASES = ("employees", "deal_size")
FALLBACK_KINDS = ("none", "partner", "direct_sales")


class SegmentRule(TenantScoped, Base):
    """Leads of a segment (by company size or deal size) need a minimum tier or certification."""

    __tablename__ = "segment_rule"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name"),
        sa.CheckConstraint("min_value >= 0", name="min_value_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    basis: Mapped[str] = mapped_column(sa.String(12))
    # Inclusive lower bound; upper bound exclusive, None for no upper bound. Deal sizes are
    # in minor units of `currency`.
    min_value: Mapped[int] = mapped_column(sa.BigInteger)
    max_value: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    min_tier_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tier.id", ondelete="RESTRICT"))
    min_certification: Mapped[int | None]

    min_tier: Mapped[Tier | None] = relationship()


class RoutingSettings(TenantScoped, Base):
    """The weights of the routing score's terms; one row per tenant."""

    __tablename__ = "routing_settings"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id"),
        sa.CheckConstraint(
            "fallback_kind IN ('none', 'partner', 'direct_sales')", name="fallback_kind"
        ),
        sa.CheckConstraint(
            "(fallback_kind = 'partner') = (fallback_partner_id IS NOT NULL)",
            name="fallback_partner",
        ),
        sa.CheckConstraint(
            "fairness_cap_percent IS NULL OR fairness_cap_percent BETWEEN 1 AND 100",
            name="fairness_cap_percent",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    weight_territory: Mapped[int] = mapped_column(default=40)
    weight_tier: Mapped[int] = mapped_column(default=20)
    weight_quality: Mapped[int] = mapped_column(default=20)
    weight_capacity: Mapped[int] = mapped_column(default=10)
    weight_fairness: Mapped[int] = mapped_column(default=10)
    # Where leads go that no partner is eligible for (portal.routing.facts.FallbackKind).
    fallback_kind: Mapped[str] = mapped_column(sa.String(12), default="none", server_default="none")
    fallback_partner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("partner.id", ondelete="RESTRICT")
    )
    # The fairness cap: no partner above this share of a territory's offers in the window;
    # None for no cap.
    fairness_cap_percent: Mapped[int | None]
    fairness_window_days: Mapped[int] = mapped_column(default=30, server_default="30")
    fairness_min_offers: Mapped[int] = mapped_column(default=10, server_default="10")

    # An accepted lead the partner has not moved or updated for this many days is stale.
    stale_after_days: Mapped[int] = mapped_column(default=14, server_default="14")

    fallback_partner: Mapped[Partner | None] = relationship()


class RoutingSimulation(TenantScoped, Timestamped, Base):
    """One what-if run: a drafted change tried on a past period, and where leads would go.

    The record is all a simulation writes; the draft and results are kept as run, with the
    names of the time, so the record reads the same after the network changes.
    """

    __tablename__ = "routing_simulation"
    __table_args__ = (
        sa.Index("ix_routing_simulation_tenant_created", "tenant_id", "created_at"),
        sa.CheckConstraint("period_start <= period_end", name="period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # Whole UTC days, both included.
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    config_version: Mapped[int]
    lead_count: Mapped[int]
    # portal.routing.whatif.Draft.to_dict(), plus "summary": the change in sentences.
    draft: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # Per partner and outcome: actually, simulated with the current configuration, and
    # simulated with the draft (portal.routing.simulation builds it).
    results: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    created_by: Mapped[User | None] = relationship()
