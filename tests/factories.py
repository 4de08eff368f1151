"""factory_boy factories. Tenant-owned rows take the tenant in scope unless given one."""

from __future__ import annotations

from datetime import timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from portal.db import utcnow
from portal.extensions import db
from portal.leads.models import Lead, Offer
from portal.partners.models import Partner, Product, ProductLine, Tier
from portal.tenancy.models import Tenant, User
from portal.tenancy.passwords import hash_password

PASSWORD = "correct-horse-battery"


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class TenantFactory(_Base):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class TierFactory(_Base):
    class Meta:
        model = Tier

    name = factory.Sequence(lambda n: f"Tier {n}")
    rank = factory.Sequence(lambda n: n + 1)
    routing_weight = 10


class PartnerFactory(_Base):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n} GmbH")
    tier_id = factory.LazyFunction(lambda: TierFactory().id)
    country = "DE"
    timezone = "Europe/Berlin"
    capacity = 20


class UserFactory(_Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    name = factory.LazyAttribute(lambda o: o.email.split("@")[0].title())
    role = "vendor_staff"
    partner_id = None
    password_hash = factory.LazyFunction(lambda: hash_password(PASSWORD, "fast"))


class ProductLineFactory(_Base):
    class Meta:
        model = ProductLine

    code = factory.Sequence(lambda n: f"LINE{n}")
    name = factory.Sequence(lambda n: f"Line {n}")


class ProductFactory(_Base):
    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"PROD{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    line_id = factory.LazyFunction(lambda: ProductLineFactory().id)


class LeadFactory(_Base):
    class Meta:
        model = Lead

    company_name = factory.Sequence(lambda n: f"Customer {n} AG")
    country = "DE"
    state = "mql"
    score = 70


class OfferFactory(_Base):
    class Meta:
        model = Offer

    lead_id = factory.LazyFunction(lambda: LeadFactory().id)
    state = "open"
    due_at = factory.LazyFunction(lambda: utcnow() + timedelta(hours=24))
