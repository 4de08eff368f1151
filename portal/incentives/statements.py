"""Statements: each partner's month worked out under the current plan, reviewed, approved
(locked) and paid, and exported.

A draft is worked out again as often as wanted and comes out the same from the same facts:
its lines are replaced, never added to. Approving and paying are conditional updates on
the status, so two people approving at once give one approval and one clear refusal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal import csvtext, money
from portal.db import utcnow
from portal.errors import Conflict, NotFound
from portal.extensions import db
from portal.incentives import rules
from portal.incentives.models import Statement, StatementLine
from portal.incentives.services import current_plan, to_rules
from portal.leads.intake import actor_label
from portal.leads.models import Lead, Offer
from portal.partners.models import Partner
from portal.scorecards.periods import MONTH, Period, month_of
from portal.scorecards.services import cards

# How many months back a locked statement is still corrected by adjustments.
ADJUST_MONTHS = 12


@dataclass(frozen=True)
class WorkedOut:
    drafted: int
    locked: int  # approved or paid already: left as they were


def work_out(period: Period) -> WorkedOut:
    """Work out every active partner's draft statement for the month; commits.

    A draft also carries adjustment lines for earlier months whose locked statements no
    longer match what those months are owed (a lead given back, a deal won late), unless
    an earlier draft of the partner carries them already.
    """
    if period.kind != MONTH:
        raise Conflict("Statements are for a month; choose one, for example 2026-11.")
    plan = current_plan()
    if plan is None:
        raise Conflict("There is no incentive plan yet: set one up first.")
    partners = list(
        db.session.scalars(
            sa.select(Partner).where(Partner.status == "active").order_by(Partner.name)
        )
    )
    plan_rules = to_rules(plan)
    owed = _owed(period, {p.id: (plan_rules, p.tier.name) for p in partners})
    adjusting = _adjustments(period, {p.id: p.tier.name for p in partners})
    existing = {
        s.partner_id: s
        for s in db.session.scalars(
            sa.select(Statement)
            .where(Statement.period == period.key)
            .options(selectinload(Statement.lines))
        )
    }
    drafted = locked = 0
    now = utcnow()
    for partner in partners:
        statement = existing.get(partner.id)
        if statement is not None and statement.status != "draft":
            locked += 1
            continue
        made = owed[partner.id] + adjusting.get(partner.id, [])
        if statement is None:
            statement = Statement(partner_id=partner.id, period=period.key)
            db.session.add(statement)
        statement.plan_id, statement.currency = plan.id, plan.currency
        statement.tier_name = partner.tier.name
        statement.total_minor, statement.computed_at = rules.total(made), now
        statement.lines = [
            StatementLine(
                position=n,
                kind=line.kind,
                lead_id=line.lead_id,
                description=line.description[:300],
                amount_minor=line.amount_minor,
                adjusts_period=line.adjusts,
            )
            for n, line in enumerate(made)
        ]
        drafted += 1
    db.session.commit()
    return WorkedOut(drafted, locked)


def _owed(
    period: Period, terms: Mapping[int, tuple[rules.Plan, str]]
) -> dict[int, list[rules.Line]]:
    """What each partner is owed for the month under its plan and tier, line by line."""
    ids = list(terms)
    sals, wons = _sals(period, ids), _wons(period, ids)
    compliance = {row.partner_id: row.card.sla_compliance for row in cards(period, partner_ids=ids)}
    return {
        pid: rules.lines(plan, tier, sals.get(pid, []), wons.get(pid, []), compliance.get(pid))
        for pid, (plan, tier) in terms.items()
    }


def _adjustments(period: Period, tiers: Mapping[int, str]) -> dict[int, list[rules.Line]]:
    """Each partner's adjustment lines for its locked statements of the months before
    this one, oldest month first."""
    first = month_of(period.start - timedelta(days=ADJUST_MONTHS * 31)).end
    earlier = list(
        db.session.scalars(
            sa.select(Statement)
            .where(Statement.partner_id.in_(list(tiers)))
            .where(Statement.period >= f"{first:%Y-%m}", Statement.period < period.key)
            .options(selectinload(Statement.plan))
        )
    )
    drafts = defaultdict(list)
    for s in earlier:
        if s.status == "draft":
            drafts[s.partner_id].append(s.period)
    settled = _settled([s.partner_id for s in earlier], f"{first:%Y-%m}", period.key)
    # An earlier month's draft carries the adjustments before it: they are not paid twice.
    by_month: dict[str, list[Statement]] = defaultdict(list)
    for s in earlier:
        if s.status != "draft" and not any(s.period < d for d in drafts[s.partner_id]):
            by_month[s.period].append(s)
    out: dict[int, list[rules.Line]] = defaultdict(list)
    for month in sorted(by_month):
        locked = by_month[month]
        terms = {
            s.partner_id: (to_rules(s.plan), s.tier_name or tiers[s.partner_id]) for s in locked
        }
        owed = _owed(month_of(date.fromisoformat(f"{month}-01")), terms)
        for s in locked:
            out[s.partner_id] += rules.adjustments(
                month, owed[s.partner_id], settled.get((s.partner_id, month), [])
            )
    return out


def _settled(
    partner_ids: list[int], first: str, before: str
) -> dict[tuple[int, str], list[rules.Line]]:
    """What the locked statements settled for each partner and month from first up to
    before: the month's own lines and the adjustments locked for it since."""
    if not partner_ids:
        return {}
    month = sa.func.coalesce(StatementLine.adjusts_period, Statement.period)
    query = (
        sa.select(Statement.partner_id, month, StatementLine)
        .join(Statement, Statement.id == StatementLine.statement_id)
        .where(Statement.status != "draft", Statement.partner_id.in_(partner_ids))
        .where(month >= first, month < before)
        .order_by(Statement.period, StatementLine.position)
    )
    out: dict[tuple[int, str], list[rules.Line]] = defaultdict(list)
    for partner_id, settled_month, line in db.session.execute(query):
        out[(partner_id, settled_month)].append(
            rules.Line(
                line.kind, line.amount_minor, line.description, line.lead_id, line.adjusts_period
            )
        )
    return out


def _sals(period: Period, partner_ids: list[int]) -> dict[int, list[rules.Sal]]:
    """The leads each partner accepted in the month; given back if lost without ever
    becoming an opportunity."""
    query = (
        sa.select(Offer.partner_id, Lead.id, Lead.company_name, Lead.state, Lead.opportunity_minor)
        .join(Lead, Lead.id == Offer.lead_id)
        .where(Offer.state == "accepted", Offer.partner_id.in_(partner_ids))
        .where(Offer.decided_at >= period.starts_at, Offer.decided_at < period.ends_at)
        .order_by(Offer.decided_at, Offer.id)
    )
    out: dict[int, list[rules.Sal]] = defaultdict(list)
    for partner_id, lead_id, company, state, opportunity in db.session.execute(query):
        given_back = state == "lost" and opportunity is None
        out[partner_id].append(rules.Sal(lead_id, company, returned=given_back))
    return out


def _wons(period: Period, partner_ids: list[int]) -> dict[int, list[rules.Won]]:
    """The deals each partner won that closed in the month."""
    first, after = period.start, period.end
    query = (
        sa.select(Offer.partner_id, Lead.id, Lead.company_name, Lead.won_minor, Lead.won_currency)
        .join(Lead, Lead.id == Offer.lead_id)
        .where(Offer.state == "accepted", Offer.partner_id.in_(partner_ids))
        .where(Lead.state == "won", Lead.closed_on >= first, Lead.closed_on < after)
        .order_by(Lead.closed_on, Lead.id)
    )
    out: dict[int, list[rules.Won]] = defaultdict(list)
    for partner_id, lead_id, company, amount, currency in db.session.execute(query):
        if amount is not None and currency:
            out[partner_id].append(rules.Won(lead_id, company, amount, currency))
    return out


def for_period(
    period_key: str, partner_id: int | None = None, *, drafts: bool = True
) -> list[Statement]:
    query = (
        sa.select(Statement)
        .join(Partner, Partner.id == Statement.partner_id)
        .where(Statement.period == period_key)
        .options(
            selectinload(Statement.partner),
            selectinload(Statement.plan),
            selectinload(Statement.lines),
        )
        .order_by(Partner.name)
    )
    if partner_id is not None:
        query = query.where(Statement.partner_id == partner_id)
    if not drafts:
        query = query.where(Statement.status != "draft")
    return list(db.session.scalars(query))


def of_partner(partner_id: int) -> list[Statement]:
    """A partner's statements that are approved or paid, newest month first."""
    query = (
        sa.select(Statement)
        .where(Statement.partner_id == partner_id, Statement.status != "draft")
        .options(selectinload(Statement.lines))
        .order_by(Statement.period.desc())
    )
    return list(db.session.scalars(query))


def get(statement_id: int) -> Statement:
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        raise NotFound("no such statement")
    return statement


def _move(statement_id: int, before: str, after: str, values: dict[str, Any], refusal: str) -> None:
    moved = db.session.execute(
        sa.update(Statement)
        .where(Statement.id == statement_id, Statement.status == before)
        .values(status=after, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        db.session.rollback()
        raise Conflict(refusal)
    db.session.commit()


def approve(statement_id: int, *, actor: Any) -> None:
    """Lock a draft: from now on it is what the partner is owed for the month."""
    get(statement_id)
    _move(statement_id, "draft", "approved",
          {"approved_at": utcnow(), "approved_by_label": actor_label(actor)},
          "This statement is not a draft any more: someone approved it already.")  # fmt: skip


def mark_paid(statement_id: int, *, actor: Any) -> None:
    get(statement_id)
    _move(statement_id, "approved", "paid",
          {"paid_at": utcnow(), "paid_by_label": actor_label(actor)},
          "Only an approved statement that is not paid yet can be marked paid.")  # fmt: skip


EXPORT_HEADER = [
    "partner", "period", "status", "line", "lead", "adjusts", "description", "amount", "currency",
]  # fmt: skip


def export_csv(period_key: str) -> str:
    """Every line of the month's statements, spreadsheet-safe (names starting with =, +, -
    or @ are written as text)."""
    return csvtext.write_rows(EXPORT_HEADER, _export_rows(period_key))


def _export_rows(period_key: str) -> Iterator[list[object]]:
    for statement in for_period(period_key):
        for line in statement.lines:
            yield [
                statement.partner.name, statement.period, statement.status, line.kind,
                line.lead_id or "", line.adjusts_period or "", line.description,
                money.major_text(line.amount_minor, statement.currency), statement.currency,
            ]  # fmt: skip
