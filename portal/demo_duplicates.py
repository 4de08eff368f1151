"""Demo leads that repeat earlier ones, some merged, some kept, some waiting for a decision.

They go through the real intake and the real merge and keep, so their flags, events and
audit records are those a channel manager would see after a week of work.
"""

from __future__ import annotations

import random
from typing import Any

import sqlalchemy as sa

from portal.extensions import db
from portal.leads import duplicates, intake
from portal.leads.lifecycle import LeadState
from portal.leads.models import Lead
from portal.money import to_major
from portal.tenancy.models import User
from portal.tenancy.roles import Role

DUPLICATES = 18  # per tenant: a third merged, a sixth kept, the rest waiting
SOURCES = ("webinar", "trade_show", "website", "partner_referral")
NOTES = (
    "Two subsidiaries of one group, each buying for itself.",
    "Same contact, but a separate project with its own budget.",
)


def make_duplicates(rng: random.Random, count: int = DUPLICATES) -> None:
    """Take in repeats of earlier leads, then merge a third of them and keep a sixth."""
    manager = db.session.scalar(sa.select(User).where(User.role == Role.CHANNEL_MANAGER.value))
    originals = db.session.scalars(
        sa.select(Lead)
        .where(Lead.state != LeadState.NEW.value, Lead.contact_email.is_not(None))
        .order_by(Lead.id)
    ).all()
    flagged = []
    for original in rng.sample(list(originals), count):
        lead = intake.take_in(_repeat(original, rng), actor="demo", channel="the API").lead
        if lead.duplicate_of_id is not None:
            flagged.append(lead)
    for position, lead in enumerate(flagged):
        if position % 6 in (0, 1):
            choices = {"company_name": "duplicate"} if rng.random() < 0.5 else {}
            duplicates.merge(lead.id, lead.duplicate_of_id, choices, actor=manager)
        elif position % 6 == 2:
            duplicates.keep(lead.id, lead.duplicate_of_id, rng.choice(NOTES), actor=manager)


def _repeat(lead: Lead, rng: random.Random) -> dict[str, Any]:
    """The same contact sent in again, by another channel, with a few fields told differently."""
    deal = (
        str(to_major(lead.deal_size_minor, lead.currency))
        if lead.deal_size_minor is not None and lead.currency
        else None
    )
    return {
        "company_name": rng.choice((lead.company_name, lead.company_name.rsplit(" ", 1)[0])),
        "company_domain": lead.company_domain,
        "industry": lead.industry if rng.random() < 0.7 else None,
        "employees": lead.employees,
        "contact_name": lead.contact_name,
        "contact_email": lead.contact_email,
        "contact_phone": None if rng.random() < 0.5 else lead.contact_phone,
        "job_title": lead.job_title,
        "country": lead.country,
        "subdivision": lead.subdivision,
        "postal_code": lead.postal_code,
        "city": lead.city,
        "product": lead.product.code if lead.product else None,
        "deal_size": deal,
        "currency": lead.currency,
        "bant": dict(lead.bant or {}),
        "source": rng.choice(SOURCES),
        "campaign": lead.campaign,
    }
