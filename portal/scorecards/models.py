"""What a tenant sets for its scorecards."""

from __future__ import annotations

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
