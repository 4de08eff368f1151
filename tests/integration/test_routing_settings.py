"""Routing settings: the weights of the routing score, their shares and their defaults."""

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.routing import services
from portal.routing.models import RoutingSettings
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token, post_form

PAGE = "/network/routing/"
SAVE = "/network/routing/weights"
RESET = "/network/routing/reset"
FIELDS = ("weight_territory", "weight_tier", "weight_quality", "weight_capacity", "weight_fairness")


def _weights(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        settings = db.session.scalar(sa.select(RoutingSettings))
        return tuple(getattr(settings, name) for name in FIELDS)


def _version(app, world):
    with app.app_context():
        return db.session.get(Tenant, world.a.id).config_version


def _actions(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        return list(db.session.scalars(sa.select(AuditEvent.action)))


def _form(*values):
    return dict(zip(FIELDS, (str(v) for v in values), strict=True))


def test_the_page_shows_the_default_weights_with_shares_and_explanations(client, login_as):
    login_as("channel_manager")
    page = client.get(PAGE).get_data(as_text=True)
    for label in ("Territory specificity", "Tier", "Scorecard quality", "Spare capacity"):
        assert label in page
    assert 'value="40"' in page and '<span data-testid="share">40%</span>' in page
    assert "a postal-code prefix match beats a subdivision" in page
    assert "least recently offered first" in page.lower()
    assert "Reset to defaults" in page and "data-confirm=" in page


def test_a_manager_saves_weights_which_is_audited_and_bumps_the_config_version(
    app, client, login_as, world
):
    login_as("channel_manager")
    before = _version(app, world)
    response = post_form(client, SAVE, _form(30, 30, 30, 10, 0), page=PAGE)
    assert response.status_code == 302
    assert _weights(app, world.a.id) == (30, 30, 30, 10, 0)
    page = client.get(PAGE).get_data(as_text=True)
    assert '<span data-testid="share">30%</span>' in page
    assert "routing_settings.updated" in _actions(app, world)
    assert _version(app, world) == before + 1


def test_shares_that_do_not_divide_evenly_show_one_decimal(app, client, login_as, world):
    login_as("channel_manager")
    post_form(client, SAVE, _form(1, 1, 1, 0, 0), page=PAGE)
    assert '<span data-testid="share">33.3%</span>' in client.get(PAGE).get_data(as_text=True)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ((101, 20, 20, 10, 10), "weight_territory"),
        ((40, -1, 20, 10, 10), "weight_tier"),
        ((40, 20, "lots", 10, 10), "weight_quality"),
        ((40, 20, 20, "2.5", 10), "weight_capacity"),
        ((40, 20, 20, 10, ""), "weight_fairness"),
    ],
)
def test_a_weight_outside_0_to_100_or_not_a_number_is_refused_next_to_its_field(
    app, client, login_as, world, values, field
):
    login_as("channel_manager")
    before = _version(app, world)
    response = post_form(client, SAVE, _form(*values), page=PAGE)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and "Give a whole number from 0 to 100." in page
    assert _weights(app, world.a.id) == (40, 20, 20, 10, 10)
    assert _version(app, world) == before


def test_all_problems_show_at_once(client, login_as):
    login_as("channel_manager")
    page = post_form(client, SAVE, _form(101, -1, "x", 10, 10), page=PAGE).get_data(as_text=True)
    assert all(f'id="{name}-error"' in page for name in FIELDS[:3])


def test_all_weights_zero_is_refused_with_a_reason(app, client, login_as, world):
    login_as("channel_manager")
    response = post_form(client, SAVE, _form(0, 0, 0, 0, 0), page=PAGE)
    assert response.status_code == 400
    assert (
        "At least one weight must be above zero, or no partner could be preferred over another."
        in response.get_data(as_text=True)
    )
    assert _weights(app, world.a.id) == (40, 20, 20, 10, 10)


def test_reset_puts_the_defaults_back(app, client, login_as, world):
    login_as("channel_manager")
    post_form(client, SAVE, _form(0, 0, 0, 0, 100), page=PAGE)
    before = _version(app, world)
    response = post_form(client, RESET, {}, page=PAGE)
    assert response.status_code == 302
    assert _weights(app, world.a.id) == (40, 20, 20, 10, 10)
    assert "routing_settings.reset" in _actions(app, world)
    assert _version(app, world) == before + 1


def test_saving_unchanged_weights_changes_nothing(app, client, login_as, world):
    login_as("channel_manager")
    before = _version(app, world)
    assert post_form(client, SAVE, _form(40, 20, 20, 10, 10), page=PAGE).status_code == 302
    assert _version(app, world) == before
    assert "routing_settings.updated" not in _actions(app, world)


def test_the_settings_page_does_not_take_posts_itself(client, login_as):
    login_as("channel_manager")
    token = csrf_token(client, PAGE)
    assert client.post(PAGE, data={"csrf_token": token, **_form(1, 1, 1, 1, 1)}).status_code == 405


def test_vendor_staff_reads_the_weights_but_cannot_change_them(app, client, login_as, world):
    login_as("vendor_staff")
    page = client.get(PAGE)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "40%" in text and "<input" not in text.split('data-testid="weights-table"')[1]
    assert "Reset to defaults" not in text
    token = csrf_token(client, "/")
    assert client.post(SAVE, data={"csrf_token": token, **_form(0, 0, 0, 0, 1)}).status_code == 403
    assert client.post(RESET, data={"csrf_token": token}).status_code == 403
    assert _weights(app, world.a.id) == (40, 20, 20, 10, 10)


def test_a_partner_user_cannot_see_or_change_routing_settings(client, login_as):
    login_as("partner_user")
    assert client.get(PAGE).status_code == 403
    token = csrf_token(client, "/")
    assert client.post(SAVE, data={"csrf_token": token, **_form(1, 1, 1, 1, 1)}).status_code == 403


def test_one_tenant_s_weights_leave_the_other_s_alone(app, client, login_as, world):
    login_as("channel_manager", "b")
    post_form(client, SAVE, _form(0, 0, 0, 0, 100), page=PAGE)
    assert _weights(app, world.b.id) == (0, 0, 0, 0, 100)
    assert _weights(app, world.a.id) == (40, 20, 20, 10, 10)


def test_the_service_creates_missing_settings_with_the_defaults(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(sa.delete(RoutingSettings))
        settings = services.routing_settings()
        assert settings.id is not None
        assert (settings.weight_territory, settings.weight_fairness) == (40, 10)
        assert [row.share_text for row in services.weight_rows()] == [
            "40%", "20%", "20%", "10%", "10%",
        ]  # fmt: skip


# Fallback and fairness cap ------------------------------------------------------------------

FALLBACK = "/network/routing/fallback"
FAIRNESS = "/network/routing/fairness"


def _settings(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        settings = db.session.scalar(sa.select(RoutingSettings))
        return (
            settings.fallback_kind,
            settings.fallback_partner_id,
            settings.fairness_cap_percent,
            settings.fairness_window_days,
            settings.fairness_min_offers,
        )


def test_the_page_says_where_unroutable_leads_go_and_that_there_is_no_cap(client, login_as):
    login_as("vendor_staff")
    page = client.get(PAGE).get_data(as_text=True)
    assert "Now: Nobody: the lead waits in the unroutable queue" in page
    assert "Now: No cap" in page
    assert 'data-testid="fallback-form"' not in page  # staff read, managers change


def test_a_manager_names_a_default_partner_which_is_audited(app, client, login_as, world):
    login_as("channel_manager")
    before = _version(app, world)
    response = post_form(
        client,
        FALLBACK,
        {"fallback_kind": "partner", "fallback_partner_id": str(world.a.partner_id)},
        page=PAGE,
    )
    assert response.status_code == 302
    assert _settings(app, world.a.id)[:2] == ("partner", world.a.partner_id)
    assert _version(app, world) == before + 1
    assert "routing_settings.fallback" in _actions(app, world)
    page = client.get(PAGE).get_data(as_text=True)
    assert "Now: The default partner, Partner" in page
    post_form(client, FALLBACK, {"fallback_kind": "direct_sales"}, page=PAGE)
    assert _settings(app, world.a.id)[:2] == ("direct_sales", None)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"fallback_kind": "partner"}, "fallback_partner_id", "Choose the default partner"),
        ({"fallback_kind": "partner", "fallback_partner_id": "99999"}, "fallback_partner_id", ""),
        ({"fallback_kind": "elsewhere"}, "fallback_kind", ""),
    ],
)
def test_a_bad_fallback_is_shown_at_its_field_and_nothing_changes(
    app, client, login_as, world, form, field, message
):
    login_as("channel_manager")
    response = post_form(client, FALLBACK, form, page=PAGE)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and f'id="{field}-error"' in page and message in page
    assert _settings(app, world.a.id)[:2] == ("none", None)


def test_another_tenants_partner_cannot_be_the_default(app, client, login_as, world):
    login_as("channel_manager")
    response = post_form(
        client,
        FALLBACK,
        {"fallback_kind": "partner", "fallback_partner_id": str(world.b.partner_id)},
        page=PAGE,
    )
    assert response.status_code == 400
    assert _settings(app, world.a.id)[:2] == ("none", None)


def test_a_paused_partner_cannot_be_the_default(app, client, login_as, world):
    from portal.partners.models import Partner

    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Partner, world.a.partner_id).status = "paused"
        db.session.commit()
    login_as("channel_manager")
    response = post_form(
        client,
        FALLBACK,
        {"fallback_kind": "partner", "fallback_partner_id": str(world.a.partner_id)},
        page=PAGE,
    )
    assert response.status_code == 400 and "must be active" in response.get_data(as_text=True)


def test_a_manager_sets_and_clears_the_fairness_cap(app, client, login_as, world):
    login_as("channel_manager")
    form = {"fairness_cap_percent": "40", "fairness_window_days": "14", "fairness_min_offers": "5"}
    assert post_form(client, FAIRNESS, form, page=PAGE).status_code == 302
    assert _settings(app, world.a.id)[2:] == (40, 14, 5)
    assert "routing_settings.fairness" in _actions(app, world)
    page = client.get(PAGE).get_data(as_text=True)
    assert "more than 40% of a territory&#39;s offers over the last 14 days" in page
    form["fairness_cap_percent"] = ""
    post_form(client, FAIRNESS, form, page=PAGE)
    assert _settings(app, world.a.id)[2:] == (None, 14, 5)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fairness_cap_percent", "0"),
        ("fairness_cap_percent", "150"),
        ("fairness_cap_percent", "half"),
        ("fairness_window_days", "0"),
        ("fairness_window_days", ""),
        ("fairness_min_offers", "-1"),
    ],
)
def test_a_bad_fairness_value_is_shown_at_its_field(app, client, login_as, world, field, value):
    login_as("channel_manager")
    form = {"fairness_cap_percent": "40", "fairness_window_days": "30", "fairness_min_offers": "10"}
    form[field] = value
    response = post_form(client, FAIRNESS, form, page=PAGE)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and f'id="{field}-error"' in page
    assert _settings(app, world.a.id)[2:] == (None, 30, 10)


def test_lower_roles_cannot_change_fallback_or_fairness(app, client, login_as, world):
    login_as("vendor_staff")
    token = csrf_token(client, PAGE)
    for url in (FALLBACK, FAIRNESS):
        response = client.post(url, data={"csrf_token": token, "fallback_kind": "direct_sales"})
        assert response.status_code == 403
    assert _settings(app, world.a.id) == ("none", None, None, 30, 10)
