"""Imports every model so metadata, migrations and relationships see the whole schema."""

from portal.audit import AuditEvent
from portal.leads.models import Lead, LeadEvent, Offer
from portal.partners.models import (
    Partner,
    PartnerProduct,
    PartnerTerritory,
    Product,
    ProductLine,
    Territory,
    Tier,
)
from portal.tenancy.models import ApiKey, AuthSession, Tenant, User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "Lead",
    "LeadEvent",
    "Offer",
    "Partner",
    "PartnerProduct",
    "PartnerTerritory",
    "Product",
    "ProductLine",
    "Tenant",
    "Territory",
    "Tier",
    "User",
]
