"""What-if routing simulations: a drafted change run over leads routed live, compared with
what actually happened, writing nothing but the simulation's own record."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.db import utcnow
from portal.extensions import db
from portal.leads.models import Lead, LeadEvent, Offer
from portal.partners.models import Partner, PartnerProduct, PartnerTerritory, Product, Territory
from portal.routing import simulation
from portal.routing.models import RoutingSettings, RoutingSimulation, SegmentRule
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token, post_form
from tests.integration.test_live_routing import programme, set_routing, take_in

LIST = "/network/routing/simulations/"
NEW = "/network/routing/simulations/new"


def form(**overrides: object) -> dict[str, object]:
    today = utcnow().date()
    data: dict[str, object] = {
        "period_start": (today - timedelta(days=1)).isoformat(),
        "period_end": today.isoformat(),
        "weight_territory": "40",
        "weight_tier": "20",
        "weight_quality": "20",
        "weight_capacity": "10",
        "weight_fairness": "10",
    }
    data.update(overrides)
    return data


def history(app, tenant_id: int) -> dict[str, int]:
    """Four Berlin leads, one in Munich, one for a product nobody sells: routed live."""
    ids = programme(app, tenant_id)
    for n in range(4):
        take_in(app, tenant_id, contact_email=f"p@berlin{n}.example", external_id=f"b{n}")
    take_in(app, tenant_id, postal_code="80331", contact_email="m@munich.example")
    take_in(app, tenant_id, product="DR", contact_email="d@dr.example")
    return ids


def offers_by_partner(app, tenant_id: int) -> dict[int, int]:
    with app.app_context(), tenant_scope(tenant_id):
        rows = db.session.execute(
            sa.select(Offer.partner_id, sa.func.count()).group_by(Offer.partner_id)
        )
        return dict(rows.all())


def ids_of(app, tenant_id: int, model, code: str) -> int:
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.scalar(sa.select(model.id).where(model.code == code))


def sign_out(client) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def run(client, data: dict[str, object]):
    return post_form(client, NEW, data)


def latest(app, tenant_id: int) -> RoutingSimulation:
    with app.app_context(), tenant_scope(tenant_id):
        record = db.session.scalar(sa.select(RoutingSimulation).order_by(RoutingSimulation.id))
        db.session.expunge(record)
        return record


def cells(page: str, testid: str) -> tuple[int, int, int]:
    row = re.search(rf'data-testid="{testid}">(.*?)</tr>', page, re.S).group(1)
    values = [
        int(re.search(rf'data-testid="{name}">([-+\d]+)<', row).group(1))
        for name in ("actual", "current", "draft")
    ]
    return tuple(values)


# Results ------------------------------------------------------------------------------------


def test_with_no_change_the_simulation_matches_what_happened(app, client, login_as, world):
    ids = history(app, world.a.id)
    login_as("channel_manager")
    response = run(client, form(name="Nothing changed"))
    assert response.status_code == 302, response.get_data(as_text=True)
    record = latest(app, world.a.id)
    assert record.lead_count == 6 and record.name == "Nothing changed"
    actual = offers_by_partner(app, world.a.id)
    by_partner = {row["id"]: row for row in record.results["partners"]}
    for pid in ids.values():
        row = by_partner.get(pid, {"actual": 0, "current": 0, "draft": 0})
        assert row["actual"] == row["current"] == row["draft"] == actual.get(pid, 0)
    assert record.results["outcomes"]["unroutable"] == {"actual": 1, "current": 1, "draft": 1}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing changed: the current configuration." in page
    assert cells(page, "outcome-unroutable") == (1, 1, 1)


def test_pausing_a_partner_and_adding_a_product_shows_where_leads_would_go(
    app, client, login_as, world
):
    ids = history(app, world.a.id)
    dr = ids_of(app, world.a.id, Product, "DR")
    login_as("channel_manager")
    data = form(
        **{
            "changes-0-partner_id": str(ids["berlin"]),
            "changes-0-status": "paused",
            "changes-1-partner_id": str(ids["germany"]),
            "changes-1-product_add": str(dr),
            "changes-1-product_certification": "2",
        }
    )
    response = run(client, data)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    actual_berlin = offers_by_partner(app, world.a.id)[ids["berlin"]]
    assert actual_berlin > 0
    assert cells(page, f"partner-{ids['berlin']}") == (actual_berlin, actual_berlin, 0)
    assert cells(page, "outcome-unroutable") == (1, 1, 0)
    germany = cells(page, f"partner-{ids['germany']}")
    europa = cells(page, f"partner-{ids['europa']}")
    # Every lead Berlin Nord had goes to the other two, and the DR lead to Germany Direct.
    assert germany[2] + europa[2] == 6
    assert "Berlin Nord: status active → paused." in page
    assert "Germany Direct: sells Disaster Recovery (Advanced)." in page


def test_weights_fallback_and_a_segment_rule_are_drafted_and_described(
    app, client, login_as, world
):
    history(app, world.a.id)
    login_as("channel_manager")
    data = form(
        weight_fairness="0",
        fallback_kind="direct_sales",
        **{
            "segment-action": "set",
            "segment-name": "Everyone",
            "segment-basis": "employees",
            "segment-min_value": "0",
            "segment-min_certification": "3",
        },
    )
    response = run(client, data)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Routing weights: fairness 10 → 0." in page
    assert "leads nobody can take go to direct sales" in page
    assert "Segment rule &#39;Everyone&#39; added" in page
    # Intake leaves employees unknown, so the rule matches none of them; the DR lead goes to
    # direct sales instead of the queue.
    assert cells(page, "outcome-direct_sales") == (0, 0, 1)
    assert cells(page, "outcome-unroutable") == (1, 1, 0)


def test_offers_to_the_fallback_partner_are_told_apart(app, client, login_as, world):
    ids = programme(app, world.a.id)
    set_routing(app, world.a.id, fallback_kind="partner", fallback_partner_id=ids["europa"])
    take_in(app, world.a.id, product="DR")
    take_in(app, world.a.id, contact_email="b@spree.example")
    login_as("channel_manager")
    response = run(client, form(fallback_kind="none"))
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert cells(page, "outcome-fallback") == (1, 1, 0)
    assert cells(page, "outcome-unroutable") == (0, 0, 1)
    assert cells(page, f"partner-{ids['europa']}") == (1, 1, 0)
    assert "leads nobody can take wait in the unroutable queue (now leads nobody" in page


def test_leads_routed_outside_the_period_are_left_out(app, client, login_as, world):
    history(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(sa.update(LeadEvent).values(at=utcnow() - timedelta(days=40)))
        db.session.commit()
    login_as("channel_manager")
    response = run(client, form())
    assert response.status_code == 302
    assert latest(app, world.a.id).lead_count == 0
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "No partner was offered a lead" in page


# Nothing else is written --------------------------------------------------------------------

WATCHED = (Lead, Offer, LeadEvent, Partner, PartnerTerritory, PartnerProduct, Territory)


def rows(query: sa.Select) -> list[tuple]:
    return sorted(tuple(row) for row in db.session.execute(query))


def snapshot(app, tenant_id: int) -> dict[str, object]:
    """Row counts of every table a run could touch, and the states that routing reads."""
    with app.app_context(), tenant_scope(tenant_id):
        return {
            "counts": {
                m.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
                for m in (*WATCHED, RoutingSettings, SegmentRule, AuditEvent)
            },
            "leads": rows(sa.select(Lead.id, Lead.state, Lead.updated_at)),
            "offers": rows(sa.select(Offer.id, Offer.state, Offer.partner_id, Offer.due_at)),
            "partners": rows(sa.select(Partner.id, Partner.status, Partner.capacity)),
            "version": db.session.get(Tenant, tenant_id).config_version,
        }


def test_a_run_writes_nothing_but_its_own_record(app, client, login_as, world):
    ids = history(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        # Without a settings row, reading the weights must not create one.
        db.session.execute(sa.delete(RoutingSettings))
        db.session.commit()
    login_as("channel_manager")  # signing in is audited: take the snapshot after it
    before = snapshot(app, world.a.id)
    territory = ids_of(app, world.a.id, Territory, "DE")
    data = form(
        **{
            "changes-0-partner_id": str(ids["europa"]),
            "changes-0-capacity": "0",
            "changes-0-territory_add": str(territory),
            "segment-action": "set",
            "segment-name": "Big",
            "segment-basis": "employees",
            "segment-min_value": "1000",
            "segment-min_certification": "1",
        }
    )
    assert client.get(NEW).status_code == 200
    assert run(client, data).status_code == 302
    assert snapshot(app, world.a.id) == before
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RoutingSimulation)) == 1


# Validation ---------------------------------------------------------------------------------


def error_of(page: str, field_id: str) -> str:
    found = re.search(rf'id="{re.escape(field_id)}-error">([^<]*)<', page)
    assert found, f"no error shown at {field_id}"
    return found.group(1)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"period_end": "2999-01-01"}, "period_end", "cannot end in the future"),
        ({"period_start": "yesterday"}, "period_start", "Give a date"),
        (
            {"period_start": "2026-01-02", "period_end": "2026-01-01"},
            "period_start",
            "on or before",
        ),
        ({"period_start": "2020-01-01", "period_end": "2021-06-01"}, "period_start", "366 days"),
        ({"weight_tier": "101"}, "weight_tier", "0 to 100"),
        ({"note": "x" * 2001}, "note", "2,000 characters"),
        ({"name": "x" * 121}, "name", "120 characters"),
        (
            dict.fromkeys(
                (
                    "weight_territory",
                    "weight_tier",
                    "weight_quality",
                    "weight_capacity",
                    "weight_fairness",
                ),
                "0",
            ),
            "weight_territory",
            "At least one weight",
        ),
        ({"fallback_kind": "partner"}, "fallback_partner_id", "Choose the partner"),
        (
            {"changes-0-partner_id": "999999", "changes-0-capacity": "3"},
            "changes-0-partner_id",
            "partners.",
        ),
        ({"changes-0-capacity": "3"}, "changes-0-partner_id", "Choose the partner"),
        (
            {"changes-0-partner_id": "{berlin}", "changes-0-capacity": "-1"},
            "changes-0-capacity",
            "0 to 10,000",
        ),
        (
            {"changes-0-partner_id": "{berlin}", "changes-0-capacity": "10001"},
            "changes-0-capacity",
            "0 to 10,000",
        ),
        ({"changes-0-partner_id": "{berlin}"}, "changes-0-capacity", "Say what would change"),
        (
            {"changes-0-partner_id": "{berlin}", "changes-0-territory_add": "999999"},
            "changes-0-territory_add",
            "territories",
        ),
        (
            {"changes-0-partner_id": "{berlin}", "changes-0-product_remove": "x"},
            "changes-0-product_remove",
            "products",
        ),
        (
            {"changes-0-partner_id": "{berlin}", "changes-0-status": "gone"},
            "changes-0-status",
            "active, paused",
        ),
        ({"segment-action": "remove", "segment-name": "Nope"}, "segment-name", "No segment rule"),
        (
            {
                "segment-action": "set",
                "segment-name": "X",
                "segment-basis": "employees",
                "segment-min_value": "10",
                "segment-max_value": "5",
                "segment-min_certification": "1",
            },
            "segment-max_value",
            "above the lower",
        ),
        (
            {
                "segment-action": "set",
                "segment-name": "X",
                "segment-basis": "employees",
                "segment-min_value": "10",
            },
            "segment-min_tier_id",
            "Choose a minimum tier",
        ),
    ],
)
def test_a_bad_draft_is_refused_with_the_error_at_its_field(
    app, client, login_as, world, changes, field, words
):
    ids = programme(app, world.a.id)
    login_as("channel_manager")
    data = {k: str(v).format(**ids) for k, v in changes.items()}
    response = run(client, form(**data))
    assert response.status_code == 400
    assert words in error_of(response.get_data(as_text=True), field)
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RoutingSimulation)) == 0


def test_a_period_with_too_many_leads_asks_for_a_shorter_one(
    app, client, login_as, world, monkeypatch
):
    history(app, world.a.id)
    monkeypatch.setattr(simulation, "MAX_LEADS", 5)
    login_as("channel_manager")
    response = run(client, form())
    assert response.status_code == 400
    assert "choose a shorter period" in error_of(response.get_data(as_text=True), "period_start")


def test_a_partner_or_territory_of_another_tenant_is_unknown(app, client, login_as, world):
    programme(app, world.a.id)
    other = programme(app, world.b.id)
    login_as("channel_manager")
    data = form(**{"changes-0-partner_id": str(other["berlin"]), "changes-0-capacity": "1"})
    response = run(client, data)
    assert response.status_code == 400
    assert "partners" in error_of(response.get_data(as_text=True), "changes-0-partner_id")


# Pages and access ---------------------------------------------------------------------------


def test_the_form_starts_with_the_last_30_days_and_the_current_weights(client, login_as):
    login_as("channel_manager")
    page = client.get(NEW).get_data(as_text=True)
    today = utcnow().date()
    assert f'value="{(today - timedelta(days=29)).isoformat()}"' in page
    assert f'value="{today.isoformat()}"' in page
    assert re.search(r'<input[^>]*name="weight_territory"[^>]*value="40"', page)


def test_the_list_is_empty_at_first_then_links_each_run(app, client, login_as, world):
    history(app, world.a.id)
    login_as("channel_manager")
    page = client.get(LIST).get_data(as_text=True)
    assert 'data-testid="empty-state"' in page
    assert "simulations-link" in client.get("/network/routing/").get_data(as_text=True)
    run(client, form(name="Try one"))
    page = client.get(LIST).get_data(as_text=True)
    record = latest(app, world.a.id)
    assert "Try one" in page and f"/network/routing/simulations/{record.id}" in page


def test_another_tenants_simulation_is_not_found(app, client, login_as, world):
    history(app, world.a.id)
    login_as("channel_manager")
    run(client, form(name="Secret"))
    record = latest(app, world.a.id)
    sign_out(client)
    login_as("channel_manager", "b")
    assert client.get(f"/network/routing/simulations/{record.id}").status_code == 404
    assert "Secret" not in client.get(LIST).get_data(as_text=True)


def test_vendor_staff_may_view_simulations_but_not_run_one(app, client, login_as, world):
    history(app, world.a.id)
    login_as("channel_manager")
    run(client, form())
    record = latest(app, world.a.id)
    sign_out(client)
    login_as("vendor_staff")
    assert client.get(LIST).status_code == 200
    assert client.get(f"/network/routing/simulations/{record.id}").status_code == 200
    assert "Run a simulation" not in client.get(LIST).get_data(as_text=True)
    assert client.get(NEW).status_code == 403
    assert post_form(client, NEW, form(), page="/").status_code == 403


@pytest.mark.parametrize("path", [LIST, NEW, f"{LIST}1"])
def test_a_partner_user_may_not_see_simulations(client, login_as, path):
    login_as("partner_user")
    assert client.get(path).status_code == 403
