"""Demo data: two tenants with partner networks, logins of every role and leads in every state."""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

import sqlalchemy as sa
from flask import current_app

from portal import audit
from portal.db import utcnow
from portal.demo_duplicates import make_duplicates
from portal.errors import NotFound, ValidationFailed
from portal.extensions import db
from portal.incentives import services as incentives
from portal.incentives import statements
from portal.leads.lifecycle import Action, LeadState, next_state
from portal.leads.models import EngagementRule, Lead, LeadEvent, Offer, ScoringRule
from portal.partners.models import (
    Partner,
    PartnerProduct,
    PartnerTerritory,
    Product,
    ProductLine,
    SlaPolicy,
    Territory,
    Tier,
)
from portal.routing.models import SegmentRule
from portal.scorecards import services as scorecards
from portal.scorecards.periods import month_of
from portal.tenancy import passwords, services
from portal.tenancy.models import Tenant, User
from portal.tenancy.roles import Role
from portal.tenancy.scoping import tenant_scope

S, A = LeadState, Action

MIN_LEADS = 500
BATCH = 200
OFFER_HOURS = 48
MAX_AGE_HOURS = 120 * 24
RESELLER_EMAIL = "reseller@multi.example"
DEMO_PROFILE_RULES = (
    ("industry", "in", ["Banking", "Insurance", "Healthcare"], 15),
    ("employees", "between", [200, None], 20),
    ("job_title", "contains", ["CIO", "CTO", "IT director", "Head of IT"], 15),
    ("country", "in", ["DE", "AT", "CH"], 5),
)
DEMO_ENGAGEMENT_RULES = (
    ("webinar_attended", 10, 30),
    ("demo_requested", 25, None),
    ("whitepaper_downloaded", 5, 60),
)
RESELLER_NAME = "Sanne de Vries"
RESELLER_PARTNER = "Meridian Channel Solutions B.V."


@dataclass(frozen=True)
class DemoLogin:
    tenant: str
    role: str
    email: str


# Static tables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _TenantSpec:
    slug: str
    name: str
    timezone: str
    country: str  # whose public holidays the SLA clock observes
    lines: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]
    needs: tuple[str, ...]
    staff: tuple[str, str, str]


TENANTS = (
    _TenantSpec(
        slug="acme",
        name="Acme Cloud",
        timezone="Europe/Berlin",
        country="DE",
        lines=(
            (
                "PROTECT",
                "Data Protection",
                (("BACKUP", "Cloud Backup"), ("DR", "Disaster Recovery")),
            ),
            ("STORE", "Storage", (("STORAGE", "Cloud Storage"), ("ARCHIVE", "Object Archive"))),
            ("SECURE", "Security", (("FIREWALL", "Edge Firewall"), ("MAILSEC", "Email Security"))),
        ),
        needs=(
            "Replace tape backups",
            "Offsite copies for ransomware recovery",
            "Retire the on-premises NAS",
            "Consolidate branch firewalls",
            "Close NIS2 audit findings",
            "Ten-year archive for compliance",
        ),
        staff=("Clara Weber", "Jonas Becker", "Mia Schulz"),
    ),
    _TenantSpec(
        slug="globex",
        name="Globex Networks",
        timezone="Europe/London",
        country="GB",
        lines=(
            ("CAMPUS", "Campus", (("SWITCH", "Campus Switching"), ("WIFI", "Wi-Fi 7 Access"))),
            ("WAN", "WAN & Edge", (("SDWAN", "SD-WAN Edge"), ("SASE", "Secure Access Edge"))),
            (
                "DC",
                "Data Center",
                (("FABRIC", "Data Center Fabric"), ("OBSERVE", "Network Insight")),
            ),
        ),
        needs=(
            "Refresh end-of-life campus switches",
            "Wi-Fi coverage for a new warehouse",
            "Replace MPLS with SD-WAN",
            "Zero-trust access for remote staff",
            "Spine-leaf fabric for a new data center",
            "Visibility into application latency",
        ),
        staff=("Oliver Hughes", "Amelia Clarke", "Harry Patel"),
    ),
)

TIERS = (("Platinum", 1, 30), ("Gold", 2, 20), ("Silver", 3, 10), ("Registered", 4, 0))
# The incentive plan's share of won revenue, in percent, by tier.
DEMO_SHARES = {"Platinum": "5", "Gold": "4", "Silver": "3", "Registered": "2"}


@dataclass(frozen=True)
class _City:
    country: str
    subdivision: str
    name: str
    postal: str


@dataclass(frozen=True)
class _Area:
    """A territory to create, and the test of whether it covers a city."""

    code: str
    name: str
    kind: str
    country: str | None = None
    subdivision: str | None = None
    postal_prefix: str | None = None
    region: tuple[str, ...] = ()

    def covers(self, city: _City) -> bool:
        """Whether a lead in this city falls inside the territory."""
        if self.kind == "global":
            return True
        if self.kind == "region":
            return city.country in self.region
        if self.kind == "subdivision":
            return city.subdivision == self.subdivision
        if self.kind == "postal":
            return city.country == self.country and city.postal.startswith(self.postal_prefix or "")
        return city.country == self.country


COUNTRY_NAMES = {
    "DE": "Germany", "AT": "Austria", "CH": "Switzerland", "FR": "France",
    "GB": "United Kingdom", "ES": "Spain", "NL": "Netherlands", "SE": "Sweden",
    "US": "United States",
}  # fmt: skip

AREAS = (
    _Area("GLOBAL", "Global", "global"),
    _Area("DACH", "DACH", "region", region=("DE", "AT", "CH")),
    _Area("NORDICS", "Nordics", "region", region=("SE", "DK", "NO", "FI")),
    _Area("BENELUX", "Benelux", "region", region=("BE", "NL", "LU")),
    *(_Area(code, name, "country", country=code) for code, name in COUNTRY_NAMES.items()),
    _Area("DE-BY", "Bavaria", "subdivision", country="DE", subdivision="DE-BY"),
    _Area("DE-NW", "North Rhine-Westphalia", "subdivision", country="DE", subdivision="DE-NW"),
    _Area("DE-BE", "Berlin", "subdivision", country="DE", subdivision="DE-BE"),
    _Area("FR-IDF", "Île-de-France", "subdivision", country="FR", subdivision="FR-IDF"),
    _Area("ES-MD", "Community of Madrid", "subdivision", country="ES", subdivision="ES-MD"),
    _Area("US-NY", "New York", "subdivision", country="US", subdivision="US-NY"),
    _Area("US-CA", "California", "subdivision", country="US", subdivision="US-CA"),
    _Area("DE-PC-80", "Munich area (80xxx)", "postal", country="DE", postal_prefix="80"),
    _Area("DE-PC-10", "Berlin centre (10xxx)", "postal", country="DE", postal_prefix="10"),
    _Area("DE-PC-40", "Düsseldorf area (40xxx)", "postal", country="DE", postal_prefix="40"),
)
AREA_BY_CODE = {area.code: area for area in AREAS}

CITIES = {
    "DE": (
        _City("DE", "DE-BY", "München", "80331"), _City("DE", "DE-BY", "Nürnberg", "90402"),
        _City("DE", "DE-BE", "Berlin", "10115"), _City("DE", "DE-NW", "Düsseldorf", "40213"),
        _City("DE", "DE-NW", "Köln", "50667"), _City("DE", "DE-HH", "Hamburg", "20095"),
        _City("DE", "DE-HE", "Frankfurt am Main", "60311"),
        _City("DE", "DE-BW", "Stuttgart", "70173"),
    ),
    "AT": (_City("AT", "AT-9", "Wien", "1010"), _City("AT", "AT-6", "Graz", "8010"),
           _City("AT", "AT-4", "Linz", "4020")),
    "CH": (_City("CH", "CH-ZH", "Zürich", "8001"), _City("CH", "CH-BS", "Basel", "4051"),
           _City("CH", "CH-GE", "Genève", "1204")),
    "FR": (_City("FR", "FR-IDF", "Paris", "75008"), _City("FR", "FR-ARA", "Lyon", "69002"),
           _City("FR", "FR-OCC", "Toulouse", "31000")),
    "GB": (_City("GB", "GB-LND", "London", "EC2V 7HH"),
           _City("GB", "GB-MAN", "Manchester", "M1 1AE"),
           _City("GB", "GB-EDH", "Edinburgh", "EH1 1YZ")),
    "ES": (_City("ES", "ES-MD", "Madrid", "28013"), _City("ES", "ES-CT", "Barcelona", "08002"),
           _City("ES", "ES-VC", "Valencia", "46002")),
    "NL": (_City("NL", "NL-NH", "Amsterdam", "1012 JS"),
           _City("NL", "NL-ZH", "Rotterdam", "3011 AD"),
           _City("NL", "NL-UT", "Utrecht", "3511 AA")),
    "SE": (_City("SE", "SE-AB", "Stockholm", "111 52"), _City("SE", "SE-O", "Göteborg", "411 06"),
           _City("SE", "SE-M", "Malmö", "211 20")),
    "DK": (_City("DK", "DK-84", "København", "1050"),),
    "BE": (_City("BE", "BE-BRU", "Bruxelles", "1000"), _City("BE", "BE-VAN", "Antwerpen", "2000")),
    "LU": (_City("LU", "LU-LU", "Luxembourg", "1118"),),
    "US": (
        _City("US", "US-NY", "New York", "10001"), _City("US", "US-CA", "San Francisco", "94105"),
        _City("US", "US-MA", "Boston", "02108"), _City("US", "US-TX", "Austin", "78701"),
        _City("US", "US-IL", "Chicago", "60601"),
    ),
}  # fmt: skip
LEAD_COUNTRIES = {
    "DE": 26, "AT": 6, "CH": 6, "FR": 10, "GB": 10, "ES": 7, "NL": 7, "SE": 5, "DK": 3,
    "BE": 4, "LU": 1, "US": 15,
}  # fmt: skip
# No partner covers these, so their leads are the unroutable ones.
UNCOVERED_CITIES = (
    _City("PL", "PL-14", "Warszawa", "00-950"), _City("IT", "IT-25", "Milano", "20121"),
    _City("PT", "PT-11", "Lisboa", "1100-148"), _City("CZ", "CZ-10", "Praha", "110 00"),
)  # fmt: skip

PEOPLE = {
    "DE": (("Lukas", "Anna", "Felix", "Lea", "Jonas", "Sophie", "Maximilian", "Laura"),
           ("Müller", "Schmidt", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Schäfer")),
    "AT": (("Tobias", "Katharina", "Florian", "Magdalena"),
           ("Gruber", "Huber", "Bauer", "Pichler")),
    "CH": (("Luca", "Nina", "Reto", "Seraina"), ("Meier", "Keller", "Brunner", "Frei")),
    "FR": (("Camille", "Louis", "Chloé", "Hugo", "Manon", "Julien"),
           ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent")),
    "GB": (("Oliver", "Charlotte", "George", "Emily", "Jack", "Isla"),
           ("Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans")),
    "ES": (("Lucía", "Javier", "Carmen", "Pablo"), ("García", "Fernández", "López", "Martínez")),
    "NL": (("Daan", "Sanne", "Bram", "Femke"), ("de Jong", "Jansen", "de Vries", "Bakker")),
    "SE": (("Erik", "Astrid", "Johan", "Elin"), ("Andersson", "Johansson", "Karlsson", "Nilsson")),
    "DK": (("Mads", "Freja", "Rasmus"), ("Nielsen", "Jensen", "Hansen")),
    "BE": (("Lotte", "Arthur", "Wout"), ("Peeters", "Janssens", "Maes")),
    "LU": (("Laurent", "Marie"), ("Schmit", "Weber")),
    "US": (("James", "Emily", "Michael", "Olivia", "Daniel", "Ava"),
           ("Johnson", "Williams", "Miller", "Davis", "Garcia", "Anderson")),
    "PL": (("Piotr", "Agnieszka"), ("Nowak", "Kowalski")),
    "IT": (("Marco", "Giulia"), ("Rossi", "Bianchi")),
    "PT": (("João", "Inês"), ("Silva", "Santos")),
    "CZ": (("Jan", "Tereza"), ("Novák", "Svoboda")),
}  # fmt: skip
CALLING_CODES = {
    "DE": "+49", "AT": "+43", "CH": "+41", "FR": "+33", "GB": "+44", "ES": "+34", "NL": "+31",
    "SE": "+46", "DK": "+45", "BE": "+32", "LU": "+352", "US": "+1", "PL": "+48", "IT": "+39",
    "PT": "+351", "CZ": "+420",
}  # fmt: skip
LEGAL_FORMS = {
    "DE": "GmbH", "AT": "GmbH", "CH": "AG", "FR": "SA", "GB": "Ltd", "ES": "S.A.", "NL": "B.V.",
    "SE": "AB", "DK": "A/S", "BE": "NV", "LU": "S.A.", "US": "Inc.", "PL": "sp. z o.o.",
    "IT": "S.p.A.", "PT": "Lda.", "CZ": "s.r.o.",
}  # fmt: skip
TIMEZONES = {
    "DE": "Europe/Berlin", "AT": "Europe/Vienna", "CH": "Europe/Zurich", "FR": "Europe/Paris",
    "GB": "Europe/London", "ES": "Europe/Madrid", "NL": "Europe/Amsterdam",
    "SE": "Europe/Stockholm", "US": "America/New_York",
}  # fmt: skip

PARTNER_STEMS = {
    "DE": ("Nordlicht", "Rheinwerk", "Isartal", "Spreeblick", "Elbwerk", "Schwarzwald", "Mainufer"),
    "AT": ("Alpenblick", "Donauwelle", "Tauern"),
    "CH": ("Matterhorn", "Limmat", "Helvetic"),
    "FR": ("Seine", "Lumière", "Provence", "Loire"),
    "GB": ("Thames", "Pennine", "Kingsbridge", "Highland"),
    "ES": ("Iberia", "Sierra", "Mediterránea"),
    "NL": ("Polder", "Oranje", "Delta"),
    "SE": ("Fjord", "Norrsken", "Skärgård"),
    "US": ("Hudson", "Keystone", "Liberty", "Summit", "Bayview"),
}
PARTNER_SUFFIXES = ("IT", "Systems", "Solutions", "Digital", "Technologies", "Consulting", "Data")
# Countries of the partners after the five fixed ones.
PARTNER_MIX = (("DE", 5), ("AT", 2), ("CH", 2), ("FR", 2), ("GB", 2), ("ES", 2), ("NL", 1),
               ("SE", 2), ("US", 3))  # fmt: skip
PARTNER_COVERAGE = {
    "DE": ("DE", "DACH", "DE-BY", "DE-NW", "DE-BE", "DE-PC-80", "DE-PC-10", "DE-PC-40"),
    "AT": ("AT", "DACH"), "CH": ("CH", "DACH"), "FR": ("FR", "FR-IDF", "BENELUX"),
    "GB": ("GB",), "ES": ("ES", "ES-MD"), "NL": ("NL", "BENELUX"), "SE": ("SE", "NORDICS"),
    "US": ("US", "US-NY", "US-CA"),
}  # fmt: skip

BRANDS = (
    "Nordstern", "Bluepeak", "Keystone", "Silverline", "Brightwater", "Greenfield", "Ironbridge",
    "Lakeside", "Redwood", "Northgate", "Clearview", "Oakridge", "Westbrook", "Stonebridge",
    "Highpoint", "Evergreen", "Falcon", "Horizon", "Atlas", "Vanguard", "Pioneer", "Crestline",
)  # fmt: skip
INDUSTRIES = {
    "Manufacturing": ("Engineering", "Precision Parts", "Industries"),
    "Retail": ("Retail", "Stores", "Fashion"),
    "Healthcare": ("Health", "Medical", "Care"),
    "Financial Services": ("Bank", "Capital", "Finance"),
    "Logistics": ("Logistics", "Freight", "Transport"),
    "Energy": ("Energy", "Power", "Utilities"),
    "Insurance": ("Insurance", "Assurance"),
    "Media": ("Media", "Publishing"),
    "Automotive": ("Automotive", "Motors"),
    "Education": ("Academy", "Learning"),
    "Food & Beverage": ("Foods", "Brewery", "Dairy"),
    "Software": ("Software", "Labs"),
}
JOB_TITLES = (
    "IT Director", "Head of Infrastructure", "CIO", "CISO", "IT Manager", "Network Architect",
    "Head of IT Operations", "Procurement Lead", "CTO", "Systems Administrator",
)  # fmt: skip
SOURCES = {
    "webinar": ("Webinar: {product} in 30 minutes", "Webinar: ransomware readiness"),
    "website": ("Website: free trial", "Website: pricing page"),
    "trade_show": ("it-sa Nuremberg 2025", "Infosecurity Europe 2025", "VivaTech Paris 2025"),
    "partner_referral": ("Partner referral programme",),
    "content_download": ("Whitepaper: {product} buyer's guide",),
    "paid_search": ("Search: {product}",),
}
SOURCE_POINTS = {
    "webinar": 15, "website": 8, "trade_show": 12, "partner_referral": 20,
    "content_download": 6, "paid_search": 5,
}  # fmt: skip
TIMELINES = ("Q1", "Q2", "Q3", "Q4", "next year")
REJECT_REASONS = {
    "not_my_territory": "The customer is outside our territory.",
    "no_budget": "The customer has no budget this year.",
    "no_capacity": "No free pre-sales capacity this month.",
}
LOSS_REASONS = ("Chose a competitor", "Budget frozen", "Project postponed", "No decision made")

# Percent of a tenant's leads in each state; nurture takes the rounding remainder.
STATE_SHARES = {
    S.NEW: 5, S.NURTURE: 13, S.MQL: 5, S.OFFERED: 14, S.UNROUTABLE: 5, S.DIRECT_SALES: 2,
    S.ACCEPTED: 12, S.SQL: 14, S.WON: 15, S.LOST: 15,
}  # fmt: skip
TAILS = {
    S.MQL: (), S.OFFERED: (A.ROUTE,), S.ACCEPTED: (A.ROUTE, A.ACCEPT),
    S.SQL: (A.ROUTE, A.ACCEPT, A.QUALIFY), S.WON: (A.ROUTE, A.ACCEPT, A.QUALIFY, A.WIN),
}  # fmt: skip
# Hours from the previous step to this one.
DELAY_HOURS = {
    A.SCORE_BELOW: (0.01, 0.3), A.SCORE_ABOVE: (0.01, 0.3), A.ROUTE: (0.01, 0.5),
    A.NO_PARTNER: (0.01, 0.3), A.TO_DIRECT_SALES: (0.01, 0.3), A.ACCEPT: (0.5, 40),
    A.REJECT: (0.5, 40), A.EXPIRE: (OFFER_HOURS, OFFER_HOURS + 0.25), A.QUALIFY: (24, 400),
    A.WIN: (120, 1200), A.LOSE: (48, 900),
}  # fmt: skip
NURTURE_WAIT_HOURS = (48, 900)
# How long ago the lead's last event happened (its creation for new leads), in hours.
LAST_EVENT_AGE_HOURS = {
    S.NEW: (0.05, 36), S.NURTURE: (1, 2800), S.MQL: (0.05, 96), S.OFFERED: (0.5, 40),
    S.UNROUTABLE: (1, 2800), S.ACCEPTED: (1, 300), S.SQL: (24, 1200), S.WON: (1, 2800),
    S.LOST: (1, 2800), S.DIRECT_SALES: (1, 2800),
}  # fmt: skip
SCORING = (A.SCORE_BELOW, A.SCORE_ABOVE)
OFFER_ACTIONS = (A.ROUTE, A.ACCEPT, A.REJECT, A.EXPIRE)
PARTNER_ACTIONS = (A.ACCEPT, A.REJECT, A.QUALIFY, A.WIN, A.LOSE)
OFFER_OUTCOMES = {A.ACCEPT: "accepted", A.REJECT: "rejected", A.EXPIRE: "expired"}


# Entry point -----------------------------------------------------------------------------


def build_demo(password: str, leads_per_tenant: int = 600, seed: int = 7) -> list[DemoLogin]:
    """Build the demo tenants, or reset their logins' passwords if they exist; return logins."""
    _check_inputs(password, leads_per_tenant)
    reset_hash: str | None = None
    logins: list[DemoLogin] = []
    for spec in TENANTS:
        tenant = _existing_tenant(spec.slug)
        if tenant is None:
            rng = random.Random(f"{seed}:{spec.slug}")
            logins += _build_tenant(spec, password, leads_per_tenant, rng)
            continue
        # Every demo login shares the password, so one hash (one salt) serves them all.
        reset_hash = reset_hash or passwords.hash_password(
            password, current_app.config["PASSWORD_HASH_PROFILE"]
        )
        logins += _reset_logins(tenant, spec, reset_hash)
    return logins


def _check_inputs(password: str, leads_per_tenant: int) -> None:
    errors: dict[str, str] = {}
    emails = [email for spec in TENANTS for email, _ in _login_specs(spec.slug)]
    problems = [p for email in emails for p in passwords.password_problems(password, email=email)]
    if problems:
        errors["password"] = " ".join(dict.fromkeys(problems))
    if leads_per_tenant < MIN_LEADS:
        errors["leads_per_tenant"] = f"Use at least {MIN_LEADS} so every state has enough leads."
    if errors:
        raise ValidationFailed(errors)


def _login_specs(slug: str) -> list[tuple[str, Role]]:
    staff = [
        (f"admin@{slug}.example", Role.ADMIN),
        (f"manager@{slug}.example", Role.CHANNEL_MANAGER),
        (f"staff@{slug}.example", Role.VENDOR_STAFF),
    ]
    partners = [(f"partner{n}@{slug}.example", Role.PARTNER_USER) for n in (1, 2, 3)]
    return [*staff, *partners, (RESELLER_EMAIL, Role.PARTNER_USER)]


def _existing_tenant(slug: str) -> Tenant | None:
    try:
        return services.tenant_by_slug(slug)
    except NotFound:
        return None


def _reset_logins(tenant: Tenant, spec: _TenantSpec, password_hash: str) -> list[DemoLogin]:
    emails = [email for email, _ in _login_specs(spec.slug)]
    with tenant_scope(tenant.id):
        found = db.session.scalars(sa.select(User).where(User.email.in_(emails)))
        users = {user.email: user for user in found}
        for user in users.values():
            user.password_hash = password_hash
            user.password_changed_at = utcnow()
            user.active = True
            audit.record(db.session, actor="demo", action="user.password_reset", obj=user)
        logins = [DemoLogin(spec.slug, users[e].role, e) for e in emails if e in users]
        db.session.commit()
    return logins


def _build_tenant(
    spec: _TenantSpec, password: str, leads: int, rng: random.Random
) -> list[DemoLogin]:
    tenant = services.create_tenant(spec.slug, spec.name, actor="demo")
    tenant.timezone = spec.timezone
    with tenant_scope(tenant.id):
        network = _build_network(spec, rng)
        _configure_programme(spec, network)
        logins = _create_users(spec, network.partners, password)
        _LeadMaker(spec, network, rng).make(leads)
        db.session.commit()
        make_duplicates(rng)
        # The demo's offers are written as history; their answer times and the partners'
        # quality are worked out from it as the live paths would have.
        while scorecards.fill_answer_times():
            pass
        scorecards.recompute_quality()
        _incentives()
    return logins


def _incentives() -> None:
    """A plan, and statements as a programme some months in has them: the month before last
    paid, last month approved (what partners see), this month's drafts for staff to review."""
    tier_ids = {tier.name: tier.id for tier in incentives.tiers()}
    raw = {
        "currency": "EUR", "bounty": "150", "cap": "10000", "sla_gate": "80",
        "accelerator_percent": "95", "accelerator_extra": "10",
        "note": "The demo's plan: a bounty per lead kept, a share of won revenue by tier.",
        **{f"share_{tier_ids[name]}": share for name, share in DEMO_SHARES.items()},
    }  # fmt: skip
    incentives.save_plan(raw, actor="demo")
    this_month = month_of(utcnow().date())
    last_month = month_of(this_month.start - timedelta(days=1))
    month_before = month_of(last_month.start - timedelta(days=1))
    for period in (month_before, last_month, this_month):
        statements.work_out(period)
    for period, paid in ((month_before, True), (last_month, False)):
        for statement in statements.for_period(period.key):
            statements.approve(statement.id, actor="demo")
            if paid:
                statements.mark_paid(statement.id, actor="demo")


def _configure_programme(spec: _TenantSpec, network: _Network) -> None:
    """Rules a real programme has: scoring, a segment rule and a faster SLA for the top tier."""
    for lead_field, operator, values, points in DEMO_PROFILE_RULES:
        db.session.add(
            ScoringRule(field=lead_field, operator=operator, values=values, points=points)
        )
    for activity, points, decay in DEMO_ENGAGEMENT_RULES:
        db.session.add(EngagementRule(activity_type=activity, points=points, decay_days=decay))
    gold = db.session.scalar(sa.select(Tier).where(Tier.name == "Gold"))
    db.session.add(
        SegmentRule(
            name="Enterprise",
            basis="employees",
            min_value=1000,
            min_tier_id=gold.id,
            min_certification=2,
        )
    )
    default = db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.is_default))
    default.holiday_country = spec.country
    premium = SlaPolicy(
        name="Premium: 8 business hours",
        response_hours=8,
        clock="business",
        holiday_country=default.holiday_country,
        reminder_points=[50, 75, 90],
    )
    db.session.add(premium)
    db.session.flush()
    top = [p.id for p in network.partners if p.tier == "Platinum"]
    db.session.execute(
        sa.update(Partner).where(Partner.id.in_(top)).values(sla_policy_id=premium.id)
    )


# The partner network ---------------------------------------------------------------------


@dataclass
class _PartnerInfo:
    """What lead making needs of a partner, kept apart from ORM rows that commits expire."""

    id: int
    name: str
    tier: str
    status: str
    capacity: int
    weight: float
    contact_name: str
    areas: tuple[_Area, ...]
    product_ids: frozenset[int]
    actor_id: int | None
    actor_label: str

    def covers(self, city: _City, product_id: int) -> bool:
        return product_id in self.product_ids and any(a.covers(city) for a in self.areas)


@dataclass(frozen=True)
class _ProductInfo:
    id: int
    name: str


@dataclass(frozen=True)
class _Network:
    products: list[_ProductInfo]
    partners: list[_PartnerInfo]


@dataclass(frozen=True)
class _PartnerSeed:
    name: str
    country: str
    tier: str
    status: str
    areas: tuple[str, ...]
    product_count: int
    has_login: bool = False


def _build_network(spec: _TenantSpec, rng: random.Random) -> _Network:
    tiers = {name: Tier(name=name, rank=rank, routing_weight=w) for name, rank, w in TIERS}
    territories = {area.code: _territory(area) for area in AREAS}
    products = [
        Product(code=code, name=name, line=line)
        for line_code, line_name, items in spec.lines
        for line in [ProductLine(code=line_code, name=line_name)]
        for code, name in items
    ]
    seeds = _partner_seeds(rng)
    partners = [_partner(seed, tiers, territories, products, rng) for seed in seeds]
    db.session.add_all([*tiers.values(), *territories.values(), *products, *partners])
    db.session.flush()
    infos = [_partner_info(seed, partner) for seed, partner in zip(seeds, partners, strict=True)]
    return _Network([_ProductInfo(p.id, p.name) for p in products], infos)


def _territory(area: _Area) -> Territory:
    return Territory(
        code=area.code,
        name=area.name,
        kind=area.kind,
        country=area.country,
        subdivision=area.subdivision,
        postal_prefix=area.postal_prefix,
        region_countries=list(area.region),
    )


def _partner_seeds(rng: random.Random) -> list[_PartnerSeed]:
    """Four partners with logins, a global integrator, then a random mix."""
    pools = {country: rng.sample(stems, len(stems)) for country, stems in PARTNER_STEMS.items()}

    def name(country: str) -> str:
        form = {"CH": "AG", "FR": "SAS", "US": "Inc."}.get(country, LEGAL_FORMS[country])
        return f"{pools[country].pop()} {rng.choice(PARTNER_SUFFIXES)} {form}"

    fixed = [
        _PartnerSeed(name("DE"), "DE", "Platinum", "active", ("DE", "DACH"), 4, True),
        _PartnerSeed(name("FR"), "FR", "Gold", "active", ("FR", "BENELUX"), 4, True),
        _PartnerSeed(name("GB"), "GB", "Silver", "active", ("GB",), 4, True),
        _PartnerSeed(RESELLER_PARTNER, "NL", "Gold", "active", ("NL", "BENELUX"), 4, True),
        _PartnerSeed(name("US"), "US", "Platinum", "active", ("GLOBAL", "US"), 2),
    ]
    countries = [country for country, count in PARTNER_MIX for _ in range(count)]
    tiers = ["Platinum"] + ["Gold"] * 5 + ["Silver"] * 7 + ["Registered"] * 8
    statuses = ["paused", "paused", "suspended"] + ["active"] * (len(tiers) - 3)
    rng.shuffle(tiers)
    rng.shuffle(statuses)
    rest = [
        _PartnerSeed(name(c), c, tier, status, _coverage(c, rng), rng.randint(2, 4))
        for c, tier, status in zip(countries, tiers, statuses, strict=True)
    ]
    return fixed + rest


def _coverage(country: str, rng: random.Random) -> tuple[str, ...]:
    options = PARTNER_COVERAGE[country]
    return tuple(rng.sample(options, rng.randint(1, min(3, len(options)))))


def _partner(
    seed: _PartnerSeed,
    tiers: dict[str, Tier],
    territories: dict[str, Territory],
    products: list[Product],
    rng: random.Random,
) -> Partner:
    first, last = _contact_person(seed, rng)
    domain = _slug(seed.name.rsplit(" ", 1)[0])
    email = RESELLER_EMAIL if seed.name == RESELLER_PARTNER else _email(first, last, domain)
    return Partner(
        name=seed.name,
        tier=tiers[seed.tier],
        status=seed.status,
        capacity=rng.randint(40, 60) if seed.has_login else rng.randint(10, 60),
        country=seed.country,
        timezone=TIMEZONES[seed.country],
        contact_name=f"{first} {last}",
        contact_email=email,
        created_at=utcnow() - timedelta(days=rng.uniform(150, 900)),
        territories=[PartnerTerritory(territory=territories[code]) for code in seed.areas],
        products=[
            PartnerProduct(product=product, certification=rng.randint(0, 3))
            for product in rng.sample(products, seed.product_count)
        ],
    )


def _contact_person(seed: _PartnerSeed, rng: random.Random) -> tuple[str, str]:
    if seed.name == RESELLER_PARTNER:
        first, last = RESELLER_NAME.split(" ", 1)
        return first, last
    firsts, lasts = PEOPLE[seed.country]
    return rng.choice(firsts), rng.choice(lasts)


def _partner_info(seed: _PartnerSeed, partner: Partner) -> _PartnerInfo:
    tier_weight = dict((name, w) for name, _, w in TIERS)[seed.tier]
    return _PartnerInfo(
        id=partner.id,
        name=partner.name,
        tier=seed.tier,
        status=seed.status,
        capacity=partner.capacity,
        # Partners with logins get more offers so their inboxes have something in them.
        weight=(1 + tier_weight / 10) * (4 if seed.has_login else 1),
        contact_name=partner.contact_name or "",
        areas=tuple(AREA_BY_CODE[code] for code in seed.areas),
        product_ids=frozenset(link.product.id for link in partner.products),
        actor_id=None,
        actor_label=partner.contact_email or "partner",
    )


def _create_users(
    spec: _TenantSpec, partners: list[_PartnerInfo], password: str
) -> list[DemoLogin]:
    names = [*spec.staff, *(p.contact_name for p in partners[:4])]
    owners: list[_PartnerInfo | None] = [None, None, None, *partners[:4]]
    logins = []
    for (email, role), name, partner in zip(_login_specs(spec.slug), names, owners, strict=True):
        user = services.create_user(
            email=email,
            name=name,
            role=role.value,
            password=password,
            partner_id=partner.id if partner else None,
            actor="demo",
        )
        if partner is not None:
            partner.actor_id, partner.actor_label = user.id, user.email
        logins.append(DemoLogin(spec.slug, role.value, email))
    return logins


# Leads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    action: Action
    before: LeadState
    after: LeadState
    at: datetime


@dataclass
class _LeadPlan:
    lead: Lead
    steps: list[_Step]
    offers: list[tuple[Offer, _PartnerInfo]] = field(default_factory=list)


class _LeadMaker:
    """Makes a tenant's leads with their offers and the events that walk them to their state."""

    def __init__(self, spec: _TenantSpec, network: _Network, rng: random.Random) -> None:
        self.spec = spec
        self.network = network
        self.rng = rng
        self.now = utcnow()
        self.open_offers: Counter[int] = Counter()

    def make(self, count: int) -> None:
        """Plan every lead, then write them oldest first in batches."""
        plans = [self._plan(target) for target in _target_states(count, self.rng)]
        plans.sort(key=lambda plan: plan.lead.created_at)
        for start in range(0, len(plans), BATCH):
            batch = plans[start : start + BATCH]
            db.session.add_all([plan.lead for plan in batch])
            db.session.flush()
            db.session.add_all([event for plan in batch for event in self._events(plan)])
            db.session.flush()

    def _plan(self, target: LeadState) -> _LeadPlan:
        actions = _path(target, self.rng)
        city, product, offerees = self._place(target, actions.count(A.ROUTE))
        created, times = self._timeline(target, actions)
        states = list(accumulate(actions, next_state, initial=S.NEW))
        if states[-1] is not target:
            raise RuntimeError(f"demo path {actions} ends in {states[-1]}, not {target}")
        steps = [_Step(*s) for s in zip(actions, states[:-1], states[1:], times, strict=True)]
        lead = self._lead(target, city, product, created, times[-1] if times else created)
        self._outcome(lead, steps)
        plan = _LeadPlan(lead, steps)
        routed = iter(offerees)
        eligible = sum(1 for p in self.network.partners if p.covers(city, product.id))
        for index, step in enumerate(steps):
            if step.action is A.ROUTE:
                decision = steps[index + 1] if index + 1 < len(steps) else None
                partner = next(routed)
                why = _demo_routing(partner, eligible, city, product)
                plan.offers.append((self._offer(lead, partner, step, decision, why), partner))
        return plan

    def _place(
        self, target: LeadState, routes: int
    ) -> tuple[_City, _ProductInfo, list[_PartnerInfo]]:
        """A city and product for the lead, and partners to offer it to (the final one last)."""
        for _ in range(500):
            city = self._city(unroutable=target is S.UNROUTABLE)
            product = self.rng.choice(self.network.products)
            covering = [p for p in self.network.partners if p.covers(city, product.id)]
            if target is S.UNROUTABLE:
                if not any(p.status == "active" for p in covering):
                    return city, product, []
                continue
            offerees = self._offerees(covering, routes, still_open=target is S.OFFERED)
            if offerees is not None:
                return city, product, offerees
        raise RuntimeError(f"the demo network cannot place a lead in state {target}")

    def _city(self, *, unroutable: bool) -> _City:
        if unroutable:
            return self.rng.choice(UNCOVERED_CITIES)
        countries, weights = zip(*LEAD_COUNTRIES.items(), strict=True)
        country = self.rng.choices(countries, weights=weights)[0]
        return self.rng.choice(CITIES[country])

    def _offerees(
        self, covering: list[_PartnerInfo], routes: int, *, still_open: bool
    ) -> list[_PartnerInfo] | None:
        if routes == 0:
            return []
        finalists = covering
        if still_open:
            finalists = [
                p for p in covering if p.status == "active" and self.open_offers[p.id] < p.capacity
            ]
        if not finalists:
            return None
        final = self.rng.choices(finalists, weights=[p.weight for p in finalists])[0]
        earlier = [p for p in covering if p is not final]
        if len(earlier) < routes - 1:
            return None
        if still_open:
            self.open_offers[final.id] += 1
        return [*self.rng.sample(earlier, routes - 1), final]

    def _timeline(
        self, target: LeadState, actions: list[Action]
    ) -> tuple[datetime, list[datetime]]:
        """When the lead came in and when each step happened, all in the past 120 days."""
        delays = []
        state = S.NEW
        for action in actions:
            low, high = NURTURE_WAIT_HOURS if state is S.NURTURE else DELAY_HOURS[action]
            delays.append(self.rng.uniform(low, high))
            state = next_state(state, action)
        total = sum(delays)
        low, high = LAST_EVENT_AGE_HOURS[target]
        age = self.rng.uniform(low, max(low, min(high, MAX_AGE_HOURS - total)))
        created = self.now - timedelta(hours=age + total)
        return created, [created + timedelta(hours=h) for h in accumulate(delays)]

    def _lead(
        self,
        target: LeadState,
        city: _City,
        product: _ProductInfo,
        created: datetime,
        last: datetime,
    ) -> Lead:
        rng = self.rng
        industry = rng.choice(list(INDUSTRIES))
        stem = rng.choice(BRANDS) if rng.random() < 0.5 else rng.choice(PEOPLE[city.country][1])
        company = f"{stem} {rng.choice(INDUSTRIES[industry])}"
        first, last_name = rng.choice(PEOPLE[city.country][0]), rng.choice(PEOPLE[city.country][1])
        employees = int(min(60_000, max(12, rng.lognormvariate(5.8, 1.4))))
        return Lead(
            company_name=f"{company} {LEGAL_FORMS[city.country]}",
            company_domain=f"{_slug(company)}.example",
            industry=industry,
            employees=employees,
            contact_name=f"{first} {last_name}",
            contact_email=_email(first, last_name, _slug(company)),
            contact_phone=f"{CALLING_CODES[city.country]} {rng.randint(20, 99)} "
            f"{rng.randint(100_000, 9_999_999)}",
            job_title=rng.choice(JOB_TITLES),
            country=city.country,
            subdivision=city.subdivision,
            postal_code=city.postal,
            city=city.name,
            product_id=product.id,
            currency="USD" if city.country == "US" else "EUR",
            state=target.value,
            created_at=created,
            updated_at=last,
            **self._qualification(target, product, industry, employees),
        )

    def _outcome(self, lead: Lead, steps: list[_Step]) -> None:
        """What the partner recorded on the lead's way: the opportunity when it became an
        SQL, then the amount won or the reason lost, as the partner's own answers write them."""
        rng = self.rng
        for step in steps:
            if step.action is A.QUALIFY:
                lead.opportunity_minor = int(
                    round(lead.deal_size_minor * rng.uniform(0.8, 1.3), -4)
                )
                lead.opportunity_currency = lead.currency
                lead.expected_close_on = (step.at + timedelta(days=rng.randint(30, 120))).date()
            elif step.action is A.WIN:
                expected = lead.opportunity_minor or lead.deal_size_minor
                lead.won_minor = int(round(expected * rng.uniform(0.85, 1.05), -2))
                lead.won_currency = lead.currency
                lead.closed_on = step.at.date()
            elif step.action is A.LOSE:
                lead.lost_reason = rng.choice(LOSS_REASONS)
                lead.closed_on = step.at.date()

    def _qualification(
        self, target: LeadState, product: _ProductInfo, industry: str, employees: int
    ) -> dict[str, Any]:
        """Deal size, BANT, score with its breakdown, source and campaign."""
        rng = self.rng
        warm = target is not S.NURTURE
        bant = {
            "budget": rng.random() < (0.75 if warm else 0.2),
            "authority": rng.random() < (0.7 if warm else 0.3),
            "need": rng.choice(self.spec.needs),
            "timeline": rng.choice(TIMELINES),
        }
        source = rng.choice(list(SOURCES))
        score, breakdown = _score(rng, warm, bant, source, industry, employees)
        deal = round(min(250_000, max(5_000, employees * rng.uniform(60, 220))), -2)
        return {
            "deal_size_minor": int(deal) * 100,
            "bant": bant,
            # New leads have not been scored yet: scoring is what moves them on.
            "score": 0 if target is S.NEW else score,
            "score_breakdown": [] if target is S.NEW else breakdown,
            "source": source,
            "campaign": rng.choice(SOURCES[source]).format(product=product.name),
        }

    def _offer(
        self,
        lead: Lead,
        partner: _PartnerInfo,
        route: _Step,
        decision: _Step | None,
        explanation: dict[str, Any],
    ) -> Offer:
        outcome = OFFER_OUTCOMES[decision.action] if decision else "open"
        until = decision.at if decision else self.now
        seen = outcome in ("accepted", "rejected") or self.rng.random() < 0.4
        reason = self.rng.choice(list(REJECT_REASONS)) if outcome == "rejected" else None
        return Offer(
            lead=lead,
            partner_id=partner.id,
            state=outcome,
            offered_at=route.at,
            due_at=route.at + timedelta(hours=OFFER_HOURS),
            opened_at=route.at + (until - route.at) * self.rng.uniform(0.1, 0.9) if seen else None,
            decided_at=decision.at if decision else None,
            reason_code=reason,
            comment=REJECT_REASONS[reason] if reason else None,
            explanation=explanation,
        )

    def _events(self, plan: _LeadPlan) -> list[LeadEvent]:
        events = []
        offers = iter(plan.offers)
        offer, partner = None, None
        last_scoring = max((i for i, s in enumerate(plan.steps) if s.action in SCORING), default=-1)
        for index, step in enumerate(plan.steps):
            if step.action is A.ROUTE:
                offer, partner = next(offers)
            by_partner = partner if step.action in PARTNER_ACTIONS else None
            reason, data = self._detail(plan, step, offer, partner, index == last_scoring)
            events.append(
                LeadEvent(
                    lead_id=plan.lead.id,
                    at=step.at,
                    actor_id=by_partner.actor_id if by_partner else None,
                    actor_label=by_partner.actor_label if by_partner else "system",
                    action=step.action.value,
                    from_state=step.before.value,
                    to_state=step.after.value,
                    offer_id=offer.id if offer and step.action in OFFER_ACTIONS else None,
                    reason=reason,
                    data=data,
                )
            )
        return events

    def _detail(
        self,
        plan: _LeadPlan,
        step: _Step,
        offer: Offer | None,
        partner: _PartnerInfo | None,
        final_score: bool,
    ) -> tuple[str | None, dict[str, Any]]:
        """The reason and data an event of this action carries."""
        action = step.action
        if action in SCORING:
            return None, {"score": plan.lead.score if final_score else self.rng.randint(10, 49)}
        if action is A.ROUTE and partner is not None:
            return None, {"partner_id": partner.id, "partner": partner.name}
        if action is A.NO_PARTNER:
            return "No active partner covers this territory and product.", {}
        if action is A.REJECT and offer is not None:
            return offer.comment, {"reason_code": offer.reason_code}
        if action is A.EXPIRE:
            return f"No answer within {OFFER_HOURS} hours.", {}
        if action is A.WIN:
            return None, {"deal_size_minor": plan.lead.deal_size_minor,
                          "won_minor": plan.lead.won_minor}  # fmt: skip
        if action is A.LOSE:
            return plan.lead.lost_reason, {}
        return None, {}


def _demo_routing(
    partner: _PartnerInfo, eligible: int, city: _City, product: _ProductInfo
) -> dict[str, Any]:
    """What a demo offer keeps of its routing. The demo picks its partners itself, so the lead's
    page says so, as it does for an offer assigned by hand, rather than show an engine's
    ranking that never happened."""
    others = eligible - 1
    return {
        "outcome": "manual",
        "summary": f"Offered to {partner.name} ({partner.tier}), which covers {city.name} and "
        f"sells {product.name}; {others} other partner{'' if others == 1 else 's'} could have "
        "had it.",
        "manual": {"by": "the demo data", "note": None},
        "eligible": eligible,
    }


def _target_states(count: int, rng: random.Random) -> list[LeadState]:
    counts = {state: count * share // 100 for state, share in STATE_SHARES.items()}
    counts[S.NURTURE] += count - sum(counts.values())
    targets = [state for state, n in counts.items() for _ in range(n)]
    rng.shuffle(targets)
    return targets


def _path(target: LeadState, rng: random.Random) -> list[Action]:
    """The actions that take a new lead to the target state, with the occasional detour."""
    if target is S.NEW:
        return []
    if target is S.NURTURE:
        return [A.SCORE_BELOW] * rng.choice((1, 1, 2))
    path = [A.SCORE_BELOW, A.SCORE_ABOVE] if rng.random() < 0.15 else [A.SCORE_ABOVE]
    if target is S.UNROUTABLE:
        return [*path, A.NO_PARTNER]
    if target is S.DIRECT_SALES:
        return [*path, A.TO_DIRECT_SALES]
    # Some leads were rejected or let expire by a first partner and routed again.
    if rng.random() < (0.3 if target is S.MQL else 0.2):
        path += [A.ROUTE, rng.choice((A.REJECT, A.REJECT, A.EXPIRE))]
    if target is S.LOST:
        return path + rng.choice(([A.ROUTE, A.ACCEPT, A.LOSE], [*TAILS[S.SQL], A.LOSE]))
    return path + list(TAILS[target])


def _score(
    rng: random.Random, warm: bool, bant: dict[str, Any], source: str, industry: str, employees: int
) -> tuple[int, list[dict[str, Any]]]:
    """A score in the band of the lead's state, and the rules that add up to it."""
    rules = [
        (f"Industry fit: {industry}", rng.randint(3, 15)),
        (f"Company size: {employees} employees", 4 if employees < 100 else 10),
        (f"Source: {source.replace('_', ' ')}", SOURCE_POINTS[source]),
        ("BANT: budget confirmed", 15 if bant["budget"] else 0),
        ("BANT: decision maker", 10 if bant["authority"] else 0),
        (f"Timeline: {bant['timeline']}", rng.randint(2, 10)),
    ]
    breakdown = [
        {"source": "profile", "reason": rule, "points": points} for rule, points in rules if points
    ]
    total = sum(item["points"] for item in breakdown)
    low, high = (50, 98) if warm else (5, 49)
    if not low <= total <= high:
        goal = rng.randint(low, high)
        rule = "Engagement: repeat visits" if goal > total else "Engagement: inactive for 60 days"
        breakdown.append({"source": "engagement", "reason": rule, "points": goal - total})
        total = goal
    return total, breakdown


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", _ascii(text)).strip("-")


def _email(first: str, last: str, domain: str) -> str:
    local = ".".join(re.sub(r"[^a-z0-9]", "", _ascii(part)) for part in (first, last))
    return f"{local}@{domain}.example"
