"""Use cases of the partner network."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.extensions import db
from portal.partners.models import Partner, Tier


def partner_choices() -> list[Partner]:
    """The tenant's partners by name, for pickers."""
    return list(db.session.scalars(sa.select(Partner).order_by(Partner.name)))


def partners_page(page: int, per_page: int) -> Any:
    """The tenant's partners, best tier first, then by name."""
    query = sa.select(Partner).join(Partner.tier).order_by(Tier.rank, Partner.name)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def partner_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Partner.id))) or 0
