"""What a tenant sets for its scorecards."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantScoped


class ScorecardSettings(TenantScoped, Base):
    """The weights of the quality score's parts, and the days of offers it is read over;
    one row per tenant (none: the defaults of portal.scorecards.metrics.QualityWeights)."""

    __tablename__ = "scorecard_settings"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id"),
        sa.CheckConstraint(
            "weight_acceptance >= 0 AND weight_sla >= 0 AND weight_response >= 0"
            " AND weight_conversion >= 0"
            " AND weight_acceptance + weight_sla + weight_response + weight_conversion > 0",
            name="weights",
        ),
        sa.CheckConstraint("quality_window_days BETWEEN 7 AND 365", name="quality_window"),
    )
    tenant_id_index = False  # the unique constraint leads with it

    id: Mapped[int] = mapped_column(primary_key=True)
    weight_acceptance: Mapped[int] = mapped_column(default=30)
    weight_sla: Mapped[int] = mapped_column(default=30)
    weight_response: Mapped[int] = mapped_column(default=20)
    weight_conversion: Mapped[int] = mapped_column(default=20)
    quality_window_days: Mapped[int] = mapped_column(default=90)


class TierQuality(TenantScoped, Base):
    """The median quality of a tier's partners over a period, kept so that one partner's
    page compares it with its tier without reading every partner's offers of six periods.
    The hourly job works the recent ones out again; a page works out one older than that."""

    __tablename__ = "tier_quality"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "period", "tier_id"),)
    tenant_id_index = False  # the unique constraint leads with it

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(24))  # a period key: 2026-11, 2026-Q4, ...
    tier_id: Mapped[int] = mapped_column(sa.ForeignKey("tier.id", ondelete="CASCADE"))
    median: Mapped[float | None]  # None: no partner of the tier has a quality then
    partners: Mapped[int]  # how many partners of the tier had one
    computed_at: Mapped[datetime]
