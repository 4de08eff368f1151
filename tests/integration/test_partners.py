"""Partner pages: the list, the profile, status, coverage and the partner's users."""

import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.partners.models import Partner, PartnerProduct, PartnerTerritory
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token, login, post_form
from tests.factories import PartnerFactory, ProductFactory, TierFactory


def _in(app, world, fn):
    with app.app_context(), tenant_scope(world.a.id):
        result = fn()
        db.session.commit()
        return result


def _version(app, world):
    with app.app_context():
        return db.session.get(Tenant, world.a.id).config_version


def _actions(app, world):
    return _in(app, world, lambda: list(db.session.scalars(sa.select(AuditEvent.action))))


def _profile(app, world, **overrides):
    tier_id = _in(app, world, lambda: TierFactory().id)
    data = {
        "name": "Nordlicht IT GmbH", "tier_id": tier_id, "capacity": "30", "country": "DE",
        "timezone": "Europe/Berlin", "sla_policy_id": "", "contact_name": "Jana Nord",
        "contact_email": "jana@nordlicht.example", "contact_phone": "+49 40 1234",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_a_manager_adds_a_partner_which_is_audited_and_bumps_the_config_version(
    app, client, login_as, world
):
    login_as("channel_manager")
    before = _version(app, world)
    response = post_form(client, "/partners/new", _profile(app, world))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nordlicht IT GmbH" in page and "Jana Nord" in page
    assert "partner.created" in _actions(app, world)
    assert _version(app, world) == before + 1


def test_bad_partner_input_is_shown_next_to_each_field_and_nothing_is_saved(
    app, client, login_as, world
):
    login_as("channel_manager")
    data = _profile(app, world, capacity="-3", contact_email="not-an-email", name="")
    response = post_form(client, "/partners/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="name-error"' in page and 'id="contact_email-error"' in page
    response = post_form(client, "/partners/new", _profile(app, world, capacity="-3"))
    assert "Capacity cannot be negative." in response.get_data(as_text=True)
    assert _in(app, world, lambda: db.session.scalar(sa.select(sa.func.count(Partner.id)))) == 2


def test_an_unknown_country_or_time_zone_is_a_field_error(client, login_as, app, world):
    login_as("channel_manager")
    response = post_form(
        client, "/partners/new", _profile(app, world, country="XX", timezone="Mars/Base")
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="country-error"' in page and 'id="timezone-error"' in page


def test_a_duplicate_partner_name_is_refused_whatever_its_case(client, login_as, app, world):
    login_as("channel_manager")
    assert post_form(client, "/partners/new", _profile(app, world)).status_code == 302
    again = post_form(client, "/partners/new", _profile(app, world, name="NORDLICHT it gmbh"))
    assert again.status_code == 400 and "exists already" in again.get_data(as_text=True)


def test_editing_a_partner_records_what_changed(app, client, login_as, world):
    login_as("channel_manager")
    partner_id = world.a.partner_id
    data = _profile(app, world, name="Renamed Partner", capacity="12")
    assert post_form(client, f"/partners/{partner_id}/edit", data).status_code == 302
    event = _in(
        app,
        world,
        lambda: db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "partner.updated")
        ),
    )
    assert event.changes["capacity"][1] == 12 and event.changes["name"][1] == "Renamed Partner"


def test_the_list_searches_and_filters_by_tier_status_and_country(app, client, login_as, world):
    def make():
        gold, silver = TierFactory(name="Gold"), TierFactory(name="Silver")
        PartnerFactory(
            name="Alpenblick AG", tier_id=gold.id, country="AT", timezone="Europe/Vienna"
        )
        PartnerFactory(name="Brightside Ltd", tier_id=silver.id, country="GB", status="paused")
        return gold.id

    gold_id = _in(app, world, make)
    login_as("vendor_staff")
    assert "Alpenblick" in client.get("/partners/?q=alpen").get_data(as_text=True)
    assert "Brightside" not in client.get("/partners/?q=alpen").get_data(as_text=True)
    assert "Alpenblick" in client.get(f"/partners/?tier={gold_id}").get_data(as_text=True)
    paused = client.get("/partners/?status=paused").get_data(as_text=True)
    assert "Brightside" in paused and "Alpenblick" not in paused
    assert "Alpenblick" in client.get("/partners/?country=AT").get_data(as_text=True)
    assert "No partner matches" in client.get("/partners/?q=zzz").get_data(as_text=True)


def test_the_list_is_paginated(app, client, login_as, world):
    _in(app, world, lambda: [PartnerFactory(name=f"Bulk {n:02d}") for n in range(30)])
    login_as("vendor_staff")
    first = client.get("/partners/").get_data(as_text=True)
    assert "page 1 of 2" in first
    assert "page 2 of 2" in client.get("/partners/?page=2").get_data(as_text=True)


def test_pause_suspend_and_reactivate_need_a_reason_and_follow_the_rules(
    app, client, login_as, world
):
    login_as("channel_manager")
    url = f"/partners/{world.a.partner_id}/status"
    page = f"/partners/{world.a.partner_id}"
    no_reason = post_form(client, url, {"status": "paused", "reason": ""}, page=page)
    assert no_reason.status_code == 400 and "Say why" in no_reason.get_data(as_text=True)
    assert (
        post_form(
            client, url, {"status": "paused", "reason": "Holiday closure"}, page=page
        ).status_code
        == 302
    )
    assert (
        post_form(
            client, url, {"status": "suspended", "reason": "Contract review"}, page=page
        ).status_code
        == 302
    )
    refused = post_form(client, url, {"status": "paused", "reason": "x"}, page=page)
    assert "cannot be paused" in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert post_form(client, url, {"status": "active", "reason": ""}, page=page).status_code == 302
    actions = _actions(app, world)
    assert {"partner.paused", "partner.suspended", "partner.reactivated"} <= set(actions)


def test_a_manager_gives_a_partner_a_territory_and_a_product_and_takes_them_back(
    app, client, login_as, world
):
    def make():
        from portal.partners.models import Territory

        territory = Territory(
            code="DE-PC-80", name="Munich", kind="postal", country="DE", postal_prefix="80"
        )
        db.session.add(territory)
        db.session.flush()
        return territory.id, ProductFactory(name="Cloud Backup", code="CB").id

    territory_id, product_id = _in(app, world, make)
    login_as("channel_manager")
    base = f"/partners/{world.a.partner_id}"
    before = _version(app, world)
    assert (
        post_form(
            client, f"{base}/territories", {"territory_id": territory_id}, page=base
        ).status_code
        == 302
    )
    again = post_form(client, f"{base}/territories", {"territory_id": territory_id}, page=base)
    assert again.status_code == 400 and "covers DE-PC-80 already" in again.get_data(as_text=True)
    data = {"product_id": product_id, "certification": "2"}
    assert post_form(client, f"{base}/products", data, page=base).status_code == 302
    page = client.get(base).get_data(as_text=True)
    assert "DE-PC-80" in page and "Cloud Backup" in page and "Advanced" in page
    assert _version(app, world) == before + 2

    def coverage_ids():
        t = db.session.scalar(sa.select(PartnerTerritory.id))
        p = db.session.scalar(sa.select(PartnerProduct.id))
        return t, p

    t_id, p_id = _in(app, world, coverage_ids)
    token = csrf_token(client, base)
    client.post(f"{base}/territories/{t_id}/delete", data={"csrf_token": token})
    client.post(f"{base}/products/{p_id}/delete", data={"csrf_token": token})
    assert _in(app, world, coverage_ids) == (None, None)


def test_a_territory_or_product_of_another_tenant_cannot_be_given(app, client, login_as, world):
    with app.app_context(), tenant_scope(world.b.id):
        foreign_product = ProductFactory().id
        db.session.commit()
    login_as("channel_manager")
    base = f"/partners/{world.a.partner_id}"
    response = post_form(
        client, f"{base}/products", {"product_id": foreign_product, "certification": "1"}, page=base
    )
    assert response.status_code == 400 and "Choose a product." in response.get_data(as_text=True)


def test_a_partner_user_is_created_from_the_partners_page_and_signs_in(
    app, client, login_as, world
):
    login_as("channel_manager")
    url = f"/partners/{world.a.partner_id}/users/new"
    data = {"name": "Lea Berg", "email": "lea@partner.example", "password": "winter-garden-42"}
    assert post_form(client, url, data).status_code == 302
    assert "lea@partner.example" in client.get(f"/partners/{world.a.partner_id}").get_data(
        as_text=True
    )
    fresh = app.test_client()
    assert login(fresh, "lea@partner.example", "winter-garden-42").status_code == 302
    assert (
        fresh.get("/partners/mine").headers["Location"].endswith(f"/partners/{world.a.partner_id}")
    )


def test_a_partner_user_sees_their_own_partner_read_only_and_no_other(client, login_as, world):
    login_as("partner_user")
    own = client.get(f"/partners/{world.a.partner_id}")
    assert own.status_code == 200 and "Edit profile" not in own.get_data(as_text=True)
    assert client.get(f"/partners/{world.a.other_partner_id}").status_code == 404
    assert client.get(f"/partners/{world.b.partner_id}").status_code == 404
    assert client.get(f"/partners/{world.a.partner_id}/edit").status_code == 403


def test_vendor_staff_read_partners_but_cannot_change_them(client, login_as, world):
    login_as("vendor_staff")
    base = f"/partners/{world.a.partner_id}"
    page = client.get(base).get_data(as_text=True)
    assert "Edit profile" not in page
    token = csrf_token(client, base)
    for path in ("/status", "/territories", "/products", "/users/new", "/edit"):
        assert client.post(base + path, data={"csrf_token": token}).status_code == 403


def test_another_tenants_partner_is_not_found(client, login_as, world):
    login_as("channel_manager")
    assert client.get(f"/partners/{world.b.partner_id}").status_code == 404
    assert client.get(f"/partners/{world.b.partner_id}/edit").status_code == 404
    token = csrf_token(client, "/partners/")
    response = client.post(
        f"/partners/{world.b.partner_id}/status", data={"csrf_token": token, "status": "paused"}
    )
    assert response.status_code == 404
