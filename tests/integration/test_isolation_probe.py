"""The isolation probe: every route that takes an identifier, asked for an object of another
tenant, for an object of the other partner of the same tenant, for an object of the tenant's
own as each role its rule refuses, and (routes of two identifiers) for a foreign object under
an own one, by every method it allows. Every answer is 403 or 404 (a refusal has nowhere to
redirect to), and none shows anything of any probe object.

The registry below says how to make a real object for each URL argument. A route with an
argument the registry does not know fails the probe, so a new route cannot slip past it; an
entry no route uses any more fails it too. Every object's name carries a marker,
LEAK-<owner>-<kind>-<n>, that no refusal may show; the pages a user may open show no marker of
another tenant, nor to a partner user of another partner (whose leads had another partner's
rejection in their history first). Controls show that each identifier is valid: someone the
rule allows opens it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule as UrlRule

from portal.db import utcnow
from portal.extensions import db
from portal.incentives.models import IncentivePlan, Statement, StatementLine
from portal.leads.models import (
    EngagementRule,
    LeadEvent,
    LeadImport,
    RejectionReason,
    ScoringRule,
)
from portal.notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from portal.partners.models import (
    Partner,
    PartnerImport,
    PartnerProduct,
    PartnerTerritory,
    SlaPolicy,
    Territory,
)
from portal.routing import simulation
from portal.routing.models import SegmentRule
from portal.tenancy import services as tenancy
from portal.tenancy.policy import Rule, rule_for
from portal.tenancy.roles import Role, can
from portal.tenancy.scoping import tenant_scope
from tests.conftest import Person, TenantWorld, World, csrf_token, login
from tests.factories import (
    LeadFactory,
    OfferFactory,
    PartnerFactory,
    ProductFactory,
    ProductLineFactory,
    TierFactory,
    UserFactory,
)

ROLES = [role.value for role in Role]
REFUSED = (403, 404)
_serial = itertools.count(1)


# Whose objects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    """Whose objects a maker makes: a tenant and one of its partners with that partner's user.
    The tag is in the marker of every object it makes."""

    tag: str
    tenant_tag: str  # the tag of objects of the whole tenant, whichever partner they came with
    tenant: TenantWorld
    partner_id: int
    partner_user: Person
    # Another partner of the tenant, which had the owner's leads first and rejected them.
    rival_partner_id: int
    rival_tag: str


def owners_of(world: World, rival_a: int) -> dict[str, Owner]:
    """rival_a: a third partner of tenant A, which had the leads of both others first."""
    a, b = world.a, world.b
    return {
        # Tenant A's own objects, of the partner whose user the probe signs in as.
        "A1": Owner("A1", "A", a, a.partner_id, a.partner_user, rival_a, "A3"),
        # Tenant A's other partner: none of the first partner user's business.
        "A2": Owner("A2", "A", a, a.other_partner_id, a.other_partner_user, rival_a, "A3"),
        # Another tenant altogether.
        "B": Owner("B", "B", b, b.partner_id, b.partner_user, b.other_partner_id, "B2"),
    }


def _add(row: Any) -> int:
    db.session.add(row)
    db.session.flush()
    return row.id


def _once(make: Callable[[Maker], int]) -> Callable[[Maker], int]:
    """Make the object the first time it is asked for; later asks get the same one, so the
    routes of a probe share their objects and a route's arguments fit together (a partner
    and its coverage, a webhook endpoint and its delivery)."""

    def made(maker: Maker) -> int:
        if make.__name__ not in maker.made:
            maker.made[make.__name__] = make(maker)
        return maker.made[make.__name__]

    made.__name__ = make.__name__
    return made


class Maker:
    """Makes real rows of one owner, in its tenant's scope, each named with a marker."""

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.made: dict[str, int] = {}

    def mark(self, kind: str, of_partner: bool = False) -> str:
        """The marker of a new object: of the owner's partner, or of its whole tenant (a tier,
        a rejection reason), which every partner of the tenant may see."""
        tag = self.owner.tag if of_partner else self.owner.tenant_tag
        return f"LEAK-{tag}-{kind}-{next(_serial)}"

    def _code(self) -> str:
        return f"LEAK{self.owner.tag}{next(_serial)}"

    def _admin(self) -> Any:
        return tenancy.get_user(self.owner.tenant.admin.id)

    # The network

    def partner(self) -> int:
        # Tenant B's and the other partner's are named with markers by the probe fixture.
        return self.owner.partner_id

    @_once
    def tier(self) -> int:
        return TierFactory(name=self.mark("tier")).id

    @_once
    def sla_policy(self) -> int:
        return _add(SlaPolicy(name=self.mark("sla"), response_hours=24, clock="wall"))

    @_once
    def territory(self) -> int:
        return _add(
            Territory(
                code=self._code(), name=self.mark("territory"), kind="region",
                region_countries=["FR", "BE"],
            )
        )  # fmt: skip

    @_once
    def product_line(self) -> int:
        return ProductLineFactory(name=self.mark("line")).id

    @_once
    def product(self) -> int:
        return ProductFactory(name=self.mark("product"), line_id=self.product_line()).id

    @_once
    def territory_coverage(self) -> int:
        return _add(PartnerTerritory(partner_id=self.partner(), territory_id=self.territory()))

    @_once
    def product_coverage(self) -> int:
        return _add(
            PartnerProduct(partner_id=self.partner(), product_id=self.product(), certification=1)
        )

    @_once
    def segment_rule(self) -> int:
        return _add(
            SegmentRule(name=self.mark("segment"), basis="employees", min_value=0,
                        min_certification=1)
        )  # fmt: skip

    # Qualification and rejection reasons

    @_once
    def rejection_reason(self) -> int:
        return _add(RejectionReason(code=self._code(), label=self.mark("reason"), position=90))

    @_once
    def scoring_rule(self) -> int:
        return _add(
            ScoringRule(field="industry", operator="in", values=[self.mark("scoring")], points=5)
        )

    @_once
    def engagement_rule(self) -> int:
        # Activity types are snake_case names; the marker shows in lower case.
        kind = self.mark("engagement").lower().replace("-", "_")
        return _add(EngagementRule(activity_type=kind, points=5, decay_days=None))

    # Leads and offers

    def _lead(self, kind: str, state: str, of_partner: bool = False, **values: Any) -> Any:
        marker = self.mark(kind, of_partner)
        return LeadFactory(
            company_name=f"{marker} AG", contact_name=marker, city=marker, state=state, **values
        )

    def _rejected_by_a_rival(self, lead: Any) -> None:
        """The lead was offered to another partner first, which rejected it with a comment:
        the owner's partner sees nothing of that on its own pages."""
        marker = f"LEAK-{self.owner.rival_tag}-rejection-{next(_serial)}"
        then = utcnow() - timedelta(hours=5)
        rival = OfferFactory(
            lead_id=lead.id, partner_id=self.owner.rival_partner_id, state="rejected",
            offered_at=then, decided_at=then + timedelta(hours=1), response_seconds=3600,
            reason_code="no_budget", comment=marker,
        )  # fmt: skip
        for action, before, after, text in (
            ("route", "mql", "offered", f"Offered to {marker}."),
            ("reject", "offered", "mql", f"Rejected by {marker}: {marker}"),
        ):
            db.session.add(
                LeadEvent(
                    lead_id=lead.id, at=then, actor_label=f"{marker.lower()}@rival.example",
                    action=action, from_state=before, to_state=after, offer_id=rival.id,
                    reason=text, data={"partner_id": self.owner.rival_partner_id},
                )
            )  # fmt: skip

    def _offer_to_partner(self, lead: Any, state: str, **values: Any) -> int:
        self._rejected_by_a_rival(lead)
        offer = OfferFactory(lead_id=lead.id, partner_id=self.partner(), state=state, **values)
        db.session.add(
            LeadEvent(
                lead_id=lead.id, actor_label="system", action="route", from_state="mql",
                to_state="offered", offer_id=offer.id, reason="Offered to the partner.",
            )
        )  # fmt: skip
        return offer.id

    @_once
    def open_offer(self) -> int:
        lead = self._lead("offered_lead", "offered", of_partner=True)
        self.made["offered_lead"] = lead.id
        return self._offer_to_partner(lead, "open")

    def offered_lead(self) -> int:
        self.open_offer()
        return self.made["offered_lead"]

    @_once
    def accepted_lead(self) -> int:
        now = utcnow()
        lead = self._lead("accepted_lead", "accepted", of_partner=True, partner_updated_at=now)
        self._offer_to_partner(
            lead, "accepted", offered_at=now - timedelta(hours=2), decided_at=now,
            response_seconds=3600,
        )  # fmt: skip
        return lead.id

    @_once
    def unroutable_lead(self) -> int:
        return self._lead("unroutable_lead", "unroutable").id

    @_once
    def flagged_lead(self) -> int:
        email = f"dup{next(_serial)}@probe.example"
        original = self._lead("original_lead", "mql", contact_email=email)
        return self._lead("flagged_lead", "mql", contact_email=email,
                          duplicate_of_id=original.id).id  # fmt: skip

    @_once
    def lead_import(self) -> int:
        marker = self.mark("lead_import")
        return _add(
            LeadImport(
                filename=f"{marker}.csv", content=f"Company\n{marker} AG\n", header=["Company"],
                mapping=["company_name"], total_lines=1, created_by_label=marker,
            )
        )  # fmt: skip

    # Partner files, simulations, statements

    @_once
    def partner_import(self) -> int:
        marker = self.mark("partner_import")
        return _add(
            PartnerImport(
                filename=f"{marker}.csv",
                content=f"name,tier,status,capacity,country,timezone,sla_policy,contact_name,"
                f"contact_email,contact_phone,territories,products\n"
                f"{marker},Gold,active,5,DE,Europe/Berlin,,{marker},,,,\n",
            )
        )

    @_once
    def simulation(self) -> int:
        today = utcnow().date()
        raw = {
            "name": self.mark("simulation"),
            "period_start": (today - timedelta(days=1)).isoformat(),
            "period_end": today.isoformat(),
            "weight_territory": "40", "weight_tier": "20", "weight_quality": "20",
            "weight_capacity": "10", "weight_fairness": "10",
        }  # fmt: skip
        return simulation.run_simulation(raw, actor=self._admin()).id

    @_once
    def statement(self) -> int:
        n = next(_serial)
        marker = self.mark("statement", of_partner=True)
        plan = _add(IncentivePlan(version=n, currency="EUR", created_by_label=marker))
        statement = _add(
            Statement(
                partner_id=self.partner(), period=f"{2000 + n // 12:04d}-{n % 12 + 1:02d}",
                plan_id=plan, currency="EUR", tier_name=marker, total_minor=10_000,
            )
        )  # fmt: skip
        _add(
            StatementLine(statement_id=statement, position=1, kind="bounty", description=marker,
                          amount_minor=10_000)
        )  # fmt: skip
        return statement

    # The admin's objects, and the partner user's notifications

    @_once
    def webhook_endpoint(self) -> int:
        # Port 9 refuses at once: a delivery made by a control fails fast and stays local.
        return _add(
            WebhookEndpoint(url=f"http://127.0.0.1:9/{self.mark('webhook')}", events=["offered"],
                            secret="whsec_probe")
        )  # fmt: skip

    @_once
    def webhook_delivery(self) -> int:
        return _add(
            WebhookDelivery(
                endpoint_id=self.webhook_endpoint(), event_type="offered",
                payload={"lead": self.mark("delivery")}, state="failed", attempts=1,
            )
        )  # fmt: skip

    @_once
    def notification(self) -> int:
        return _add(
            Notification(user_id=self.owner.partner_user.id, text=self.mark("notification", True),
                         link="/inbox/")
        )  # fmt: skip

    @_once
    def api_key(self) -> int:
        key, _ = tenancy.create_api_key(self.mark("api_key"), actor=self._admin())
        return key.id

    @_once
    def user(self) -> int:
        marker = self.mark("user")
        return UserFactory(email=f"{marker.lower()}@probe.example", name=marker).id


# The registry: URL argument (or (endpoint or blueprint, argument) where one name means
# different things) -> the maker of a valid object for it.
Key = str | tuple[str, str]
REGISTRY: dict[Key, Callable[[Maker], int]] = {
    "partner_id": Maker.partner,
    ("partners.remove_territory", "coverage_id"): Maker.territory_coverage,
    ("partners.remove_product", "coverage_id"): Maker.product_coverage,
    ("partner_io", "import_id"): Maker.partner_import,
    "tier_id": Maker.tier,
    "policy_id": Maker.sla_policy,
    "territory_id": Maker.territory,
    "line_id": Maker.product_line,
    "product_id": Maker.product,
    ("routing", "rule_id"): Maker.segment_rule,
    "simulation_id": Maker.simulation,
    "reason_id": Maker.rejection_reason,
    ("qualification.delete_rule", "rule_id"): Maker.scoring_rule,
    ("qualification.delete_engagement_rule", "rule_id"): Maker.engagement_rule,
    "lead_id": Maker.offered_lead,
    ("inbox", "lead_id"): Maker.accepted_lead,
    ("unroutable", "lead_id"): Maker.unroutable_lead,
    ("duplicates", "lead_id"): Maker.flagged_lead,
    ("lead_imports", "import_id"): Maker.lead_import,
    "offer_id": Maker.open_offer,
    "statement_id": Maker.statement,
    "endpoint_id": Maker.webhook_endpoint,
    "delivery_id": Maker.webhook_delivery,
    "notification_id": Maker.notification,
    "key_id": Maker.api_key,
    "user_id": Maker.user,
}
# Arguments that name no object: a value their converter takes.
NOT_IDENTIFIERS: dict[Key, str] = {
    ("tiers.move", "direction"): "up",
    ("scorecards.feedback_csv", "table"): "rejections",
}
# Endpoints left out of the probe, and why.
EXEMPT = {"static": "the app's own public files, nobody's data"}
# The JSON bodies of API calls that take one, so that a refusal is not a 422.
API_BODIES = {"api.add_activity": {"activity_type": "webinar_attended"}}
# The fields of the forms a view checks before it looks the object up (a bad form is a 400
# whoever asks), so that a refusal is the access rule's. Every other form is sent with its
# CSRF token alone: whatever a view does with a bad form is neither 403 nor 404, so a view
# that found another's object cannot pass for one that refused it.
FORM_DATA = {
    "rejection_reasons.set_active": {"active": "1"},
    "rejection_reasons.move": {"direction": "up"},
}


def registry_key(endpoint: str, argument: str, table: dict[Key, Any]) -> Key | None:
    """The most specific entry for the argument: endpoint, then blueprint, then the name."""
    blueprint = endpoint.rpartition(".")[0]
    for key in ((endpoint, argument), (blueprint, argument), argument):
        if key in table:
            return key
    return None


# The routes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    rule: UrlRule
    declared: Rule | None  # None: the policy refuses everyone (test_access.py names it)

    @property
    def endpoint(self) -> str:
        return self.rule.endpoint

    @property
    def methods(self) -> list[str]:
        return sorted(self.rule.methods - {"HEAD", "OPTIONS"})

    @property
    def is_api(self) -> bool:
        return self.rule.rule.startswith("/api/")

    def allows(self, role: str, own_partner: bool) -> bool:
        """Whether the declared rule lets the role in, for an object of its own partner or not."""
        if self.declared is None:
            return False
        if self.declared.kind == "user":
            return True
        if self.declared.kind != "permission":
            return False  # API keys and the public have no roles
        assert self.declared.permission is not None
        if can(role, self.declared.permission):
            return True
        return bool(self.declared.own_partner_arg) and role == "partner_user" and own_partner

    @property
    def names_an_object(self) -> bool:
        """Some argument is an identifier (not a choice like up or down)."""
        return any(registry_key(self.endpoint, a, REGISTRY) for a in self.rule.arguments)

    @property
    def partner_facing(self) -> bool:
        """A partner user may open it for its own partner's objects."""
        return self.allows("partner_user", own_partner=True)


def routes_with_arguments(app: Flask) -> list[Route]:
    return sorted(
        (
            Route(rule, rule_for(rule.endpoint, app))
            for rule in app.url_map.iter_rules()
            if rule.arguments and rule.endpoint not in EXEMPT
        ),
        key=lambda route: route.rule.rule,
    )


def unregistered(route: Route) -> list[str]:
    return [
        argument
        for argument in sorted(route.rule.arguments)
        if registry_key(route.endpoint, argument, REGISTRY) is None
        and registry_key(route.endpoint, argument, NOT_IDENTIFIERS) is None
    ]


def probed_routes(app: Flask) -> list[Route]:
    """The routes the probe can ask; the registry test names any it cannot."""
    return [route for route in routes_with_arguments(app) if not unregistered(route)]


Values = dict[str, Any]


def values_for(route: Route, maker: Maker) -> Values:
    """The route's URL arguments: the maker's objects, and a valid choice for the others."""
    values: Values = {}
    for argument in sorted(route.rule.arguments):
        key = registry_key(route.endpoint, argument, REGISTRY)
        if key is not None:
            values[argument] = REGISTRY[key](maker)
        else:
            values[argument] = NOT_IDENTIFIERS[
                registry_key(route.endpoint, argument, NOT_IDENTIFIERS)  # type: ignore[index]
            ]
    return values


def path_of(app: Flask, route: Route, values: Values) -> str:
    return app.url_map.bind("localhost").build(route.endpoint, values)


def test_every_route_with_an_argument_has_a_maker_in_the_registry(app):
    missing = [
        f"{route.endpoint} ({route.rule.rule}): no maker for <{argument}>; add it to the "
        "registry of tests/integration/test_isolation_probe.py"
        for route in routes_with_arguments(app)
        for argument in unregistered(route)
    ]
    assert not missing, "\n".join(missing)


def test_the_registry_has_no_entry_that_no_route_uses(app):
    used: set[Key] = set()
    for route in routes_with_arguments(app):
        for argument in route.rule.arguments:
            used.add(registry_key(route.endpoint, argument, REGISTRY))
            used.add(registry_key(route.endpoint, argument, NOT_IDENTIFIERS))
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    stale = [key for key in [*REGISTRY, *NOT_IDENTIFIERS] if key not in used]
    stale += [e for e in [*EXEMPT, *API_BODIES, *FORM_DATA] if e not in endpoints]
    assert not stale, f"registry entries that no route uses: {stale}"


# The objects, once per test ----------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    app: Flask
    owners: dict[str, Owner]
    routes: list[Route]
    values: dict[tuple[str, str], Values]  # (owner tag, endpoint) -> its URL arguments

    def path(self, tag: str, route: Route) -> str:
        return path_of(self.app, route, self.values[(tag, route.endpoint)])


def _mark_partners(world: World) -> int:
    """Mark the partners of tenant B and tenant A's other partner (A's first partner is the
    partner user's own, whose name its pages show), and add a rival partner to tenant A."""
    for tenant_id, partner_id, tag in (
        (world.a.id, world.a.other_partner_id, "A2"),
        (world.b.id, world.b.partner_id, "B"),
        (world.b.id, world.b.other_partner_id, "B2"),
    ):
        with tenant_scope(tenant_id):
            db.session.get(Partner, partner_id).name = f"LEAK-{tag}-partner-{next(_serial)}"
            db.session.commit()
    with tenant_scope(world.a.id):
        rival = PartnerFactory(name=f"LEAK-A3-partner-{next(_serial)}")
        db.session.commit()
        return rival.id


def make_objects(app: Flask, owner: Owner, routes: list[Route]) -> dict[tuple[str, str], Values]:
    """One object of the owner per registry entry, shared by the routes; their arguments."""
    with app.app_context(), tenant_scope(owner.tenant.id):
        maker = Maker(owner)
        values = {(owner.tag, route.endpoint): values_for(route, maker) for route in routes}
        db.session.commit()
    return values


@pytest.fixture
def probe(app, world) -> Probe:
    with app.app_context():
        owners = owners_of(world, _mark_partners(world))
    routes = probed_routes(app)
    values: dict[tuple[str, str], Values] = {}
    for owner in owners.values():
        values.update(make_objects(app, owner, routes))
    return Probe(app, owners, routes, values)


# Asking and judging --------------------------------------------------------------------------


@dataclass
class Asker:
    """A client signed in as one person (or holding one API key), with a CSRF token."""

    client: FlaskClient
    who: str
    person: Person  # for an API key, a stand-in of its tenant with no role
    token: str | None = None
    headers: dict[str, str] | None = None

    def ask(self, route: Route, method: str, path: str) -> Any:
        """The response, or what the request raised instead of answering."""
        try:
            if route.is_api:
                body = API_BODIES.get(route.endpoint, {}) if method != "GET" else None
                return self.client.open(path, method=method, headers=self.headers, json=body)
            data = None
            if method != "GET":
                data = {"csrf_token": self.token, **FORM_DATA.get(route.endpoint, {})}
            return self.client.open(path, method=method, data=data)
        except Exception as exc:  # a 500 propagates in testing; it is a finding, not a crash
            return f"raised {type(exc).__name__}: {exc}"


def signed_in(app: Flask, person: Person) -> Asker:
    client = app.test_client()
    response = login(client, person.email)
    assert response.status_code == 302, f"{person.email} could not sign in"
    who = f"{person.role} of {person.email.split('@')[1]}"
    return Asker(client, who, person, csrf_token(client, "/"))


def with_api_key(app: Flask, tenant: TenantWorld) -> Asker:
    with app.app_context(), tenant_scope(tenant.id):
        _, secret = tenancy.create_api_key("probe", actor=tenancy.get_user(tenant.admin.id))
    holder = Person(0, "", "api_key", tenant.id)
    return Asker(app.test_client(), f"API key of {tenant.slug}", holder,
                 headers={"Authorization": f"Bearer {secret}"})  # fmt: skip


ANY_MARKER = re.compile(r"LEAK-[A-Z0-9]+-[a-z_]+-\d+|leak_[a-z0-9]+_engagement_\d+")


def foreign_to(person: Person, owners: dict[str, Owner]) -> re.Pattern[str]:
    """What no page may show this person: another tenant's objects and, to a partner user,
    another partner's."""
    tags: set[str] = set()
    words: set[str] = set()
    for owner in owners.values():
        if owner.tenant.id != person.tenant_id:
            tags |= {owner.tag, owner.tenant_tag, owner.rival_tag}
            words.add(owner.tenant.slug)
        elif person.partner_id is not None:
            if owner.partner_id != person.partner_id:
                tags.add(owner.tag)
                words.add(owner.partner_user.email)
            if owner.rival_partner_id != person.partner_id:
                tags.add(owner.rival_tag)
    alternatives = "|".join(sorted(tags))
    return re.compile(
        rf"LEAK-(?:{alternatives})-[a-z_]+-\d+|leak_(?:{alternatives.lower()})_engagement_\d+|"
        + "|".join(re.escape(word) for word in sorted(words)),
        re.IGNORECASE,
    )


def judge(failures: list[str], asker: Asker, method: str, path: str, answer: Any) -> None:
    """A refusal is 403 or 404 and shows nothing of any probe object."""
    where = f"{method} {path} as {asker.who}"
    if isinstance(answer, str):
        failures.append(f"{where}: {answer}")
        return
    body = answer.get_data(as_text=True)
    if answer.status_code not in REFUSED:
        detail = ""
        if answer.status_code == 400 and "Form expired" in body:
            detail = " (the CSRF check refused it: the probe's token is wrong)"
        elif 300 <= answer.status_code < 400:
            detail = f" to {answer.headers.get('Location')}"
        failures.append(f"{where}: {answer.status_code}{detail}")
    leaked = sorted(set(ANY_MARKER.findall(body)))
    if leaked:
        failures.append(f"{where}: the answer shows {leaked}")


def web(routes: list[Route]) -> Iterator[Route]:
    return (route for route in routes if not route.is_api)


# 1. Another tenant's objects ----------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_role_of_tenant_a_is_refused_every_object_of_tenant_b(app, probe, role):
    asker = signed_in(app, probe.owners["A1"].tenant.person(role))
    failures: list[str] = []
    for route in web(probe.routes):
        if not route.names_an_object:
            continue
        path = probe.path("B", route)
        for method in route.methods:
            judge(failures, asker, method, path, asker.ask(route, method, path))
    assert not failures, "\n".join(failures)


def test_an_api_key_of_tenant_a_is_refused_every_object_of_tenant_b(app, probe):
    asker = with_api_key(app, probe.owners["A1"].tenant)
    api_routes = [route for route in probe.routes if route.is_api]
    assert api_routes, "the probe found no API route with an identifier"
    failures: list[str] = []
    for route in api_routes:
        path = probe.path("B", route)
        for method in route.methods:
            judge(failures, asker, method, path, asker.ask(route, method, path))
    assert not failures, "\n".join(failures)


# 2. The other partner's objects -------------------------------------------------------------


def test_a_partner_user_is_refused_every_object_of_the_other_partner(app, probe):
    partner_routes = [r for r in web(probe.routes) if r.partner_facing and r.names_an_object]
    # What a partner user sees of its own: the probe must know these as such.
    assert {
        "inbox.offer", "inbox.accept", "inbox.held", "inbox.win", "partners.detail",
        "scorecards.partner", "scorecards.offers", "notifications.read",
    } <= {route.endpoint for route in partner_routes}  # fmt: skip
    asker = signed_in(app, probe.owners["A1"].partner_user)
    failures: list[str] = []
    for route in partner_routes:
        path = probe.path("A2", route)
        for method in route.methods:
            judge(failures, asker, method, path, asker.ask(route, method, path))
    assert not failures, "\n".join(failures)


# A foreign object under one's own: the routes of two identifiers --------------------------


def identifiers(route: Route) -> list[str]:
    return sorted(a for a in route.rule.arguments if registry_key(route.endpoint, a, REGISTRY))


def test_a_route_of_two_objects_refuses_a_foreign_one_under_an_own_one(app, probe):
    """/partners/<own>/territories/<coverage>/delete and the like: the rule lets the role in
    for the own object, so only the view can tell that the other is not the own one's.
    Each identifier in turn is tenant B's or the other partner's, the rest tenant A's own."""
    routes = [route for route in probe.routes if len(identifiers(route)) > 1]
    assert routes, "the probe found no route of two identifiers"
    askers: dict[str, Asker] = {}
    failures: list[str] = []
    for route in routes:
        own = probe.values[("A1", route.endpoint)]
        asker = control_asker(app, route, probe.owners["A1"], askers)
        for argument in identifiers(route):
            for tag in ("A2", "B"):
                foreign = probe.values[(tag, route.endpoint)][argument]
                path = path_of(app, route, {**own, argument: foreign})
                for method in route.methods:
                    judge(failures, asker, method, path, asker.ask(route, method, path))
    assert not failures, "\n".join(failures)


# 3. The tenant's own objects, as each role the rule refuses ---------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_its_own_tenants_objects_where_its_rule_says_no(app, probe, role):
    refused = [route for route in web(probe.routes) if not route.allows(role, own_partner=True)]
    asker = signed_in(app, probe.owners["A1"].tenant.person(role))
    failures: list[str] = []
    for route in refused:
        path = probe.path("A1", route)
        for method in route.methods:
            judge(failures, asker, method, path, asker.ask(route, method, path))
    assert not failures, "\n".join(failures)


# The list pages show nothing foreign --------------------------------------------------------


def lists_show(app: Flask, probe: Probe, asker: Asker, role: str) -> list[str]:
    """What the GET pages without arguments that the asker may open show of the objects of
    another tenant or partner (the pages' 403s for other roles are test_access.py's)."""
    shows = foreign_to(asker.person, probe.owners)
    failures: list[str] = []
    for rule in app.url_map.iter_rules():
        route = Route(rule, rule_for(rule.endpoint, app))
        if rule.arguments or "GET" not in rule.methods:
            continue
        if route.is_api != (role == "api_key") or not (route.is_api or route.allows(role, True)):
            continue
        answer = asker.ask(route, "GET", rule.rule)
        if isinstance(answer, str):
            failures.append(f"GET {rule.rule} as {asker.who}: {answer}")
            continue
        leaked = sorted(set(shows.findall(answer.get_data(as_text=True))))
        if leaked:
            failures.append(f"GET {rule.rule} as {asker.who}: the page shows {leaked}")
    return failures


@pytest.mark.parametrize("role", ROLES)
def test_the_pages_without_identifiers_show_nothing_of_another_tenant_or_partner(app, probe, role):
    asker = signed_in(app, probe.owners["A1"].tenant.person(role))
    failures = lists_show(app, probe, asker, role)
    assert not failures, "\n".join(failures)


def test_the_api_lists_nothing_of_another_tenant(app, probe):
    asker = with_api_key(app, probe.owners["A1"].tenant)
    failures = lists_show(app, probe, asker, "api_key")
    assert not failures, "\n".join(failures)


# Controls: the identifiers are valid, so each refusal above is the access rule's ------------


def opener(route: Route, owner: Owner) -> Person | None:
    """Someone of the owner's tenant whom the route's rule lets open the owner's object."""
    if route.partner_facing:
        return owner.partner_user
    for role in ("channel_manager", "admin", "vendor_staff"):
        if route.allows(role, own_partner=False):
            return owner.tenant.person(role)
    return None


def control_asker(app: Flask, route: Route, owner: Owner, askers: dict[str, Asker]) -> Asker:
    """Who opens the owner's object in the controls: its tenant's API key for the API, an
    allowed person of its tenant for the pages, and anyone for a public page."""
    if route.is_api:
        key = f"api:{owner.tenant.slug}"
        if key not in askers:
            askers[key] = with_api_key(app, owner.tenant)
        return askers[key]
    person = opener(route, owner)
    if person is None:
        return Asker(app.test_client(), "a visitor", Person(0, "", "visitor", 0))
    if person.email not in askers:
        askers[person.email] = signed_in(app, person)
    return askers[person.email]


@pytest.mark.parametrize("tag", ["A1", "A2", "B"])
def test_each_object_opens_for_whom_the_rule_allows(app, probe, tag):
    """Every GET answers 200 to someone the rule allows, and every other method gets past the
    lookup (an object made afresh for each, as it may change it): so the identifiers are
    valid, and the refusals above are the access rules', not missing objects."""
    owner = probe.owners[tag]
    # The other partner's objects differ from the first partner's on partner pages only.
    routes = [r for r in probe.routes if tag != "A2" or r.partner_facing]
    askers: dict[str, Asker] = {}
    failures: list[str] = []
    for route in routes:
        asker = control_asker(app, route, owner, askers)
        for method in route.methods:
            path = probe.path(tag, route)
            if method != "GET":
                fresh = make_objects(app, owner, [route])[(tag, route.endpoint)]
                path = path_of(app, route, fresh)
            answer = asker.ask(route, method, path)
            where = f"{method} {path} as {asker.who}"
            if isinstance(answer, str):
                failures.append(f"{where}: {answer}")
                continue
            body = answer.get_data(as_text=True)
            if method == "GET" and answer.status_code != 200:
                failures.append(f"{where}: {answer.status_code}, not 200")
            elif answer.status_code in REFUSED or answer.status_code >= 500:
                failures.append(f"{where}: {answer.status_code}")
            elif "Form expired" in body:
                failures.append(f"{where}: the CSRF check refused it")
            # Its own object's page shows nothing of another tenant or partner either.
            leaked = sorted(set(foreign_to(asker.person, probe.owners).findall(body)))
            if leaked:
                failures.append(f"{where}: the answer shows {leaked}")
    assert not failures, "\n".join(failures)


def test_the_probe_marks_tenant_b_s_objects(app, probe, world):
    """The leak check looks for markers; make sure the objects carry them."""
    with app.app_context(), tenant_scope(world.b.id):
        names = db.session.scalars(sa.select(Partner.name)).all()
    assert names and all(ANY_MARKER.search(name) for name in names)
