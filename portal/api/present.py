"""Leads as the API shows them."""

from __future__ import annotations

from typing import Any

from portal.leads.models import Lead
from portal.money import to_major


def lead_json(lead: Lead, *, with_events: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": lead.id,
        "external_id": lead.external_id,
        "state": lead.state,
        "score": lead.score,
        "score_breakdown": list(lead.score_breakdown or []),
        "duplicate_of_id": lead.duplicate_of_id,
        "duplicate_resolution": lead.duplicate_resolution,
        "merged_into_id": lead.merged_into_id,
        "company_name": lead.company_name,
        "company_domain": lead.company_domain,
        "country": lead.country,
        "product": lead.product.code if lead.product else None,
        "deal_size": (
            str(to_major(lead.deal_size_minor, lead.currency))
            if lead.deal_size_minor is not None and lead.currency
            else None
        ),
        "currency": lead.currency,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
    }
    if with_events:
        body["events"] = [
            {"at": e.at, "action": e.action, "from_state": e.from_state, "to_state": e.to_state,
             "actor": e.actor_label, "reason": e.reason}
            for e in lead.events
        ]  # fmt: skip
    return body
