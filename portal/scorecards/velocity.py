"""Pipeline velocity: how long leads take from MQL to offer, offer to SAL, SAL to SQL and
SQL to won, in calendar hours, by partner, tier or product.

Pure. A lead passes a stage when the event that ends it is in the period: an offer made,
an offer accepted, an opportunity opened, a deal won. The stage is timed from the latest
event before it that began it, so a lead offered three times counts three passes from MQL
to offer, each from the moment it last became an MQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from portal.scorecards.metrics import percentile

# (key, label, the event that begins it, the event that ends it); an event is matched by
# its action or by the state it led to.
STAGES = (
    ("mql_to_offer", "MQL to offer", "to:mql", "to:offered"),
    ("offer_to_sal", "Offer to SAL", "to:offered", "action:accept"),
    ("sal_to_sql", "SAL to SQL", "action:accept", "to:sql"),
    ("sql_to_won", "SQL to won", "to:sql", "to:won"),
)
STAGE_LABELS = {key: label for key, label, _, _ in STAGES}


@dataclass(frozen=True)
class EventFact:
    """One event of a lead: what it did, the state it led to, when, and for which partner."""

    lead_id: int
    action: str
    to_state: str
    at: datetime
    partner_id: int | None = None
    product_id: int | None = None


@dataclass(frozen=True)
class Pass:
    """A lead passing one stage: how long it took, and through which partner."""

    stage: str
    hours: float
    partner_id: int | None
    product_id: int | None


@dataclass(frozen=True)
class Velocity:
    stage: str
    group: object
    count: int
    median_h: float | None
    p90_h: float | None


def _matches(event: EventFact, marker: str) -> bool:
    kind, value = marker.split(":", 1)
    return (event.action if kind == "action" else event.to_state) == value


def passes(events: Iterable[EventFact], start: datetime, end: datetime) -> list[Pass]:
    """Every stage passed in [start, end) by the leads these events are of."""
    by_lead: dict[int, list[EventFact]] = defaultdict(list)
    for event in events:
        by_lead[event.lead_id].append(event)
    out = []
    for lead_events in by_lead.values():
        lead_events.sort(key=lambda e: e.at)
        for position, event in enumerate(lead_events):
            if not start <= event.at < end:
                continue
            for key, _, begins, ends in STAGES:
                if not _matches(event, ends):
                    continue
                began = next(
                    (e for e in reversed(lead_events[:position]) if _matches(e, begins)), None
                )
                if began is None:
                    continue
                # The partner of the stage: the one offered or accepting, else whoever held it.
                partner = event.partner_id if event.partner_id is not None else began.partner_id
                hours = (event.at - began.at).total_seconds() / 3600
                out.append(Pass(key, hours, partner, event.product_id))
    return out


def velocity(
    all_passes: Sequence[Pass], group_of: Callable[[Pass], object]
) -> dict[object, dict[str, Velocity]]:
    """Median and 90th percentile of each stage, by group (group_of a pass, None left out)."""
    hours: dict[object, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for p in all_passes:
        group = group_of(p)
        if group is not None:
            hours[group][p.stage].append(p.hours)
    out: dict[object, dict[str, Velocity]] = {}
    for group, stages in hours.items():
        out[group] = {}
        for stage, values in stages.items():
            values.sort()
            out[group][stage] = Velocity(
                stage, group, len(values), percentile(values, 0.5), percentile(values, 0.9)
            )
    return out
