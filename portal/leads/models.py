"""Leads, the offers made to partners, and the append-only event log of each lead."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, Session, mapped_column, relationship

from portal.db import Base, TenantScoped, Timestamped, utcnow
from portal.leads.lifecycle import LeadState
from portal.partners.models import Partner, Product, Territory
from portal.tenancy.models import User

OFFER_STATES = ("open", "accepted", "rejected", "expired", "recalled")
DUPLICATE_RESOLUTIONS = ("kept", "merged")


class Lead(TenantScoped, Timestamped, Base):
    __tablename__ = "lead"
    tenant_id_index = False  # the composite indexes below lead with it
    __table_args__ = (
        # Duplicate detection looks leads up by company domain and product, and by e-mail.
        sa.Index("ix_lead_tenant_domain_product", "tenant_id", "company_domain", "product_id"),
        sa.Index("ix_lead_tenant_contact_email", "tenant_id", "contact_email"),
        sa.Index(
            "uq_lead_tenant_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            postgresql_where=sa.text("external_id IS NOT NULL"),
            sqlite_where=sa.text("external_id IS NOT NULL"),
        ),
        sa.CheckConstraint("deal_size_minor IS NULL OR deal_size_minor >= 0", name="deal_size"),
        # The duplicates queue: flags nobody has resolved yet, oldest first.
        sa.Index(
            "ix_lead_open_duplicates",
            "tenant_id",
            "created_at",
            postgresql_where=sa.text(
                "duplicate_of_id IS NOT NULL AND duplicate_resolution IS NULL"
            ),
            sqlite_where=sa.text("duplicate_of_id IS NOT NULL AND duplicate_resolution IS NULL"),
        ),
        sa.CheckConstraint(
            "duplicate_resolution IS NULL OR duplicate_resolution IN ('kept', 'merged')",
            name="duplicate_resolution",
        ),
        sa.CheckConstraint("(state = 'merged') = (merged_into_id IS NOT NULL)", name="merged_into"),
        sa.CheckConstraint(
            "opportunity_minor IS NULL OR opportunity_minor > 0", name="opportunity_positive"
        ),
        sa.CheckConstraint("won_minor IS NULL OR won_minor > 0", name="won_positive"),
        # Leads by state (queues, routing) and, among the accepted, those nobody has updated for
        # a while (flagged stale). Every change of state writes to each index of the table, so
        # no other index repeats this one's leading columns.
        sa.Index("ix_lead_tenant_state_partner_update", "tenant_id", "state", "partner_updated_at"),
        # What a lead's events reference, so an event belongs to its lead's tenant.
        sa.UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(sa.String(100))
    source: Mapped[str | None] = mapped_column(sa.String(60))
    campaign: Mapped[str | None] = mapped_column(sa.String(120))
    company_name: Mapped[str] = mapped_column(sa.String(200))
    company_domain: Mapped[str | None] = mapped_column(sa.String(253))
    industry: Mapped[str | None] = mapped_column(sa.String(80))
    employees: Mapped[int | None]
    contact_name: Mapped[str | None] = mapped_column(sa.String(120))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    job_title: Mapped[str | None] = mapped_column(sa.String(120))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    subdivision: Mapped[str | None] = mapped_column(sa.String(6))
    postal_code: Mapped[str | None] = mapped_column(sa.String(12))
    city: Mapped[str | None] = mapped_column(sa.String(120))
    product_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("product.id", ondelete="RESTRICT"), index=True
    )
    deal_size_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    bant: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    score: Mapped[int] = mapped_column(default=0)
    score_breakdown: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    state: Mapped[str] = mapped_column(sa.String(12), default=LeadState.NEW.value)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set when intake found a likely duplicate; a channel manager merges or keeps it.
    duplicate_of_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("lead.id", ondelete="SET NULL"), index=True
    )
    # How the flag was resolved; duplicate_of_id stays, so the history shows what was flagged.
    duplicate_resolution: Mapped[str | None] = mapped_column(sa.String(6))
    duplicate_resolved_at: Mapped[datetime | None]
    duplicate_resolved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # A merged lead is kept, in state merged, pointing at the lead that absorbed it.
    merged_into_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("lead.id", ondelete="RESTRICT"), index=True
    )

    # The partner's side once it accepted: the opportunity (SQL), then won or lost.
    opportunity_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    opportunity_currency: Mapped[str | None] = mapped_column(sa.String(3))
    expected_close_on: Mapped[date | None]
    won_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    won_currency: Mapped[str | None] = mapped_column(sa.String(3))
    closed_on: Mapped[date | None]
    lost_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # When the partner holding the lead last moved or updated it; stale after too long.
    partner_updated_at: Mapped[datetime | None]

    product: Mapped[Product | None] = relationship()
    duplicate_of: Mapped[Lead | None] = relationship(
        remote_side="Lead.id", foreign_keys=[duplicate_of_id]
    )
    merged_into: Mapped[Lead | None] = relationship(
        remote_side="Lead.id", foreign_keys=[merged_into_id]
    )
    duplicate_resolved_by: Mapped[User | None] = relationship()
    # passive_deletes="all": the ORM never orphans a lead's history by setting these rows'
    # lead_id to NULL; a delete of the lead is refused first (see HistoryDeletionRefused).
    events: Mapped[list[LeadEvent]] = relationship(
        back_populates="lead", order_by="LeadEvent.id", passive_deletes="all"
    )
    offers: Mapped[list[Offer]] = relationship(
        back_populates="lead", order_by="Offer.id", passive_deletes="all"
    )
    activities: Mapped[list[LeadActivity]] = relationship(
        order_by="LeadActivity.occurred_at", passive_deletes="all"
    )


class LeadActivity(TenantScoped, Base):
    """An engagement of the lead's contact (a webinar, a download) that scoring counts."""

    __tablename__ = "lead_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("lead.id", ondelete="RESTRICT"), index=True)
    activity_type: Mapped[str] = mapped_column(sa.String(40))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Offer(TenantScoped, Base):
    """One lead offered to one partner, with the deadline by which it must answer."""

    __tablename__ = "offer"
    __table_args__ = (
        sa.UniqueConstraint("lead_id", "partner_id"),
        sa.Index("ix_offer_state_due", "state", "due_at"),
        # The sweep finds the open offers whose next reminder is due, as it finds the overdue.
        sa.Index("ix_offer_state_remind", "state", "remind_at"),
        sa.Index("ix_offer_partner_state", "partner_id", "state"),
        # The fairness cap counts a territory's recent offers.
        sa.Index("ix_offer_territory_offered", "tenant_id", "territory_id", "offered_at"),
        # A partner's scorecard reads its offers of a period.
        sa.Index("ix_offer_partner_offered", "partner_id", "offered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("lead.id", ondelete="RESTRICT"), index=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partner.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(sa.String(10), default="open")
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    # Accepted or rejected: the time taken to answer, in seconds of the partner's SLA
    # calendar (working time for a business-hours SLA).
    response_seconds: Mapped[int | None]
    reason_code: Mapped[str | None] = mapped_column(sa.String(40))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    explanation: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # The territory the partner matched the lead through; None for a manual or fallback offer.
    territory_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("territory.id", ondelete="SET NULL")
    )
    # Who answered: a partner user (accept, reject) or a manager (recall); None for expiry.
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # The reminder points (percent of the SLA window) already sent, so each goes out once.
    reminders_sent: Mapped[list[Any]] = mapped_column(
        sa.JSON, default=list, server_default=sa.text("'[]'")
    )
    # When the next reminder point not yet sent falls; None when none is left.
    remind_at: Mapped[datetime | None]
    # Set when a channel manager chose the partner by hand instead of the engine.
    assigned_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )

    lead: Mapped[Lead] = relationship(back_populates="offers")
    partner: Mapped[Partner] = relationship()
    territory: Mapped[Territory | None] = relationship()
    assigned_by: Mapped[User | None] = relationship(foreign_keys=[assigned_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class LeadEvent(TenantScoped, Base):
    """One transition of a lead: who, when, from which state to which, and why."""

    __tablename__ = "lead_event"
    tenant_id_index = False  # events are read by their lead, never by tenant alone
    # An event references its lead by tenant and id: one foreign key checked per event (bulk
    # intake writes a hundred thousand a minute), and an event's tenant is its lead's.
    # Deleting a tenant therefore deletes its events before its leads, not by a cascade.
    tenant_id_foreign_key = False
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "lead_id"], ["lead.tenant_id", "lead.id"], ondelete="RESTRICT"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    actor_label: Mapped[str] = mapped_column(sa.String(254), default="system")
    action: Mapped[str] = mapped_column(sa.String(20))
    from_state: Mapped[str | None] = mapped_column(sa.String(12))
    to_state: Mapped[str] = mapped_column(sa.String(12))
    offer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("offer.id", ondelete="RESTRICT"))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    lead: Mapped[Lead] = relationship(back_populates="events")


class HistoryDeletionRefused(RuntimeError):
    """Something tried to delete a lead, an offer or a lead event: the portal keeps them all."""


# Leads and their history are never deleted. A duplicate is merged (it stays, in state merged,
# pointing at the lead it went into); a lead nobody works ends lost, unroutable or with direct
# sales. These two hooks are the one place that refuses such a delete through the ORM,
# whichever code path asks. Below the ORM, the foreign keys to a lead (offers, events,
# activities, statement lines, merged_into) are RESTRICT, so a raw DELETE of a lead with any
# history fails in the database.
KEPT_FOR_GOOD = {
    "lead": "leads are never deleted; merge a duplicate or close the lead instead",
    "offer": "offers are a lead's routing history and scorecards count them",
    "lead_event": "a lead's events are its history",
}


@sa.event.listens_for(Lead, "before_delete")
@sa.event.listens_for(Offer, "before_delete")
@sa.event.listens_for(LeadEvent, "before_delete")
def _refuse_deleting_history(mapper: Mapper[Any], connection: Any, target: Any) -> None:
    table = mapper.local_table.name
    raise HistoryDeletionRefused(f"Refused to delete {table} {target.id}: {KEPT_FOR_GOOD[table]}.")


@sa.event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_deletes_of_history(state: ORMExecuteState) -> None:
    """A DELETE statement run through the session skips the mapper hook: refuse it here."""
    if not state.is_delete:
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table in KEPT_FOR_GOOD:
        raise HistoryDeletionRefused(f"Refused to delete {table} rows: {KEPT_FOR_GOOD[table]}.")


class RejectionReason(TenantScoped, Base):
    """A code from the tenant's catalogue that a partner gives when it rejects a lead."""

    __tablename__ = "rejection_reason"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    label: Mapped[str] = mapped_column(sa.String(120))
    comment_required: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class ScoringRule(TenantScoped, Base):
    """A profile rule: points when a lead field meets a condition."""

    __tablename__ = "scoring_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    field: Mapped[str] = mapped_column(sa.String(30))
    operator: Mapped[str] = mapped_column(sa.String(20))
    # A list of strings for "in" and "contains", [low, high] (either may be null) for "between".
    values: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    points: Mapped[int]


class EngagementRule(TenantScoped, Base):
    """Points for an activity type, optionally fading to nothing over some days."""

    __tablename__ = "engagement_rule"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "activity_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_type: Mapped[str] = mapped_column(sa.String(40))
    points: Mapped[int]
    decay_days: Mapped[int | None]


class QualificationSettings(TenantScoped, Base):
    """The MQL threshold and the fields a lead needs before it can be offered; one per tenant."""

    __tablename__ = "qualification_settings"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mql_threshold: Mapped[int] = mapped_column(default=60)
    required_fields: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class LeadImport(TenantScoped, Timestamped, Base):
    """An uploaded lead CSV: its columns mapped, checked in a dry run, then imported by a job.

    The counters move as the job works through the file in chunks, each chunk committed with
    its leads, so the page can show progress and a stopped job resumes where it was.
    """

    __tablename__ = "lead_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    encoding: Mapped[str] = mapped_column(sa.String(20), default="utf-8")
    content: Mapped[str] = mapped_column(sa.Text)
    header: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    # Per column, the lead field it fills, or None to leave it out.
    mapping: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    total_lines: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(sa.String(12), default="uploaded")
    # How many lines the current phase has finished, and what became of them.
    processed: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_by_label: Mapped[str] = mapped_column(sa.String(254), default="")
    # Who started the import: the leads' events name them.
    started_by_label: Mapped[str | None] = mapped_column(sa.String(254))
    checked_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    progress_at: Mapped[datetime | None]


class LeadImportProblem(TenantScoped, Base):
    """One problem of one line of an import, found by the dry run or by the import itself."""

    __tablename__ = "lead_import_problem"
    __table_args__ = (sa.Index("ix_lead_import_problem_line", "import_id", "phase", "line"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("lead_import.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(sa.String(6))  # "check" or "import"
    line: Mapped[int]
    field: Mapped[str] = mapped_column(sa.String(40))
    message: Mapped[str] = mapped_column(sa.Text)
