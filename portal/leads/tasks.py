"""Jobs of the leads room."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from portal.extensions import db
from portal.jobs import job
from portal.leads import inbox
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope, unscoped

log = logging.getLogger(__name__)


@job(queue="default", timeout=900)
def flag_stale_everywhere() -> int:
    """Flag, once per silence, every tenant's accepted leads that went stale."""
    with unscoped():
        tenants = list(db.session.scalars(sa.select(Tenant.id)))
    db.session.rollback()
    flagged = 0
    for tenant_id in tenants:
        with tenant_scope(tenant_id):
            try:
                flagged += inbox.flag_new_stale_leads()
            except Exception:
                db.session.rollback()
                log.exception("flagging stale leads of tenant %s failed", tenant_id)
    return flagged
