"""Live routing: the tenant's configuration read into the engine's index, the partners'
current load, and the offers, hand-overs and unroutable leads made from the decisions.

Routing one tenant's leads is serialized (an advisory lock on PostgreSQL; SQLite's write
lock), so two workers never count the same spare capacity twice. Each lead moves on only
if it is still in the state routing found it in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from portal.db import insert_rows, utcnow
from portal.extensions import db
from portal.leads.events import event_row, insert_events
from portal.leads.intake import add_event
from portal.leads.lifecycle import Action, LeadState
from portal.leads.models import Lead, Offer
from portal.leads.transitions import move, move_many
from portal.partners.models import (
    Partner,
    PartnerProduct,
    PartnerTerritory,
    Product,
    Territory,
    Tier,
)
from portal.routing import explain
from portal.routing.engine import Decision, Outcome, Shown, route
from portal.routing.facts import (
    FairnessCap,
    Fallback,
    FallbackKind,
    LeadFacts,
    Load,
    PartnerConfig,
    PartnerLoad,
    RoutingConfig,
    TerritoryConfig,
    TerritoryOffers,
    Weights,
)
from portal.routing.index import IndexCache, RoutingIndex
from portal.routing.models import RoutingSettings, SegmentRule
from portal.sla.policy import PartnerSla, deadline, default_policy, next_reminder, partner_sla
from portal.sla.tasks import schedule_expiry
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import current_tenant_id

log = logging.getLogger(__name__)

ROUTING_LABEL = "routing"
# Leads routed per transaction: enough to make the load queries worth their cost, few
# enough that a long backlog commits as it goes.
BATCH = 500
# What an offer keeps of the decision: the top of the ranking and the near misses. A
# network of thousands would otherwise store thousands of rows per offer.
CANDIDATES_KEPT = 5
EXCLUSIONS_KEPT = 10
_ADVISORY_LOCK_CLASS = 0x524F  # "RO"uting: one lock per tenant within this class

_indexes = IndexCache()


# Configuration --------------------------------------------------------------------------


def _tenant_version() -> tuple[tuple[Any, ...], int]:
    """The cache key of the tenant's index and its configuration version.

    The key names the database and the tenant's creation time beside its id, so an index
    never outlives its tenant: a restored database or a rolled-back test can give a new
    tenant an old id at an old version.
    """
    tenant_id = current_tenant_id()
    created_at, version = db.session.execute(
        sa.select(Tenant.created_at, Tenant.config_version).where(Tenant.id == tenant_id)
    ).one()
    return (str(db.session.get_bind().engine.url), tenant_id, created_at), version


def routing_settings_row() -> RoutingSettings | None:
    return db.session.scalar(sa.select(RoutingSettings))


def _settings_values(settings: RoutingSettings | None) -> dict[str, Any]:
    if settings is None:
        return {"weights": Weights(), "fallback": Fallback(), "fairness_cap": None}
    cap = None
    if settings.fairness_cap_percent:
        cap = FairnessCap(
            max_share=settings.fairness_cap_percent / 100,
            window=timedelta(days=settings.fairness_window_days),
            min_offers=settings.fairness_min_offers,
        )
    return {
        "weights": Weights(
            settings.weight_territory,
            settings.weight_tier,
            settings.weight_quality,
            settings.weight_capacity,
            settings.weight_fairness,
        ),
        "fallback": Fallback(FallbackKind(settings.fallback_kind), settings.fallback_partner_id),
        "fairness_cap": cap,
    }


def territory_config(t: Territory) -> TerritoryConfig:
    return TerritoryConfig(
        id=t.id,
        kind=t.kind,
        code=t.code,
        name=t.name,
        country=t.country,
        subdivision=t.subdivision,
        postal_prefix=t.postal_prefix,
        region_countries=tuple(t.region_countries or ()),
    )


def load_config(version: int) -> RoutingConfig:
    """The tenant's routing configuration as the engine takes it, read in a few queries."""
    from portal.routing.services import to_segment

    territories: dict[int, list[int]] = {}
    for partner_id, territory_id in db.session.execute(
        sa.select(PartnerTerritory.partner_id, PartnerTerritory.territory_id)
    ):
        territories.setdefault(partner_id, []).append(territory_id)
    products: dict[int, dict[int, int]] = {}
    coverage = sa.select(
        PartnerProduct.partner_id, PartnerProduct.product_id, PartnerProduct.certification
    )
    for partner_id, product_id, certification in db.session.execute(
        coverage.join(Product, Product.id == PartnerProduct.product_id).where(Product.active)
    ):
        products.setdefault(partner_id, {})[product_id] = certification
    rows = db.session.execute(
        sa.select(
            Partner.id, Partner.name, Partner.status, Partner.capacity,
            Tier.rank, Tier.routing_weight, Tier.name, Partner.quality,
        ).join(Tier, Tier.id == Partner.tier_id)
    )  # fmt: skip
    partners = tuple(
        PartnerConfig(
            id=pid,
            name=name,
            status=status,
            capacity=capacity,
            tier_rank=rank,
            tier_weight=weight,
            tier_name=tier_name,
            territory_ids=tuple(territories.get(pid, ())),
            products=products.get(pid, {}),
            quality=quality,
        )
        for pid, name, status, capacity, rank, weight, tier_name, quality in rows
    )
    segments = tuple(
        to_segment(rule)
        for rule in db.session.scalars(
            sa.select(SegmentRule).options(sa.orm.joinedload(SegmentRule.min_tier))
        )
    )
    return RoutingConfig(
        version=version,
        partners=partners,
        territories=tuple(territory_config(t) for t in db.session.scalars(sa.select(Territory))),
        segments=segments,
        product_names=dict(db.session.execute(sa.select(Product.id, Product.name)).all()),
        **_settings_values(routing_settings_row()),
    )


def current_index() -> RoutingIndex:
    """The index of the tenant's configuration as it is now; rebuilt only when it changed.

    Every process checks the tenant's configuration version, so a change saved by another
    process is seen on the next routing without any message between them.
    """
    key, version = _tenant_version()
    return _indexes.get(key, version, lambda: load_config(version))


# Load -----------------------------------------------------------------------------------


def current_load(config: RoutingConfig, now: datetime) -> Load:
    """Each partner's open offers, accepted leads not yet closed, and last offer time."""
    partners: dict[int, PartnerLoad] = {}
    open_offers = sa.func.sum(sa.case((Offer.state == "open", 1), else_=0))
    for partner_id, open_count, last in db.session.execute(
        sa.select(Offer.partner_id, open_offers, sa.func.max(Offer.offered_at)).group_by(
            Offer.partner_id
        )
    ):
        partners[partner_id] = PartnerLoad(open_offers=int(open_count or 0), last_offered_at=last)
    for partner_id, accepted in db.session.execute(
        sa.select(Offer.partner_id, sa.func.count())
        .join(Lead, Lead.id == Offer.lead_id)
        .where(Offer.state == "accepted", Lead.state.in_(("accepted", "sql")))
        .group_by(Offer.partner_id)
    ):
        known = partners.get(partner_id, PartnerLoad())
        partners[partner_id] = PartnerLoad(known.open_offers, accepted, known.last_offered_at)
    territory_offers: dict[int, TerritoryOffers] = {}
    if config.fairness_cap is not None:
        counts: dict[int, dict[int, int]] = {}
        for territory_id, partner_id, count in db.session.execute(
            sa.select(Offer.territory_id, Offer.partner_id, sa.func.count())
            .where(
                Offer.territory_id.is_not(None),
                Offer.offered_at >= now - config.fairness_cap.window,
            )
            .group_by(Offer.territory_id, Offer.partner_id)
        ):
            counts.setdefault(territory_id, {})[partner_id] = count
        territory_offers = {
            tid: TerritoryOffers(sum(by.values()), by) for tid, by in counts.items()
        }
    return Load(partners=partners, territory_offers=territory_offers)


def _count_offer(load: Load, partner_id: int, territory_id: int | None, now: datetime) -> None:
    """The load after one more offer, so the next lead of the batch sees it."""
    known = load.partners.get(partner_id, PartnerLoad())
    load.partners[partner_id] = PartnerLoad(known.open_offers + 1, known.accepted_open, now)  # type: ignore[index]
    if territory_id is not None:
        offers = load.territory_offers.get(territory_id, TerritoryOffers(0))
        by = dict(offers.by_partner)
        by[partner_id] = by.get(partner_id, 0) + 1
        load.territory_offers[territory_id] = TerritoryOffers(offers.total + 1, by)  # type: ignore[index]


# Decisions into rows --------------------------------------------------------------------


def lead_facts(lead: Lead, partners_had: Iterable[int] = ()) -> LeadFacts:
    return LeadFacts(
        product_id=lead.product_id,
        country=lead.country,
        subdivision=lead.subdivision,
        postal_code=lead.postal_code,
        employees=lead.employees,
        deal_size_minor=lead.deal_size_minor,
        currency=lead.currency,
        partners_had=frozenset(partners_had),
    )


def partners_had(lead_ids: Iterable[int]) -> dict[int, set[int]]:
    had: dict[int, set[int]] = {}
    ids = list(lead_ids)
    if ids:
        for lead_id, partner_id in db.session.execute(
            sa.select(Offer.lead_id, Offer.partner_id).where(Offer.lead_id.in_(ids))
        ):
            had.setdefault(lead_id, set()).add(partner_id)
    return had


def explanation(decision: Decision, index: RoutingIndex) -> dict[str, Any]:
    """What an offer or an unroutable lead keeps of its decision, in JSON-ready values."""
    out = decision.to_dict(max_candidates=CANDIDATES_KEPT, exclusions=Shown.NONE)
    # The facts of a few exclusions (the near misses first), the counts of all: working
    # out the facts of every considered partner costs more than the rest of the decision.
    shown = decision.first_exclusions(EXCLUSIONS_KEPT, near_only=True)
    if not shown:
        shown = decision.first_exclusions(EXCLUSIONS_KEPT)
    out["exclusions"] = [e.to_dict() for e in shown]
    out["exclusions_total"], out["reason_counts"] = decision.reason_counts()
    out["summary"] = explain.outcome_words(decision, index.partner_names)
    return out


def _offer_times(sla: PartnerSla, now: datetime) -> tuple[datetime, datetime | None]:
    """An offer made now: its deadline and its first reminder, under the partner's SLA."""
    due = deadline(sla, now)
    return due, next_reminder(sla, now, due)


def _offer_values(
    lead_id: int,
    partner_id: int,
    times: tuple[datetime, datetime | None],
    now: datetime,
    explanation_data: dict[str, Any],
    territory_id: int | None,
    assigned_by_id: int | None = None,
) -> dict[str, Any]:
    """A new open offer's values; times are its deadline and first reminder."""
    due, remind_at = times
    return {
        "lead_id": lead_id, "partner_id": partner_id, "state": "open", "offered_at": now,
        "due_at": due, "remind_at": remind_at, "explanation": explanation_data,
        "territory_id": territory_id, "assigned_by_id": assigned_by_id,
    }  # fmt: skip


def _new_offer(
    lead: Lead,
    partner: Partner,
    sla: PartnerSla,
    now: datetime,
    explanation_data: dict[str, Any],
    territory_id: int | None,
    assigned_by: Any = None,
) -> Offer:
    times = _offer_times(sla, now)
    assigned_by_id = getattr(assigned_by, "id", None)
    offer = Offer(
        **_offer_values(
            lead.id, partner.id, times, now, explanation_data, territory_id, assigned_by_id
        )
    )
    db.session.add(offer)
    return offer


def _offer_event_data(partner_id: int, due_at: datetime) -> dict[str, Any]:
    return {"partner_id": partner_id, "due_at": due_at.isoformat()}


def _offer_event(
    lead: Lead, offer: Offer, action: Action, before: LeadState, label: str, reason: str
) -> None:
    add_event(
        lead,
        action.value,
        before,
        LeadState.OFFERED,
        label,
        reason,
        _offer_event_data(offer.partner_id, offer.due_at),
        offer_id=offer.id,
    )


def make_offer(
    lead: Lead,
    partner: Partner,
    action: Action,
    now: datetime,
    *,
    explanation_data: dict[str, Any],
    territory_id: int | None,
    label: str,
    reason: str,
    assigned_by: Any = None,
) -> Offer | None:
    """Offer the lead to the partner, with its deadline; None if the lead moved meanwhile."""
    before = move(lead, action, now)
    if before is None:
        return None
    sla = partner_sla(partner, default_policy())
    offer = _new_offer(lead, partner, sla, now, explanation_data, territory_id, assigned_by)
    db.session.flush()
    _offer_event(lead, offer, action, before, label, reason)
    return offer


@dataclass(frozen=True)
class Routed:
    lead_id: int
    outcome: Outcome
    partner_id: int | None = None
    offer_id: int | None = None
    summary: str = ""
    due_at: datetime | None = None


def _action(lead: Lead, decision: Decision) -> Action | None:
    """What routing does with the lead; None when it stays (unroutable, and still nobody)."""
    if decision.partner_id is not None:
        return Action.ROUTE
    action = (
        Action.TO_DIRECT_SALES if decision.outcome == Outcome.DIRECT_SALES else Action.NO_PARTNER
    )
    if LeadState(lead.state) == LeadState.UNROUTABLE and action == Action.NO_PARTNER:
        return None
    return action


def _partner_slas(partner_ids: set[int]) -> dict[int, tuple[Partner, PartnerSla]]:
    """The partners a batch offers leads to, each with its SLA, in two queries."""
    default = default_policy()
    partners = db.session.scalars(
        sa.select(Partner)
        .where(Partner.id.in_(partner_ids))
        .options(sa.orm.selectinload(Partner.sla_policy))
    )
    return {p.id: (p, partner_sla(p, default)) for p in partners} if partner_ids else {}


def _apply_all(
    decided: list[tuple[Lead, Decision, dict[str, Any]]], now: datetime, label: str
) -> list[Routed]:
    """The decisions into rows: the leads moved, one UPDATE per kind of move; the offers
    written in one statement, then their events in another (COPY on PostgreSQL)."""
    tenant_id = current_tenant_id()
    actions = {lead.id: _action(lead, d) for lead, d, _ in decided}
    left = move_many(
        [(lead, action) for lead, _, _ in decided if (action := actions[lead.id]) is not None],
        now,
    )
    partners = _partner_slas({d.partner_id for _, d, _ in decided if d.partner_id is not None})
    results: list[Routed] = []
    offers: list[dict[str, Any]] = []
    offered: list[tuple[int, Lead, LeadState, str]] = []  # position in results, and the event
    # Every offer a partner gets in the batch is made at the same instant under one SLA.
    times: dict[int, tuple[datetime, datetime | None]] = {}
    for lead, decision, data in decided:
        summary = data["summary"]
        action, before = actions[lead.id], left.get(lead.id)
        if action == Action.ROUTE and before is not None:
            partner_id: int = decision.partner_id  # type: ignore[assignment]
            if partner_id not in times:
                times[partner_id] = _offer_times(partners[partner_id][1], now)
            values = _offer_values(
                lead.id, partner_id, times[partner_id], now, data, decision.winner_territory_id
            )
            offers.append({**values, "tenant_id": tenant_id})
            offered.append((len(results), lead, before, summary))
            results.append(Routed(lead.id, decision.outcome))
        elif action == Action.ROUTE:
            results.append(
                Routed(lead.id, decision.outcome, summary="The lead moved on meanwhile.")
            )
        else:
            if action is not None and before is not None:
                add_event(lead, action.value, before, LeadState(lead.state), label, summary, data)
            results.append(Routed(lead.id, decision.outcome, summary=summary))
    offer_ids = insert_rows(db.session.connection(), Offer.__table__, offers)
    events = []
    for offer_id, offer, (position, lead, before, summary) in zip(
        offer_ids, offers, offered, strict=True
    ):
        to, due_at = offer["partner_id"], offer["due_at"]
        events.append(
            event_row(
                lead.id, Action.ROUTE.value, before.value, LeadState.OFFERED.value, label,
                summary, _offer_event_data(to, due_at), at=now, offer_id=offer_id,
            )
        )  # fmt: skip
        results[position] = Routed(
            lead.id, results[position].outcome, to, offer_id, summary, due_at
        )
    insert_events(events)
    return results


def lock_tenant_routing() -> None:
    """One routing at a time per tenant; SQLite transactions already take the write lock."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK_CLASS, current_tenant_id()))
        )


def waiting_for_routing() -> sa.ColumnElement[bool]:
    """MQLs routing should take: a lead flagged as a likely duplicate waits until a channel
    manager keeps it, so two partners are never sent the same customer."""
    return sa.and_(
        Lead.state == LeadState.MQL.value,
        sa.or_(Lead.duplicate_of_id.is_(None), Lead.duplicate_resolution.is_not(None)),
    )


def route_leads(
    lead_ids: Iterable[int] | None = None, *, limit: int = BATCH, label: str = ROUTING_LABEL
) -> list[Routed]:
    """Route leads waiting in state mql (or the given ones, mql or unroutable), oldest first,
    in one transaction, and commit."""
    lock_tenant_routing()
    now = utcnow()
    query = sa.select(Lead).order_by(Lead.id).limit(limit)
    if lead_ids is None:
        query = query.where(waiting_for_routing())
    else:
        query = query.where(
            Lead.id.in_(list(lead_ids)),
            Lead.state.in_((LeadState.MQL.value, LeadState.UNROUTABLE.value)),
        )
    leads = list(db.session.scalars(query))
    if not leads:
        db.session.commit()
        return []
    index = current_index()
    load = current_load(index.config, now)
    had = partners_had(lead.id for lead in leads)
    decided = []
    for lead in leads:
        decision = route(index, lead_facts(lead, had.get(lead.id, ())), load, now)
        # Explained before the load changes: the ranking and exclusions are worked out from
        # it when first asked for, and must see the load the decision saw.
        data = explanation(decision, index)
        if decision.partner_id is not None:
            # Counted now, so the next lead of the batch sees it.
            _count_offer(load, decision.partner_id, decision.winner_territory_id, now)
        decided.append((lead, decision, data))
    results = _apply_all(decided, now, label)
    db.session.commit()
    schedule_expiry((r.offer_id, r.due_at) for r in results if r.offer_id and r.due_at)
    return results


def route_waiting() -> int:
    """Route every lead waiting in state mql, a batch per transaction; how many were."""
    total = 0
    while True:
        done = route_leads()
        total += len(done)
        if len(done) < BATCH:
            return total
