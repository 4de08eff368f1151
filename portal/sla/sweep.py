"""The SLA sweep: expire every overdue open offer of every tenant and send the reminders due.

It reads only what is due: the overdue offers through the (state, due_at) index, the
reminders through (state, remind_at), a batch at a time in keyset order, so a sweep that
finds nothing costs two index probes however many offers are open. Each batch is one
transaction per tenant; an offer another transaction holds (a partner accepting it right
now, another sweep) is skipped and left to its holder or to the next sweep. The leads that
went back to mql are then routed once per tenant, not once per offer.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.db import utcnow
from portal.extensions import db
from portal.leads.events import event_row, insert_events
from portal.leads.intake import add_event
from portal.leads.lifecycle import Action, LeadState, next_state
from portal.leads.models import Lead, Offer
from portal.page_versions import for_partners
from portal.partners.models import Partner
from portal.sla.clock import zone
from portal.sla.policy import PartnerSla, default_policy, next_reminder, partner_sla, reminder_times
from portal.tenancy.scoping import tenant_scope, unscoped

log = logging.getLogger(__name__)

SLA_LABEL = "SLA clock"
OPEN = "open"
# Offers per transaction: large enough that a backlog of thousands takes a few round trips,
# small enough that a transaction holds its row locks briefly.
BATCH = 1000
# Leads routed per transaction after expiry. Routing reads the partners' load once per batch,
# a read of every offer of the tenant, so a backlog of ten thousand takes two.
ROUTE_BATCH = 5000


@dataclass
class SweepReport:
    expired: int = 0
    reminded: int = 0
    routed: int = 0
    # Seconds each part took, for the log and the benchmark.
    expire_s: float = 0.0
    route_s: float = 0.0
    remind_s: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _due(column: Any, now: datetime, after: tuple[datetime, int] | None, limit: int) -> list[Any]:
    """Open offers of every tenant whose column is due, in keyset order after a position."""
    query = sa.select(Offer.tenant_id, Offer.id, column).where(Offer.state == OPEN, column <= now)
    if after is not None:
        query = query.where(sa.tuple_(column, Offer.id) > after)
    with unscoped():
        rows = db.session.execute(query.order_by(column, Offer.id).limit(limit)).all()
    db.session.rollback()
    return rows


def _pages(column: Any, now: datetime, limit: int) -> Iterator[dict[int, list[int]]]:
    """The due offers a page at a time, as offer ids by tenant."""
    after = None
    while True:
        rows = _due(column, now, after, limit)
        if not rows:
            return
        by_tenant: dict[int, list[int]] = defaultdict(list)
        for tenant_id, offer_id, _ in rows:
            by_tenant[tenant_id].append(offer_id)
        yield by_tenant
        if len(rows) < limit:
            return
        after = (rows[-1][2], rows[-1][1])


def _lock(ids: list[int], *conditions: Any) -> sa.Select[Any]:
    """The offers among ids that still meet the conditions, locked for this transaction; one
    that another transaction holds is skipped (PostgreSQL; SQLite has one writer anyway)."""
    return (
        sa.select(Offer)
        .where(Offer.id.in_(ids), Offer.state == OPEN, *conditions)
        .order_by(Offer.id)
        .with_for_update(skip_locked=True, of=Offer)
    )


# Expiry -------------------------------------------------------------------------------------


def expire_batch(offer_ids: list[int], now: datetime) -> int:
    """Expire the current tenant's offers among offer_ids that are still open and overdue, in
    one transaction, with the lead event offers.expire writes; commits. How many expired."""
    locked = list(db.session.execute(_lock(offer_ids, Offer.due_at <= now).with_only_columns(
        Offer.id, Offer.lead_id, Offer.partner_id, Offer.due_at
    )))  # fmt: skip
    if not locked:
        db.session.rollback()
        return 0
    after = next_state(LeadState.OFFERED, Action.EXPIRE)
    moved = set(
        db.session.scalars(
            sa.update(Lead)
            .where(Lead.id.in_([r.lead_id for r in locked]), Lead.state == LeadState.OFFERED.value)
            .values(state=after.value, updated_at=now)
            .returning(Lead.id)
            .execution_options(synchronize_session=False)
        )
    )
    expiring = [r for r in locked if r.lead_id in moved]
    if len(moved) < len(locked):
        # An open offer of a lead that is not offered breaks an invariant: leave it open and
        # say so, rather than expire it without the lead following.
        log.error(
            "offers %s are open but their leads are not offered; not expired",
            [r.id for r in locked if r.lead_id not in moved],
        )
    if expiring:
        db.session.execute(
            sa.update(Offer)
            .where(Offer.id.in_([r.id for r in expiring]))
            .values(state="expired", decided_at=now)
            .execution_options(
                synchronize_session=False, **for_partners(r.partner_id for r in expiring)
            )
        )
        _expiry_events(expiring, now, after)
    db.session.commit()
    if expiring:
        from portal.scorecards.tasks import offers_resolved  # scorecards build on the SLA room

        offers_resolved({r.partner_id for r in expiring})
    return len(expiring)


def _expiry_events(expiring: list[Any], now: datetime, after: LeadState) -> None:
    names = dict(
        db.session.execute(
            sa.select(Partner.id, Partner.name).where(
                Partner.id.in_({r.partner_id for r in expiring})
            )
        ).all()
    )
    insert_events(
        [
            event_row(
                r.lead_id, Action.EXPIRE.value, LeadState.OFFERED.value, after.value, SLA_LABEL,
                f"{names[r.partner_id]} did not answer by the deadline.",
                {"partner_id": r.partner_id, "due_at": r.due_at.isoformat()},
                at=now, offer_id=r.id,
            )
            for r in expiring
        ]
    )  # fmt: skip


def route_after_expiry() -> int:
    """Route the current tenant's waiting MQLs, a large batch per transaction; how many."""
    from portal.routing import dispatch  # routing builds on leads and the SLA clock

    total = 0
    while True:
        done = dispatch.route_leads(limit=ROUTE_BATCH)
        total += len(done)
        if len(done) < ROUTE_BATCH:
            return total


def expire_overdue(now: datetime, report: SweepReport, batch: int = BATCH) -> set[int]:
    """Expire every overdue open offer of every tenant; the tenants whose leads went back."""
    touched: set[int] = set()
    for by_tenant in _pages(Offer.due_at, now, batch):
        for tenant_id, ids in by_tenant.items():
            with tenant_scope(tenant_id):
                try:
                    expired = expire_batch(ids, now)
                except Exception:
                    db.session.rollback()
                    log.exception("expiring offers of tenant %s failed", tenant_id)
                    continue
            report.expired += expired
            if expired:
                touched.add(tenant_id)
    return touched


# Reminders ----------------------------------------------------------------------------------


def _words(point: int, offer: Offer, sla: PartnerSla) -> str:
    due = offer.due_at.astimezone(zone(sla.calendar.timezone))
    return (
        f"Reminder: {point}% of the time to answer has passed; "
        f"due {due:%Y-%m-%d %H:%M} ({sla.calendar.timezone})."
    )


def remind(offer: Offer, sla: PartnerSla, now: datetime) -> bool:
    """Send the latest reminder point the offer has passed and not been sent (the earlier ones
    it passed meanwhile are marked sent, not sent late), then set when the next one falls."""
    sent = [int(p) for p in offer.reminders_sent or []]
    passed = [
        point
        for point, at in reminder_times(sla, offer.offered_at, offer.due_at)
        if at <= now and point not in sent
    ]
    if passed:
        point = max(passed)
        state = LeadState(offer.lead.state)
        add_event(
            offer.lead, "remind", state, state, SLA_LABEL, _words(point, offer, sla),
            {"partner_id": offer.partner_id, "point": point, "due_at": offer.due_at.isoformat()},
            offer_id=offer.id,
        )  # fmt: skip
        sent = sorted({*sent, *passed})
        offer.reminders_sent = sent
    offer.remind_at = next_reminder(sla, offer.offered_at, offer.due_at, sent)
    return bool(passed)


def remind_batch(offer_ids: list[int], now: datetime) -> int:
    """Send the reminders due of the current tenant's offers among offer_ids; commits."""
    offers = list(
        db.session.scalars(
            _lock(offer_ids, Offer.remind_at <= now, Offer.due_at > now).options(
                selectinload(Offer.lead),
                selectinload(Offer.partner).selectinload(Partner.sla_policy),
            )
        )
    )
    default = default_policy()
    slas: dict[int, PartnerSla] = {}
    sent = 0
    for offer in offers:
        if offer.partner_id not in slas:
            slas[offer.partner_id] = partner_sla(offer.partner, default)
        sent += remind(offer, slas[offer.partner_id], now)
    db.session.commit()
    return sent


def send_reminders(now: datetime, report: SweepReport, batch: int = BATCH) -> None:
    """Send every reminder due on the open offers of every tenant."""
    for by_tenant in _pages(Offer.remind_at, now, batch):
        for tenant_id, ids in by_tenant.items():
            with tenant_scope(tenant_id):
                try:
                    report.reminded += remind_batch(ids, now)
                except Exception:
                    db.session.rollback()
                    log.exception("sending reminders of tenant %s failed", tenant_id)


# The sweep ----------------------------------------------------------------------------------


def route_tenants(tenant_ids: Iterable[int], report: SweepReport) -> None:
    for tenant_id in sorted(tenant_ids):
        with tenant_scope(tenant_id):
            try:
                report.routed += route_after_expiry()
            except Exception:
                db.session.rollback()
                # The periodic routing job routes the waiting MQLs later.
                log.exception("routing after expiry in tenant %s failed", tenant_id)


def sweep(now: datetime | None = None) -> SweepReport:
    """Expire every overdue offer, route the leads that went back, and send due reminders."""
    now = now or utcnow()
    report = SweepReport()
    started = time.perf_counter()
    touched = expire_overdue(now, report)
    report.expire_s = time.perf_counter() - started
    route_tenants(touched, report)
    report.route_s = time.perf_counter() - started - report.expire_s
    send_reminders(now, report)
    report.remind_s = time.perf_counter() - started - report.expire_s - report.route_s
    if report.expired or report.reminded:
        log.info(
            "SLA sweep: %s offers expired in %.2f s, %s leads routed in %.2f s, %s reminders",
            report.expired, report.expire_s, report.routed, report.route_s, report.reminded,
        )  # fmt: skip
    return report
