"""Incentive plans, one row per version: a saved change is a new version, and the versions
before it stay as they were, for the statements worked out under them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantScoped, utcnow


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
