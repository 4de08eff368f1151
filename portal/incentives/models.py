"""Incentive plans, one row per version: a saved change is a new version, and the versions
before it stay as they were, for the statements worked out under them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, TenantScoped, utcnow
from portal.partners.models import Partner
from portal.scorecards.periods import month_of


class IncentivePlan(TenantScoped, Base):
    __tablename__ = "incentive_plan"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "version"),)
    tenant_id_index = False  # the unique constraint leads with it

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    bounty_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Tier name -> basis points of won revenue (100 bp is 1%).
    share_bp_by_tier: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    sla_gate_percent: Mapped[int | None]
    accelerator_percent: Mapped[int | None]
    accelerator_bp: Mapped[int] = mapped_column(default=0)
    cap_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_label: Mapped[str] = mapped_column(sa.String(254))


STATEMENT_STATES = ("draft", "approved", "paid")


class Statement(TenantScoped, Base):
    """What one partner earned in one month under one version of the plan. A draft is worked
    out again freely; approved, it is locked; then it is paid."""

    __tablename__ = "statement"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "partner_id", "period"),
        sa.CheckConstraint("status IN ('draft', 'approved', 'paid')", name="status"),
    )
    tenant_id_index = False  # the unique constraint leads with it

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("partner.id", ondelete="RESTRICT"), index=True
    )
    period: Mapped[str] = mapped_column(sa.String(7))  # a month: 2026-11
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("incentive_plan.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(sa.String(3))
    # The partner's tier when worked out: a share is paid by it, also in later adjustments.
    tier_name: Mapped[str | None] = mapped_column(sa.String(40))
    total_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[str] = mapped_column(sa.String(8), default="draft")
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    approved_by_label: Mapped[str | None] = mapped_column(sa.String(254))
    paid_at: Mapped[datetime | None]
    paid_by_label: Mapped[str | None] = mapped_column(sa.String(254))

    partner: Mapped[Partner] = relationship()
    plan: Mapped[IncentivePlan] = relationship()
    lines: Mapped[list[StatementLine]] = relationship(
        order_by="StatementLine.position", cascade="all, delete-orphan"
    )

    @property
    def month_label(self) -> str:
        """The month as people say it: "November 2026"."""
        return month_of(date.fromisoformat(f"{self.period}-01")).label


class StatementLine(TenantScoped, Base):
    """One line of a statement: the lead or the rule it is for, and the amount; an
    adjustment names the earlier month whose locked statement it corrects."""

    __tablename__ = "statement_line"
    tenant_id_index = False  # lines are read by their statement

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("statement.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(20))
    lead_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lead.id", ondelete="RESTRICT"))
    description: Mapped[str] = mapped_column(sa.String(300))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    adjusts_period: Mapped[str | None] = mapped_column(sa.String(7))
