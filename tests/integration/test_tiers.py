"""The tier pages: the list in rank order, adding, editing, reordering and deleting tiers."""

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.partners.models import Tier
from portal.routing.models import SegmentRule
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.seeding import seed_defaults
from tests.conftest import csrf_token, login, post_form
from tests.factories import PartnerFactory, TenantFactory, TierFactory, UserFactory

INDEX = "/network/tiers/"


def _make_tiers(app, tenant_id, *specs):
    """Tiers (name, rank, weight) in the tenant; returns their ids by name."""
    with app.app_context(), tenant_scope(tenant_id):
        tiers = {n: TierFactory(name=n, rank=r, routing_weight=w) for n, r, w in specs}
        db.session.commit()
        return {name: tier.id for name, tier in tiers.items()}


def _tiers(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        query = sa.select(Tier.name, Tier.rank, Tier.routing_weight).order_by(Tier.rank, Tier.name)
        return [tuple(row) for row in db.session.execute(query)]


def _config_version(app, tenant_id):
    with app.app_context():
        return db.session.get(Tenant, tenant_id).config_version


def _audit_actions(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def _post(client, url, data=None):
    return client.post(url, data={"csrf_token": csrf_token(client, INDEX), **(data or {})})


def _tier_id(app, tenant_id, name):
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.scalar(sa.select(Tier.id).where(Tier.name == name))


# Reading -----------------------------------------------------------------------------------


def test_the_list_shows_tiers_in_rank_order_with_weight_and_partner_count(
    app, client, login_as, world
):
    ids = _make_tiers(app, world.a.id, ("Silver", 3, 10), ("Platinum", 1, 30), ("Gold", 2, 20))
    with app.app_context(), tenant_scope(world.a.id):
        for _ in range(3):
            PartnerFactory(tier_id=ids["Gold"])
        db.session.commit()
    login_as("vendor_staff")
    page = client.get(INDEX).get_data(as_text=True)
    assert page.index("Platinum") < page.index("Gold") < page.index("Silver")
    assert "3 partners" in page
    assert "Add a tier" not in page and "Move up" not in page


def test_a_manager_sees_the_add_form_and_the_actions(client, login_as):
    login_as("channel_manager")
    page = client.get(INDEX).get_data(as_text=True)
    assert "Add a tier" in page and "Delete" in page


def test_a_tenant_without_tiers_gets_a_clear_empty_state(app, client):
    with app.app_context():
        tenant = TenantFactory(slug="empty")
        with tenant_scope(tenant.id):
            seed_defaults()
            user = UserFactory(email="cm@empty.example", role="channel_manager")
            db.session.commit()
            email = user.email
    login(client, email)
    response = client.get(INDEX)
    assert response.status_code == 200
    assert 'data-testid="empty-state"' in response.get_data(as_text=True)


# Adding ------------------------------------------------------------------------------------


def test_a_manager_adds_a_tier_which_is_audited_and_bumps_the_config_version(
    app, client, login_as, world
):
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    response = post_form(
        client,
        "/network/tiers/new",
        {"name": "Platinum", "rank": "1", "routing_weight": "30"},
        INDEX,
    )
    assert response.status_code == 302
    assert ("Platinum", 1, 30) in _tiers(app, world.a.id)
    assert "tier.created" in _audit_actions(app, world.a.id)
    assert _config_version(app, world.a.id) == before + 1


def test_a_tier_added_without_a_rank_goes_below_the_others(app, client, login_as, world):
    login_as("channel_manager")
    lowest = max(rank for _, rank, _ in _tiers(app, world.a.id))
    data = {"name": "Registered", "routing_weight": "0"}
    assert post_form(client, "/network/tiers/new", data, INDEX).status_code == 302
    assert ("Registered", lowest + 1, 0) in _tiers(app, world.a.id)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "rank": "1", "routing_weight": "1"}, "name", "Name the tier"),
        ({"name": "Gold", "rank": "0", "routing_weight": "1"}, "rank", "Use a rank from 1"),
        ({"name": "Gold", "rank": "x", "routing_weight": "1"}, "rank", "whole number"),
        ({"name": "Gold", "rank": "1", "routing_weight": "101"}, "routing_weight", "0 to 100"),
        ({"name": "Gold", "rank": "1", "routing_weight": "-1"}, "routing_weight", "0 to 100"),
    ],
)
def test_bad_tier_input_is_shown_next_to_the_field_and_nothing_is_saved(
    app, client, login_as, world, data, field, message
):
    before = _tiers(app, world.a.id)
    login_as("channel_manager")
    response = post_form(client, "/network/tiers/new", data, INDEX)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page
    assert _tiers(app, world.a.id) == before


def test_a_duplicate_tier_name_is_refused_whatever_its_case(app, client, login_as, world):
    _make_tiers(app, world.a.id, ("Gold", 2, 20))
    before = _tiers(app, world.a.id)
    login_as("channel_manager")
    response = post_form(
        client, "/network/tiers/new", {"name": "gold", "rank": "5", "routing_weight": "1"}, INDEX
    )
    assert response.status_code == 400
    assert "A tier named &#39;gold&#39; exists already." in response.get_data(as_text=True)
    assert _tiers(app, world.a.id) == before


def test_the_same_tier_name_may_exist_in_another_tenant(app, client, login_as, world):
    _make_tiers(app, world.b.id, ("Gold", 2, 20))
    login_as("channel_manager")
    data = {"name": "Gold", "rank": "2", "routing_weight": "20"}
    assert post_form(client, "/network/tiers/new", data, INDEX).status_code == 302


# Editing -----------------------------------------------------------------------------------


def test_a_manager_edits_a_tier_and_the_change_is_audited_with_its_diff(
    app, client, login_as, world
):
    ids = _make_tiers(app, world.a.id, ("Gold", 2, 20))
    before = _config_version(app, world.a.id)
    login_as("admin")
    url = f"/network/tiers/{ids['Gold']}/edit"
    assert client.get(url).status_code == 200
    response = post_form(client, url, {"name": "Gold+", "rank": "2", "routing_weight": "25"})
    assert response.status_code == 302
    assert ("Gold+", 2, 25) in _tiers(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "tier.updated"))
    assert event.changes == {"name": ["Gold", "Gold+"], "routing_weight": [20, 25]}
    assert _config_version(app, world.a.id) == before + 1


def test_renaming_a_tier_to_another_tiers_name_is_refused(app, client, login_as, world):
    ids = _make_tiers(app, world.a.id, ("Gold", 2, 20), ("Silver", 3, 10))
    login_as("channel_manager")
    url = f"/network/tiers/{ids['Silver']}/edit"
    response = post_form(client, url, {"name": "GOLD", "rank": "3", "routing_weight": "10"})
    assert response.status_code == 400
    assert 'id="name-error"' in response.get_data(as_text=True)
    assert ("Silver", 3, 10) in _tiers(app, world.a.id)


def test_an_empty_rank_on_edit_is_refused(app, client, login_as, world):
    ids = _make_tiers(app, world.a.id, ("Gold", 2, 20))
    login_as("channel_manager")
    url = f"/network/tiers/{ids['Gold']}/edit"
    response = post_form(client, url, {"name": "Gold", "rank": "", "routing_weight": "20"})
    assert response.status_code == 400 and 'id="rank-error"' in response.get_data(as_text=True)


# Reordering --------------------------------------------------------------------------------


def test_moving_a_tier_up_swaps_it_with_the_one_above_and_renumbers(app, client, login_as, world):
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(sa.update(Tier).values(rank=50))  # the world's tiers go to the end
        db.session.commit()
    ids = _make_tiers(app, world.a.id, ("Platinum", 1, 30), ("Gold", 4, 20), ("Silver", 7, 10))
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    assert _post(client, f"/network/tiers/{ids['Silver']}/move/up").status_code == 302
    top = _tiers(app, world.a.id)[:3]
    assert top == [("Platinum", 1, 30), ("Silver", 2, 10), ("Gold", 3, 20)]
    assert "tier.reordered" in _audit_actions(app, world.a.id)
    assert _config_version(app, world.a.id) == before + 1


def test_the_top_tier_cannot_move_up(app, client, login_as, world):
    ids = _make_tiers(app, world.a.id, ("Diamond", 0, 30))
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(sa.update(Tier).where(Tier.id == ids["Diamond"]).values(rank=0))
        db.session.commit()
    login_as("channel_manager")
    response = client.post(
        f"/network/tiers/{ids['Diamond']}/move/up",
        data={"csrf_token": csrf_token(client, INDEX)},
        follow_redirects=True,
    )
    assert "Diamond is already the top tier." in response.get_data(as_text=True)


# Deleting ----------------------------------------------------------------------------------


def test_an_unused_tier_is_deleted_audited_and_bumps_the_config_version(
    app, client, login_as, world
):
    ids = _make_tiers(app, world.a.id, ("Bronze", 9, 0))
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    assert _post(client, f"/network/tiers/{ids['Bronze']}/delete").status_code == 302
    assert _tier_id(app, world.a.id, "Bronze") is None
    assert "tier.deleted" in _audit_actions(app, world.a.id)
    assert _config_version(app, world.a.id) == before + 1


def test_a_tier_that_partners_use_is_not_deleted_and_the_reason_is_shown(
    app, client, login_as, world
):
    ids = _make_tiers(app, world.a.id, ("Gold", 2, 20))
    with app.app_context(), tenant_scope(world.a.id):
        for _ in range(7):
            PartnerFactory(tier_id=ids["Gold"])
        db.session.commit()
    login_as("channel_manager")
    response = client.post(
        f"/network/tiers/{ids['Gold']}/delete",
        data={"csrf_token": csrf_token(client, INDEX)},
        follow_redirects=True,
    )
    assert "Gold is used by 7 partners; move them to another tier first." in response.get_data(
        as_text=True
    )
    assert _tier_id(app, world.a.id, "Gold") == ids["Gold"]
    assert "tier.deleted" not in _audit_actions(app, world.a.id)


def test_a_tier_that_a_segment_rule_needs_is_not_deleted(app, client, login_as, world):
    ids = _make_tiers(app, world.a.id, ("Gold", 2, 20))
    with app.app_context(), tenant_scope(world.a.id):
        db.session.add(
            SegmentRule(
                name="Enterprise", basis="employees", min_value=1000, min_tier_id=ids["Gold"]
            )
        )
        db.session.commit()
    login_as("channel_manager")
    response = client.post(
        f"/network/tiers/{ids['Gold']}/delete",
        data={"csrf_token": csrf_token(client, INDEX)},
        follow_redirects=True,
    )
    assert "Gold is the minimum tier of 1 segment rule" in response.get_data(as_text=True)
    assert _tier_id(app, world.a.id, "Gold") == ids["Gold"]


# Access ------------------------------------------------------------------------------------


def _every_post(tier_id):
    return [
        ("/network/tiers/new", {"name": "Gold", "rank": "1", "routing_weight": "1"}),
        (f"/network/tiers/{tier_id}/edit", {"name": "X", "rank": "1", "routing_weight": "1"}),
        (f"/network/tiers/{tier_id}/move/up", {}),
        (f"/network/tiers/{tier_id}/move/down", {}),
        (f"/network/tiers/{tier_id}/delete", {}),
    ]


def test_vendor_staff_can_read_tiers_but_every_change_is_forbidden(app, client, login_as, world):
    ids = _make_tiers(app, world.a.id, ("Bronze", 9, 0))
    before = _tiers(app, world.a.id)
    login_as("vendor_staff")
    assert client.get(INDEX).status_code == 200
    assert client.get(f"/network/tiers/{ids['Bronze']}/edit").status_code == 403
    token = csrf_token(client, INDEX)
    for url, data in _every_post(ids["Bronze"]):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert _tiers(app, world.a.id) == before


def test_a_partner_user_cannot_see_or_change_tiers(app, client, login_as, world):
    ids = _make_tiers(app, world.a.id, ("Bronze", 9, 0))
    login_as("partner_user")
    assert client.get(INDEX).status_code == 403
    token = csrf_token(client, "/")
    for url, data in _every_post(ids["Bronze"]):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url


def test_a_tier_of_another_tenant_is_not_found(app, client, login_as, world):
    ids = _make_tiers(app, world.b.id, ("Bronze", 9, 0))
    before = _tiers(app, world.b.id)
    login_as("channel_manager")
    assert client.get(f"/network/tiers/{ids['Bronze']}/edit").status_code == 404
    token = csrf_token(client, INDEX)
    for url, data in _every_post(ids["Bronze"])[1:]:
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    assert _tiers(app, world.b.id) == before
