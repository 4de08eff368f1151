"""Resolving the duplicate flags intake sets: the queue, the comparison, merge and keep.

A flagged lead points at the earlier lead it seems to repeat (duplicate_of_id). A channel
manager either keeps both leads, or merges the flagged one into the earlier one, the
survivor. Either way the flag stays and its resolution is recorded next to it, and no
lead is ever deleted: a merged lead moves to the terminal state merged.

Each resolution first claims the flag with a conditional UPDATE of the flagged lead, so
two managers resolving it at once get one result and one "already resolved". A merge
then locks the survivor the same way. The flagged lead always has the higher id, so
every resolution locks leads in descending id order and two merges cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal import audit
from portal.db import utcnow
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.extensions import db
from portal.leads import intake, merging
from portal.leads.lifecycle import Action, LeadState, next_state, states_allowing
from portal.leads.models import Lead, LeadActivity
from portal.money import format_money
from portal.partners.models import Product

MERGEABLE = states_allowing(Action.MERGE)
MAX_NOTE = 500
_OPEN = sa.and_(Lead.duplicate_of_id.is_not(None), Lead.duplicate_resolution.is_(None))


@dataclass(frozen=True)
class Flag:
    """A flagged lead, the earlier lead it seems to repeat, and why intake thought so."""

    lead: Lead
    original: Lead
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FieldRow:
    """One choosable field of the comparison, as each lead holds it."""

    key: str
    label: str
    survivor: str
    duplicate: str
    differs: bool
    default: merging.Side


@dataclass(frozen=True)
class Comparison:
    flag: Flag
    rows: list[FieldRow]
    # Why a merge cannot be done now, or None when it can.
    merge_blocked: str | None

    @property
    def differing(self) -> list[FieldRow]:
        return [row for row in self.rows if row.differs]


# Reading ---------------------------------------------------------------------------------------


def _columns(lead: Lead) -> dict[str, Any]:
    values = {column: getattr(lead, column) for column in merging.COLUMNS}
    values["created_at"] = lead.created_at
    return values


def _flag(lead: Lead) -> Flag:
    original = lead.duplicate_of
    reasons = merging.flag_reasons(_columns(lead), _columns(original), intake.DUPLICATE_WINDOW)
    return Flag(lead, original, reasons)


def flag_for(lead: Lead) -> Flag | None:
    """The lead's duplicate flag with its reasons, or None if intake did not flag it."""
    return _flag(lead) if lead.duplicate_of is not None else None


def open_flag_count() -> int:
    """How many of the tenant's duplicate flags nobody has resolved yet."""
    return db.session.scalar(sa.select(sa.func.count(Lead.id)).where(_OPEN)) or 0


def open_flags(page: int, per_page: int) -> tuple[Any, list[Flag]]:
    """A page of unresolved flags, the oldest flagged lead first, each with its reasons."""
    query = (
        sa.select(Lead)
        .where(_OPEN)
        .options(selectinload(Lead.duplicate_of), selectinload(Lead.product))
        .order_by(Lead.created_at, Lead.id)
    )
    result = db.paginate(query, page=page, per_page=per_page, error_out=False)
    return result, [_flag(lead) for lead in result.items]


def flagged_lead(lead_id: int) -> Lead:
    """A lead of the tenant that intake flagged as a duplicate; NotFound otherwise."""
    lead = db.session.get(Lead, lead_id)
    if lead is None or lead.duplicate_of is None:
        raise NotFound("no such flagged lead")
    return lead


def comparison(lead_id: int) -> Comparison:
    """The flagged lead and the lead it seems to repeat, side by side, field by field."""
    lead = flagged_lead(lead_id)
    flag = _flag(lead)
    survivor, duplicate = _columns(flag.original), _columns(lead)
    names = _product_names({survivor["product_id"], duplicate["product_id"]} - {None})
    rows = [
        FieldRow(
            group.key,
            group.label,
            _display(group, survivor, names),
            _display(group, duplicate, names),
            merging.differs(group, survivor, duplicate),
            merging.default_side(group, survivor, duplicate),
        )
        for group in merging.FIELD_GROUPS
    ]
    return Comparison(flag, rows, _merge_blocked(lead, flag.original))


def _product_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Product.id, Product.name).where(Product.id.in_(ids)))
    return dict(rows.all())


def _display(group: merging.FieldGroup, lead: Mapping[str, Any], products: dict[int, str]) -> str:
    """A group's value as the comparison shows it; an empty one is a dash."""
    if group.key == "product":
        return products.get(lead["product_id"], "—")
    if group.key == "deal":
        minor, currency = lead["deal_size_minor"], lead["currency"]
        return format_money(minor, currency) if minor is not None and currency else "—"
    if group.key == "bant":
        return _bant_text(lead["bant"] or {})
    if group.key == "employees":
        return f"{lead['employees']:,}" if lead["employees"] is not None else "—"
    parts = [str(lead[column]) for column in group.columns if lead[column] not in (None, "")]
    return ", ".join(parts) or "—"


def _bant_text(bant: Mapping[str, Any]) -> str:
    answers = {True: "yes", False: "no"}
    parts = [
        f"{key}: {answers.get(value, value) if isinstance(value, bool) else value}"
        for key in ("budget", "authority", "need", "timeline")
        if (value := bant.get(key)) not in (None, "")
    ]
    return "; ".join(parts) or "—"


# Why a resolution is refused --------------------------------------------------------------------


def _resolution_text(lead: Lead) -> str:
    who = lead.duplicate_resolved_by.email if lead.duplicate_resolved_by else "someone"
    if lead.duplicate_resolution == "merged":
        return f"lead {lead.id} was merged into lead {lead.merged_into_id} by {who}"
    return f"lead {lead.id} was kept as a lead of its own by {who}"


def _merge_blocked(lead: Lead, survivor: Lead) -> str | None:
    """Why the flagged lead cannot be merged into the survivor now, or None if it can."""
    if lead.duplicate_resolution is not None:
        return _already(lead)
    if survivor.state == LeadState.MERGED.value:
        return (
            f"Lead {survivor.id} has itself been merged into lead {survivor.merged_into_id}, "
            f"so lead {lead.id} cannot be merged into it. Keep lead {lead.id} instead."
        )
    if LeadState(lead.state) not in MERGEABLE:
        return (
            f"Lead {lead.id} is {lead.state} now: a partner has it or had it, so it cannot be "
            "merged away. Keep it instead."
        )
    return None


def _refuse(lead_id: int, survivor_id: int, *, merging_away: bool) -> Conflict:
    """The Conflict that says why a conditional UPDATE changed nothing, read afresh."""
    db.session.rollback()
    lead, survivor = db.session.get(Lead, lead_id), db.session.get(Lead, survivor_id)
    reason = None
    if lead is not None and survivor is not None:
        reason = _merge_blocked(lead, survivor) if merging_away else _already(lead)
    return Conflict(
        reason or "The leads changed while you were looking at them. Compare them again."
    )


def _already(lead: Lead) -> str | None:
    if lead.duplicate_resolution is None:
        return None
    return f"This flag is already resolved: {_resolution_text(lead)}."


# Resolving --------------------------------------------------------------------------------------


def _load_flag(lead_id: int, survivor_id: int) -> tuple[Lead, Lead]:
    """The flagged lead and its survivor; NotFound unless survivor_id is the lead it repeats."""
    lead = flagged_lead(lead_id)
    if lead.duplicate_of_id != survivor_id:
        raise NotFound("the lead is not flagged as a duplicate of that lead")
    return lead, lead.duplicate_of


def _claim(lead: Lead, state: LeadState | None, values: dict[str, Any]) -> bool:
    """Resolve the flag if it is still open (and the lead still in state); whether it was."""
    query = sa.update(Lead).where(
        Lead.id == lead.id,
        Lead.duplicate_of_id == lead.duplicate_of_id,
        Lead.duplicate_resolution.is_(None),
    )
    if state is not None:
        query = query.where(Lead.state == state.value)
    claimed = db.session.execute(
        query.values(**values).execution_options(synchronize_session=False)
    ).rowcount
    return bool(claimed)


def _resolved(resolution: str, actor: Any, now: datetime) -> dict[str, Any]:
    return {
        "duplicate_resolution": resolution,
        "duplicate_resolved_at": now,
        "duplicate_resolved_by_id": getattr(actor, "id", None),
    }


def keep(lead_id: int, survivor_id: int, note: str | None, *, actor: Any) -> Lead:
    """Resolve the flag as kept: both leads stay as they are; commit."""
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise ValidationFailed({"note": f"Keep the note under {MAX_NOTE} characters."})
    lead, _ = _load_flag(lead_id, survivor_id)
    already = _already(lead)
    if already:
        raise Conflict(already)
    # Keeping changes nothing a partner relies on, so it is allowed in any state.
    if not _claim(lead, None, _resolved("kept", actor, utcnow())):
        raise _refuse(lead_id, survivor_id, merging_away=False)
    db.session.refresh(lead)
    state = LeadState(lead.state)
    reason = f"Kept as a lead of its own, not a duplicate of lead {survivor_id}."
    data = {"duplicate_of": survivor_id, "note": note}
    intake.add_event(
        lead, "keep", state, state, intake.actor_label(actor), _with_note(reason, note), data
    )
    audit.record(db.session, actor=actor, action="lead.duplicate_kept", obj=lead, changes=data)
    db.session.commit()
    if lead.state == LeadState.MQL.value:
        intake.hand_to_routing()  # held back while flagged; now it is a lead of its own
    return lead


def _with_note(reason: str, note: str | None) -> str:
    return f"{reason} {note}" if note else reason


def merge(lead_id: int, survivor_id: int, choices: Mapping[str, str], *, actor: Any) -> Lead:
    """Merge the flagged lead into its survivor with the chosen field values; commit.

    The survivor takes the chosen values and copies of the duplicate's activities, and is
    scored again; the duplicate moves to merged and points at the survivor.
    """
    lead, survivor = _load_flag(lead_id, survivor_id)
    blocked = _merge_blocked(lead, survivor)
    if blocked:
        raise Conflict(blocked)
    _merged_values(survivor, lead, choices)  # bad choices are refused before anything is written
    before, survivor_before, now = LeadState(lead.state), LeadState(survivor.state), utcnow()
    after = next_state(before, Action.MERGE)
    claim = {**_resolved("merged", actor, now), "state": after.value, "merged_into_id": survivor.id}
    if not _claim(lead, before, claim) or not _lock_survivor(survivor, survivor_before, now):
        raise _refuse(lead_id, survivor_id, merging_away=True)
    # Both rows are ours now: read what concurrent merges may have changed before the locks.
    db.session.refresh(lead)
    db.session.refresh(survivor)
    changes = audit.apply_changes(survivor, _merged_values(survivor, lead, choices))
    copied = _copy_activities(lead, survivor)
    label = intake.actor_label(actor)
    score_before = survivor.score
    intake.add_event(
        lead, "merge", before, after, label, f"Merged into lead {survivor.id}.",
        {"merged_into": survivor.id},
    )  # fmt: skip
    intake.add_event(
        survivor, "absorb_duplicate", survivor_before, survivor_before, label,
        _absorbed_text(lead.id, changes, copied),
        {"duplicate": lead.id, "fields": sorted(changes), "activities_copied": copied},
    )  # fmt: skip
    intake.rescore(survivor, now, label)
    audit.record(
        db.session,
        actor=actor,
        action="lead.duplicate_merged",
        obj=survivor,
        changes={
            "duplicate": lead.id,
            "fields": changes,
            "activities_copied": copied,
            "score": [score_before, survivor.score],
            "state": [survivor_before.value, survivor.state],
        },
    )
    db.session.commit()
    if survivor.state == LeadState.MQL.value:
        intake.hand_to_routing()
    return survivor


def _merged_values(survivor: Lead, lead: Lead, choices: Mapping[str, str]) -> dict[str, Any]:
    try:
        return merging.merged_values(_columns(survivor), _columns(lead), choices)
    except merging.BadChoices as exc:
        raise ValidationFailed(exc.errors) from None


def _lock_survivor(survivor: Lead, state: LeadState, now: datetime) -> bool:
    """Hold the survivor while it is still in the state the choices were made against."""
    locked = db.session.execute(
        sa.update(Lead)
        .where(Lead.id == survivor.id, Lead.state == state.value)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(locked)


def _copy_activities(lead: Lead, survivor: Lead) -> int:
    """Copy the duplicate's activities the survivor does not have yet; how many were copied."""
    query = sa.select(LeadActivity.activity_type, LeadActivity.occurred_at)
    have = {
        tuple(row) for row in db.session.execute(query.where(LeadActivity.lead_id == survivor.id))
    }
    theirs = db.session.execute(query.where(LeadActivity.lead_id == lead.id))
    new = [(kind, at) for kind, at in theirs if (kind, at) not in have]
    db.session.add_all(
        LeadActivity(lead_id=survivor.id, activity_type=kind, occurred_at=at) for kind, at in new
    )
    db.session.flush()
    return len(new)


def _absorbed_text(lead_id: int, changes: dict[str, Any], copied: int) -> str:
    fields = ", ".join(name.replace("_", " ") for name in sorted(changes)) or "no fields"
    return (
        f"Lead {lead_id} merged into this lead: {fields} taken from it; "
        f"{copied} {'activity' if copied == 1 else 'activities'} copied."
    )
