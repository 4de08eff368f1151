"""Jobs of the SLA room: the expiry job scheduled for each offer's deadline, and the sweep.

Either alone is enough. The scheduled job expires one offer on time when Redis and a worker
with the scheduler run; the sweep finds every overdue offer through the (state, due_at)
index, so it makes good any job that was lost, missed while Redis was down, or never
scheduled (the embedded default runs the sweep on its in-process timer).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from portal.extensions import db, queue
from portal.jobs import job
from portal.tenancy.scoping import current_tenant_id, tenant_scope

log = logging.getLogger(__name__)


@job(queue="sla", timeout=120)
def expire_offer(tenant_id: int, offer_id: int) -> bool:
    """Expire the offer if it is still open and past its deadline; harmless otherwise."""
    from portal.leads import offers  # offers schedule this job: import at run time

    with tenant_scope(tenant_id):
        try:
            return offers.expire(offer_id)
        except Exception:
            db.session.rollback()
            log.exception("expiring offer %s of tenant %s failed", offer_id, tenant_id)
            raise


def expiry_job_id(offer_id: int, due_at: datetime) -> str:
    """One job per offer and deadline: scheduling the same one twice stores it once."""
    return f"sla-expire-{offer_id}-{int(due_at.timestamp())}"


def _whole_second_after(moment: datetime) -> datetime:
    """RQ keeps a scheduled time in whole seconds, cutting the fraction off; a job for 10:00:00.7
    would run at 10:00:00, find the offer not yet due, and leave it to the sweep."""
    if moment.microsecond:
        return moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


def schedule_expiry(deadlines: Iterable[tuple[int, datetime]]) -> None:
    """Schedule the expiry of the current tenant's offers at their deadlines; call it after
    the commit that made or moved them.

    A failure (Redis down) is logged and not raised: the answer or the routing that called
    this has been committed, and the sweep expires the offers when they are due.
    """
    tenant_id = current_tenant_id()
    jobs = [
        (_whole_second_after(due_at), expiry_job_id(offer_id, due_at), (tenant_id, offer_id))
        for offer_id, due_at in deadlines
    ]
    try:
        queue.schedule_many(expire_offer, jobs)
    except Exception:
        log.exception(
            "could not schedule the expiry of %s offers of tenant %s; the SLA sweep will expire "
            "them", len(jobs), tenant_id,
        )  # fmt: skip


@job(queue="sla", timeout=600)
def sweep_everywhere() -> dict[str, float]:
    """The periodic SLA sweep over every tenant: overdue offers expired, reminders sent."""
    from portal.sla import sweep

    return sweep.sweep().as_dict()
