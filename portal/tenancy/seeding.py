"""The configuration a new tenant starts with, so every page works from the first day."""

from __future__ import annotations

from portal.extensions import db
from portal.leads.models import QualificationSettings, RejectionReason
from portal.partners.models import SlaPolicy
from portal.routing.models import RoutingSettings

# (code, label, comment required)
DEFAULT_REJECTION_REASONS = (
    ("not_my_territory", "Not my territory", False),
    ("no_budget", "No budget", False),
    ("duplicate", "Duplicate of a lead we have", False),
    ("existing_customer", "Existing customer of ours", False),
    ("bad_contact_data", "Bad contact data", False),
    ("no_capacity", "No capacity right now", False),
    ("competitor_relationship", "Relationship with a competitor", True),
    ("other", "Other", True),
)

DEFAULT_REQUIRED_FIELDS = ["budget", "authority", "need", "timeline"]


def seed_defaults() -> None:
    """Add the default SLA policy, rejection reasons and settings to the tenant in scope."""
    db.session.add(
        SlaPolicy(
            name="Standard: 2 business days", response_hours=16, clock="business", is_default=True
        )
    )
    for position, (code, label, comment_required) in enumerate(DEFAULT_REJECTION_REASONS):
        db.session.add(
            RejectionReason(
                code=code, label=label, comment_required=comment_required, position=position
            )
        )
    db.session.add(
        QualificationSettings(mql_threshold=60, required_fields=list(DEFAULT_REQUIRED_FIELDS))
    )
    db.session.add(RoutingSettings())
    db.session.flush()
