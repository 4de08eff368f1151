"""Jobs of the routing room: route a tenant's waiting MQLs, and the periodic safety net."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from portal.extensions import db, queue
from portal.jobs import job
from portal.leads.models import Lead
from portal.routing import dispatch
from portal.tenancy.scoping import current_tenant_id, tenant_scope, unscoped

log = logging.getLogger(__name__)


@job(queue="routing", timeout=900, gather_wait="ROUTING_GATHER_SECONDS")
def route_tenant(tenant_id: int) -> int:
    """Route every MQL of the tenant that waits for a partner; returns how many were."""
    with tenant_scope(tenant_id):
        try:
            return dispatch.route_waiting()
        except Exception:
            db.session.rollback()
            log.exception("routing the leads of tenant %s failed", tenant_id)
            raise


def hand_over() -> None:
    """Ask for the tenant's new MQLs to be routed; call it after the commit that made them.

    Without Redis the routing runs here and now. With Redis the tenant's routing job waits
    a second, and asks made meanwhile join it (it routes every waiting lead). If the queue
    cannot be reached, the periodic sweep routes the leads a little later, so intake never
    fails for it.
    """
    tenant_id = current_tenant_id()
    try:
        queue.enqueue_gathered(route_tenant, tenant_id)
    except Exception:
        log.exception("could not queue routing for tenant %s; the sweep will route", tenant_id)


@job(queue="routing", timeout=900)
def route_everywhere() -> int:
    """The safety net: route the waiting MQLs of every tenant (lost jobs, a down Redis)."""
    with unscoped():
        tenants = list(
            db.session.scalars(
                sa.select(Lead.tenant_id).where(dispatch.waiting_for_routing()).distinct()
            )
        )
    db.session.rollback()
    routed = 0
    for tenant_id in tenants:
        try:
            routed += route_tenant(tenant_id)
        except Exception:
            continue  # logged by route_tenant; the other tenants still get their leads
    return routed
