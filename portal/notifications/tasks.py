"""Jobs of the notifications room: fan out events, send e-mails and webhooks, catch up."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from flask import current_app
from redis.exceptions import RedisError

from portal.extensions import db, queue
from portal.jobs import job
from portal.leads.models import LeadEvent
from portal.notifications import fanout, mail, webhooks
from portal.notifications.models import FanOutCursor, OutboundEmail, WebhookDelivery
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope, unscoped

log = logging.getLogger(__name__)


@job(queue="notifications", timeout=300, gather_wait="NOTIFY_GATHER_SECONDS")
def fan_out_events(tenant_id: int, event_ids: list[int]) -> int:
    """Fan out these events of the tenant, then queue the sending; how many rows were made."""
    with tenant_scope(tenant_id):
        made = fanout.fan_out(event_ids)
    _mark_fanned_out(tenant_id, event_ids)
    queue_sending(tenant_id, made)
    return len(made.emails) + len(made.deliveries) + made.notifications


# Events fanned out by their own job, marked in Redis until the catch-up's cursor passes them,
# so the catch-up does not do their work again. The marks only save work: without them (Redis
# restarted) the catch-up fans the events out again, which makes nothing twice.
def _marks_key(tenant_id: int) -> str:
    return f"portal:fanned-out:{tenant_id}"


def _mark_fanned_out(tenant_id: int, event_ids: list[int]) -> None:
    if not queue.is_async or not event_ids:
        return
    try:
        queue.connection.zadd(_marks_key(tenant_id), {str(i): i for i in event_ids})
    except RedisError:
        log.warning("could not mark events of tenant %s fanned out", tenant_id, exc_info=True)


def _fanned_out_of(tenant_id: int) -> Callable[[list[int]], set[int]]:
    def marked(event_ids: list[int]) -> set[int]:
        if not queue.is_async or not event_ids:
            return set()
        scores = queue.connection.zmscore(_marks_key(tenant_id), [str(i) for i in event_ids])
        return {i for i, score in zip(event_ids, scores, strict=True) if score is not None}

    return marked


def _forget_marks(tenant_id: int, upto: int) -> None:
    if queue.is_async:
        queue.connection.zremrangebyscore(_marks_key(tenant_id), "-inf", upto)


# Sending may wait on a slow server: without Redis it runs on a thread, never in a request.
@job(queue="notifications", timeout=600, long_running=True, gather_wait="NOTIFY_GATHER_SECONDS")
def send_emails(tenant_id: int, email_ids: list[int]) -> int:
    """Make one attempt at each of these e-mails of the outbox; how many went."""
    with tenant_scope(tenant_id):
        return mail.send_emails(email_ids)


@job(queue="notifications", timeout=120, long_running=True)
def deliver_webhook(tenant_id: int, delivery_id: int) -> bool:
    """Make one attempt at a webhook delivery."""
    with tenant_scope(tenant_id):
        return webhooks.deliver(delivery_id)


def queue_sending(tenant_id: int, made: fanout.Made) -> None:
    """Queue the sending of new e-mails and deliveries; what is lost is picked up by send_due.

    E-mails go to one mail server, so they are gathered into few jobs. Each webhook
    delivery keeps a job of its own: a partner's slow endpoint holds up only its own.
    """
    if made.emails:
        try:
            queue.enqueue_gathered(send_emails, tenant_id, made.emails)
        except Exception:
            log.exception("could not queue e-mails %s; the periodic job sends them", made.emails)
    for row_id in made.deliveries:
        try:
            queue.enqueue(deliver_webhook, tenant_id, row_id)
        except Exception:
            log.exception("could not queue delivery %s; the periodic job sends it", row_id)


def hand_over(pending: dict[int, list[int]]) -> None:
    """Fan out events just committed: queued with Redis; without it, here and now.

    Called from the session's after-commit hook, where that session can no longer query,
    so the in-process run takes a session of its own in a fresh app context. A failure is
    logged, never raised into the commit that made the events: the catch-up makes it good.
    """
    for tenant_id, event_ids in pending.items():
        try:
            if queue.is_async:
                queue.enqueue_gathered(fan_out_events, tenant_id, event_ids)
            else:
                with current_app.app_context():
                    fan_out_events(tenant_id, event_ids)
        except Exception:
            log.exception("fan-out of events %s of tenant %s failed", event_ids, tenant_id)


# Periodic ---------------------------------------------------------------------------------


@job(queue="notifications", timeout=900)
def catch_up_everywhere() -> int:
    """Fan out every tenant's events that a lost job missed; reads only events past the cursors."""
    with unscoped():
        top = db.session.scalar(sa.select(sa.func.max(LeadEvent.id))) or 0
        behind = (
            db.session.execute(
                sa.select(Tenant.id)
                .outerjoin(FanOutCursor, FanOutCursor.tenant_id == Tenant.id)
                .where(sa.func.coalesce(FanOutCursor.last_event_id, 0) < top)
                .order_by(Tenant.id)
            )
            .scalars()
            .all()
        )
    db.session.rollback()
    read = 0
    for tenant_id in behind:
        try:
            with tenant_scope(tenant_id):
                count, made = fanout.catch_up(top, skip=_fanned_out_of(tenant_id))
            _forget_marks(tenant_id, top)
            read += count
            queue_sending(tenant_id, made)
        except Exception:
            db.session.rollback()
            log.exception("catch-up of tenant %s failed; it runs again next time", tenant_id)
    return read


@job(queue="notifications", timeout=300)
def send_due_everywhere() -> int:
    """Queue an attempt for every e-mail and delivery whose (next) attempt is due."""
    emails: dict[int, list[int]] = {}
    for tenant_id, row_id in _due(OutboundEmail):
        emails.setdefault(tenant_id, []).append(row_id)
    for tenant_id, ids in emails.items():
        queue.enqueue_gathered(send_emails, tenant_id, ids)
    deliveries = _due(WebhookDelivery)
    for tenant_id, row_id in deliveries:
        queue.enqueue(deliver_webhook, tenant_id, row_id)
    return sum(map(len, emails.values())) + len(deliveries)


def _due(model: type) -> Iterable[tuple[int, int]]:
    from portal.db import utcnow

    with unscoped():
        rows = db.session.execute(
            sa.select(model.tenant_id, model.id)  # type: ignore[attr-defined]
            .where(model.state == "pending", model.next_attempt_at <= utcnow())  # type: ignore[attr-defined]
            .order_by(model.next_attempt_at)  # type: ignore[attr-defined]
            .limit(1000)
        ).all()
    db.session.rollback()
    return [tuple(r) for r in rows]
