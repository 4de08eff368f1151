"""Imports every model so metadata, migrations and relationships see the whole schema."""

from portal.api.models import IdempotencyKey
from portal.audit import AuditEvent
from portal.incentives.models import IncentivePlan, Statement, StatementLine
from portal.leads.models import (
    EngagementRule,
    Lead,
    LeadActivity,
    LeadEvent,
    LeadImport,
    LeadImportProblem,
    Offer,
    QualificationSettings,
    RejectionReason,
    ScoringRule,
)
from portal.notifications.models import (
    FanOutCursor,
    Notification,
    OutboundEmail,
    WebhookDelivery,
    WebhookEndpoint,
)
from portal.partners.models import (
    Partner,
    PartnerImport,
    PartnerProduct,
    PartnerTerritory,
    Product,
    ProductLine,
    SlaPolicy,
    Territory,
    Tier,
)
from portal.routing.models import RoutingSettings, SegmentRule
from portal.scorecards.models import ScorecardSettings
from portal.tenancy.models import ApiKey, AuthSession, Tenant, User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "EngagementRule",
    "FanOutCursor",
    "IdempotencyKey",
    "IncentivePlan",
    "Lead",
    "LeadActivity",
    "LeadEvent",
    "LeadImport",
    "LeadImportProblem",
    "Notification",
    "Offer",
    "OutboundEmail",
    "Partner",
    "PartnerImport",
    "PartnerProduct",
    "PartnerTerritory",
    "Product",
    "ProductLine",
    "QualificationSettings",
    "RejectionReason",
    "RoutingSettings",
    "ScorecardSettings",
    "ScoringRule",
    "SegmentRule",
    "SlaPolicy",
    "Statement",
    "StatementLine",
    "Tenant",
    "Territory",
    "Tier",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
