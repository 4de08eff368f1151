"""Live routing: MQLs taken in are offered to the best partner, with a deadline and the
stored explanation, or go to the fallback or the unroutable queue with their reasons."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.db import utcnow
from portal.extensions import db
from portal.leads import intake
from portal.leads.models import Lead, LeadEvent, Offer, QualificationSettings
from portal.partners.models import (
    Partner,
    PartnerProduct,
    PartnerTerritory,
    SlaPolicy,
    Territory,
)
from portal.routing import dispatch
from portal.routing.models import RoutingSettings
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.services import note_config_change
from tests.factories import PartnerFactory, ProductFactory, TierFactory


def territory(code: str, kind: str, **place: object) -> Territory:
    found = db.session.scalar(sa.select(Territory).where(Territory.code == code))
    if found is None:
        found = Territory(code=code, name=code, kind=kind, **place)
        db.session.add(found)
        db.session.flush()
    return found


def cover(partner: Partner, product_code: str, *territories: Territory, cert: int = 0) -> None:
    from portal.partners.models import Product

    product = db.session.scalar(sa.select(Product).where(Product.code == product_code))
    db.session.add(PartnerProduct(partner_id=partner.id, product_id=product.id, certification=cert))
    for t in territories:
        db.session.add(PartnerTerritory(partner_id=partner.id, territory_id=t.id))
    db.session.flush()


def programme(app, tenant_id: int) -> dict[str, int]:
    """Every lead is an MQL; two products; partners: Berlin Nord covers postal 10 in DE,
    Germany Direct covers DE, Europa covers the EU region, each selling CB."""
    with app.app_context(), tenant_scope(tenant_id):
        settings = db.session.scalar(sa.select(QualificationSettings))
        settings.mql_threshold, settings.required_fields = 0, []
        ProductFactory(code="CB", name="Cloud Backup")
        ProductFactory(code="DR", name="Disaster Recovery")
        gold, silver = TierFactory(name="Gold", rank=1), TierFactory(name="Silver", rank=2)
        de = territory("DE", "country", country="DE")
        berlin = territory("DE-PC-10", "postal", country="DE", postal_prefix="10")
        eu = territory("EU", "region", region_countries=["DE", "FR", "AT"])
        partners = {
            "berlin": PartnerFactory(name="Berlin Nord", tier_id=silver.id, capacity=5),
            "germany": PartnerFactory(name="Germany Direct", tier_id=gold.id, capacity=5),
            "europa": PartnerFactory(name="Europa Partners", tier_id=gold.id, capacity=5),
        }
        cover(partners["berlin"], "CB", berlin)
        cover(partners["germany"], "CB", de)
        cover(partners["europa"], "CB", eu)
        note_config_change()
        db.session.commit()
        return {name: p.id for name, p in partners.items()}


def lead_data(**overrides: object) -> dict[str, object]:
    data = {
        "company_name": "Spree Logistik GmbH",
        "contact_email": "anna@spree.example",
        "country": "DE",
        "postal_code": "10115",
        "city": "Berlin",
        "product": "CB",
    }
    data.update(overrides)
    return data


def take_in(app, tenant_id: int, **overrides: object) -> int:
    with app.app_context(), tenant_scope(tenant_id):
        return intake.take_in(lead_data(**overrides), actor="test", channel="a test").lead.id


def offers_of(app, tenant_id: int, lead_id: int) -> list[Offer]:
    with app.app_context(), tenant_scope(tenant_id):
        offers = list(db.session.scalars(sa.select(Offer).where(Offer.lead_id == lead_id)))
        for offer in offers:
            db.session.expunge(offer)
        return offers


def lead_and_events(app, tenant_id: int, lead_id: int) -> tuple[str, list[LeadEvent]]:
    with app.app_context(), tenant_scope(tenant_id):
        lead = db.session.get(Lead, lead_id)
        events = list(
            db.session.scalars(
                sa.select(LeadEvent).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
            )
        )
        for event in events:
            db.session.expunge(event)
        return lead.state, events


def set_routing(app, tenant_id: int, **values: object) -> None:
    with app.app_context(), tenant_scope(tenant_id):
        settings = db.session.scalar(sa.select(RoutingSettings))
        for name, value in values.items():
            setattr(settings, name, value)
        note_config_change()
        db.session.commit()


def test_an_mql_is_offered_to_the_most_specific_partner_with_deadline_and_explanation(app, world):
    ids = programme(app, world.a.id)
    lead_id = take_in(app, world.a.id)
    state, events = lead_and_events(app, world.a.id, lead_id)
    [offer] = offers_of(app, world.a.id, lead_id)
    assert state == "offered" and offer.partner_id == ids["berlin"]
    # The default policy is 16 business hours: never sooner than 16 wall-clock hours.
    assert offer.due_at - offer.offered_at >= timedelta(hours=16)
    explanation = offer.explanation
    assert explanation["outcome"] == "routed" and explanation["eligible"] == 3
    ranked = [c["partner_name"] for c in explanation["candidates"]]
    assert ranked[0] == "Berlin Nord" and set(ranked) == {
        "Berlin Nord",
        "Germany Direct",
        "Europa Partners",
    }
    terms = {t["name"]: t for t in explanation["candidates"][0]["terms"]}
    assert terms["territory"]["facts"]["kind"] == "postal"
    assert explanation["summary"] == "Offered to Berlin Nord, the best of the eligible partners."
    route = events[-1]
    assert (route.action, route.from_state, route.to_state) == ("route", "mql", "offered")
    assert route.offer_id == offer.id and route.actor_label == "routing"
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.get(Offer, offer.id).territory.code == "DE-PC-10"


def test_a_lead_outside_the_postal_area_goes_to_the_country_partner(app, world):
    ids = programme(app, world.a.id)
    lead_id = take_in(app, world.a.id, postal_code="80331", city="München")
    [offer] = offers_of(app, world.a.id, lead_id)
    assert offer.partner_id == ids["germany"]


def test_a_lead_nobody_can_take_is_unroutable_with_its_reasons(app, world):
    programme(app, world.a.id)
    lead_id = take_in(app, world.a.id, product="DR")
    state, events = lead_and_events(app, world.a.id, lead_id)
    assert state == "unroutable" and offers_of(app, world.a.id, lead_id) == []
    event = events[-1]
    assert (event.action, event.from_state, event.to_state) == ("no_partner", "mql", "unroutable")
    assert event.data["reason_counts"] == {"wrong_product": 3}
    assert "unroutable queue" in event.reason


def test_a_lead_without_country_or_product_is_unroutable_not_an_error(app, world):
    programme(app, world.a.id)
    no_place = take_in(app, world.a.id, country=None, postal_code=None, city=None)
    no_product = take_in(app, world.a.id, product=None, contact_email="b@elbe.example")
    for lead_id in (no_place, no_product):
        state, events = lead_and_events(app, world.a.id, lead_id)
        assert state == "unroutable", events[-1].reason
    _, events = lead_and_events(app, world.a.id, no_place)
    assert events[-1].data["reason_counts"] == {"no_territory": 3}


def test_the_fallback_partner_takes_what_nobody_else_can(app, world):
    ids = programme(app, world.a.id)
    set_routing(app, world.a.id, fallback_kind="partner", fallback_partner_id=ids["europa"])
    lead_id = take_in(app, world.a.id, product="DR")
    [offer] = offers_of(app, world.a.id, lead_id)
    assert offer.partner_id == ids["europa"] and offer.territory_id is None
    assert offer.explanation["outcome"] == "fallback_partner"
    assert "default partner, Europa Partners" in offer.explanation["summary"]


def test_direct_sales_as_fallback_hands_the_lead_over(app, world):
    programme(app, world.a.id)
    set_routing(app, world.a.id, fallback_kind="direct_sales")
    lead_id = take_in(app, world.a.id, country="JP", postal_code=None, city="Tokyo")
    state, events = lead_and_events(app, world.a.id, lead_id)
    assert state == "direct_sales" and events[-1].action == "to_direct_sales"
    assert offers_of(app, world.a.id, lead_id) == []


def test_capacity_counts_offers_made_earlier_in_the_same_batch(app, world):
    ids = programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        for partner_id in ids.values():
            db.session.get(Partner, partner_id).capacity = 1
        note_config_change()
        db.session.commit()
    leads = [
        take_in(app, world.a.id, contact_email=f"p@firm{n}.example", external_id=f"x{n}")
        for n in range(4)
    ]
    partners = [
        offers[0].partner_id if (offers := offers_of(app, world.a.id, lead)) else None
        for lead in leads
    ]
    assert sorted(p for p in partners if p) == sorted(ids.values())
    assert partners[-1] is None
    assert lead_and_events(app, world.a.id, leads[-1])[0] == "unroutable"


def test_a_partner_at_capacity_says_so_on_its_page(app, world, client, login_as):
    ids = programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Partner, ids["berlin"]).capacity = 1
        note_config_change()
        db.session.commit()
    lead_id = take_in(app, world.a.id)
    assert offers_of(app, world.a.id, lead_id)[0].partner_id == ids["berlin"]
    login_as("channel_manager")
    full = client.get(f"/partners/{ids['berlin']}").get_data(as_text=True)
    assert "1 of 1 open leads" in full and 'data-testid="at-capacity"' in full
    room = client.get(f"/partners/{ids['germany']}").get_data(as_text=True)
    assert "0 of 5 open leads" in room and 'data-testid="at-capacity"' not in room


def test_a_configuration_change_reaches_the_next_routing(app, world):
    ids = programme(app, world.a.id)
    first = take_in(app, world.a.id)
    assert offers_of(app, world.a.id, first)[0].partner_id == ids["berlin"]
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Partner, ids["berlin"]).status = "paused"
        note_config_change()
        db.session.commit()
    second = take_in(app, world.a.id, contact_email="lena@havel.example")
    assert offers_of(app, world.a.id, second)[0].partner_id == ids["germany"]


def test_business_hours_of_the_partners_policy_set_the_deadline(app, world):
    ids = programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        policy = SlaPolicy(name="Four wall hours", response_hours=4, clock="wall")
        db.session.add(policy)
        db.session.flush()
        db.session.get(Partner, ids["berlin"]).sla_policy_id = policy.id
        db.session.commit()
    before = utcnow()
    lead_id = take_in(app, world.a.id)
    [offer] = offers_of(app, world.a.id, lead_id)
    assert timedelta(hours=4) <= offer.due_at - before <= timedelta(hours=4, minutes=1)


def test_routing_never_crosses_tenants(app, world):
    programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.b.id):
        settings = db.session.scalar(sa.select(QualificationSettings))
        settings.mql_threshold, settings.required_fields = 0, []
        ProductFactory(code="CB", name="Cloud Backup")
        db.session.commit()
    lead_id = take_in(app, world.b.id)
    assert lead_and_events(app, world.b.id, lead_id)[0] == "unroutable"
    with app.app_context(), tenant_scope(world.b.id):
        assert dispatch.current_index().partners.keys() == {
            world.b.partner_id,
            world.b.other_partner_id,
        }


def test_the_fairness_cap_passes_over_a_partner_with_too_large_a_share(app, world):
    ids = programme(app, world.a.id)
    set_routing(app, world.a.id, fairness_cap_percent=50, fairness_min_offers=2)
    winners = []
    for n in range(4):
        lead_id = take_in(app, world.a.id, contact_email=f"c@firm{n}.example")
        winners.append(offers_of(app, world.a.id, lead_id)[0].partner_id)
    # Below two offers in its territory the cap does not apply; from then on Berlin Nord
    # holds all of them, so the next eligible partner with room takes the lead.
    assert winners[:2] == [ids["berlin"], ids["berlin"]]
    assert ids["berlin"] not in winners[2:]
    with app.app_context(), tenant_scope(world.a.id):
        later = db.session.scalars(
            sa.select(Offer).where(Offer.partner_id != ids["berlin"]).order_by(Offer.id)
        ).first()
        excluded = {e["partner_name"]: e["reasons"] for e in later.explanation["exclusions"]}
    assert "over_fairness_cap" in excluded["Berlin Nord"]


def test_a_tenant_without_partners_leaves_its_mqls_unroutable(app):
    from portal.tenancy.seeding import seed_defaults
    from tests.factories import TenantFactory

    with app.app_context():
        tenant = TenantFactory(slug="lonely")
        with tenant_scope(tenant.id):
            seed_defaults()
            settings = db.session.scalar(sa.select(QualificationSettings))
            settings.mql_threshold, settings.required_fields = 0, []
            ProductFactory(code="CB", name="Cloud Backup")
            db.session.commit()
        tenant_id = tenant.id
    lead_id = take_in(app, tenant_id)
    state, events = lead_and_events(app, tenant_id, lead_id)
    assert state == "unroutable" and events[-1].data["exclusions_total"] == 0
    assert events[-1].data["eligible"] == 0


def test_a_suspended_partner_keeps_its_offers_and_gets_no_new_ones(app, world):
    ids = programme(app, world.a.id)
    first = take_in(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Partner, ids["berlin"]).status = "suspended"
        note_config_change()
        db.session.commit()
    second = take_in(app, world.a.id, contact_email="lena@havel.example")
    [kept] = offers_of(app, world.a.id, first)
    assert (kept.partner_id, kept.state) == (ids["berlin"], "open")
    [offer] = offers_of(app, world.a.id, second)
    assert offer.partner_id == ids["germany"]
    excluded = {e["partner_name"]: e["reasons"] for e in offer.explanation["exclusions"]}
    assert excluded["Berlin Nord"] == ["inactive"]


def test_each_offer_of_a_batch_is_explained_with_the_load_its_decision_saw(app, world):
    from tests.factories import LeadFactory

    ids = programme(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        for partner_id in ids.values():
            db.session.get(Partner, partner_id).capacity = 1
        note_config_change()
        from portal.partners.models import Product

        cb = db.session.scalar(sa.select(Product.id).where(Product.code == "CB"))
        for n in range(3):
            LeadFactory(product_id=cb, country="DE", postal_code=f"1011{n}")
        db.session.commit()
        routed = dispatch.route_leads()
        assert len({r.partner_id for r in routed}) == 3
        for offer in db.session.scalars(sa.select(Offer)):
            first = offer.explanation["candidates"][0]
            assert first["partner_id"] == offer.partner_id
            capacity = next(t for t in first["terms"] if t["name"] == "capacity")
            assert capacity["facts"]["busy"] == 0
