"""Jobs of the scorecards room: a partner's quality worked out again when its offers resolve,
and every partner's by a periodic job (offers also leave the window as days pass)."""

from __future__ import annotations

import logging
from collections.abc import Collection

import sqlalchemy as sa

from portal.db import utcnow
from portal.extensions import db, queue
from portal.jobs import job
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import current_tenant_id, tenant_scope, unscoped

log = logging.getLogger(__name__)


@job(queue="default", timeout=900, gather_wait="QUALITY_GATHER_SECONDS")
def recompute_partner_quality(tenant_id: int, partner_ids: list[int] | None) -> int:
    """Work out these partners' quality again (None: all the tenant's); how many changed."""
    from portal.scorecards import services

    with tenant_scope(tenant_id):
        return services.recompute_quality(partner_ids)


@job(queue="default", timeout=1800)
def recompute_quality_everywhere() -> int:
    """Every tenant's partners' quality, worked out again, and the tier medians of the
    recent months and quarters; how many qualities changed. Answer times not kept yet
    (offers answered before they were) are filled in first."""
    from portal.scorecards import services

    with unscoped():
        tenants = list(db.session.scalars(sa.select(Tenant.id)))
    db.session.rollback()
    changed = 0
    for tenant_id in tenants:
        with tenant_scope(tenant_id):
            try:
                while services.fill_answer_times():
                    pass
                changed += services.recompute_quality()
                services.refresh_tier_medians(utcnow().date())
            except Exception:
                db.session.rollback()
                log.exception("quality of the partners of tenant %s not worked out", tenant_id)
    return changed


def offers_resolved(partner_ids: Collection[int]) -> None:
    """Have the quality of these partners of the current tenant worked out again; call it
    after the commit that resolved their offers. Without Redis it runs here and now; with
    it, the partners asked for while the tenant's job waits are worked out by that job. A
    failure is logged, never raised into the answer that was committed, and the periodic
    job makes it good."""
    if not partner_ids:
        return
    tenant_id = current_tenant_id()
    try:
        queue.enqueue_gathered(recompute_partner_quality, tenant_id, partner_ids)
    except Exception:
        db.session.rollback()
        log.exception("quality of partners %s of tenant %s not worked out", partner_ids, tenant_id)


def quality_rules_changed() -> None:
    """Have every partner's quality of the current tenant worked out again, after the commit
    of new weights or a new window."""
    tenant_id = current_tenant_id()
    try:
        queue.enqueue(recompute_partner_quality, tenant_id, None)
    except Exception:
        db.session.rollback()
        log.exception("quality of the partners of tenant %s not worked out", tenant_id)
