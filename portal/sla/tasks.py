"""Jobs of the SLA room: the expiry job scheduled for each deadline, and the sweep.

Either alone is enough. The scheduled job expires the offers of a deadline on time when
Redis and a worker with the scheduler run; the sweep finds every overdue offer through the
(state, due_at) index, so it makes good any job that was lost, missed while Redis was down,
or never scheduled (the embedded default runs the sweep on its in-process timer).

Offers that fall due in the same second share one job: a routing batch offers thousands of
leads at one instant, and the offers to a partner (or to partners on one SLA) all fall due
together, so a batch schedules a handful of jobs rather than one per offer.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from portal.db import utcnow
from portal.extensions import db, queue
from portal.jobs import job
from portal.tenancy.scoping import current_tenant_id, tenant_scope

log = logging.getLogger(__name__)


@job(queue="sla", timeout=120)
def expire_offer(tenant_id: int, offer_id: int) -> bool:
    """Expire the offer if it is still open and past its deadline; harmless otherwise.

    The job of one offer, as deadlines were scheduled before offers shared a job; kept so
    that such jobs still waiting in Redis run.
    """
    from portal.leads import offers  # offers schedule this job: import at run time

    with tenant_scope(tenant_id):
        try:
            return offers.expire(offer_id)
        except Exception:
            db.session.rollback()
            log.exception("expiring offer %s of tenant %s failed", offer_id, tenant_id)
            raise


@job(queue="sla", timeout=600)
def expire_offers(tenant_id: int, offer_ids: list[int]) -> int:
    """Expire those of the offers still open and past their deadline, then route their leads;
    how many expired. Harmless when run again, late, or after the offers were answered."""
    from portal.leads.intake import hand_to_routing  # the leads room builds on this one
    from portal.sla import sweep

    with tenant_scope(tenant_id):
        try:
            expired = sweep.expire_batch(offer_ids, utcnow())
        except Exception:
            db.session.rollback()
            log.exception("expiring offers %s of tenant %s failed", offer_ids, tenant_id)
            raise
        if expired:
            hand_to_routing()
    return expired


# Offers per expiry job, as many as the sweep expires in one transaction.
EXPIRY_GROUP = 1000


def expiry_job_id(tenant_id: int, offer_ids: list[int], when: datetime) -> str:
    """One job per set of offers and deadline: scheduling the same one twice stores it once."""
    digest = hashlib.sha1(",".join(map(str, sorted(offer_ids))).encode()).hexdigest()[:16]
    return f"sla-expire-{tenant_id}-{int(when.timestamp())}-{digest}"


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
    by_second: dict[datetime, list[int]] = defaultdict(list)
    for offer_id, due_at in deadlines:
        by_second[_whole_second_after(due_at)].append(offer_id)
    jobs = []
    for when, ids in by_second.items():
        ids.sort()
        for start in range(0, len(ids), EXPIRY_GROUP):
            group = ids[start : start + EXPIRY_GROUP]
            jobs.append((when, expiry_job_id(tenant_id, group, when), (tenant_id, group)))
    try:
        queue.schedule_many(expire_offers, jobs)
    except Exception:
        log.exception(
            "could not schedule the expiry of %s offers of tenant %s; the SLA sweep will expire "
            "them", sum(len(args[1]) for _, _, args in jobs), tenant_id,
        )  # fmt: skip


@job(queue="sla", timeout=600)
def sweep_everywhere() -> dict[str, float]:
    """The periodic SLA sweep over every tenant: overdue offers expired, reminders sent."""
    from portal.sla import sweep

    return sweep.sweep().as_dict()
