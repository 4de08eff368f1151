"""What the API keeps: the first answer to each Idempotency-Key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantScoped, utcnow


class IdempotencyKey(TenantScoped, Base):
    """A client's key for one request: a retry with the same body gets the same answer."""

    __tablename__ = "idempotency_key"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    # None while the first request is still being answered.
    status_code: Mapped[int | None]
    response_body: Mapped[Any] = mapped_column(sa.JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
