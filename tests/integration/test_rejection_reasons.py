"""The rejection reason catalogue: listing, adding, editing, deactivating and ordering."""

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.leads import config_services
from portal.leads.models import RejectionReason
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from portal.tenancy.seeding import DEFAULT_REJECTION_REASONS, seed_defaults
from tests.conftest import csrf_token, login
from tests.factories import TenantFactory, UserFactory

INDEX = "/network/rejection-reasons/"
NEW = {"code": "bad_timing", "label": "Bad timing", "comment_required": "y"}


def _post(client, url, data=None):
    return client.post(url, data={"csrf_token": csrf_token(client, INDEX), **(data or {})})


def _reasons(app, tenant_id):
    """(code, label, comment_required, active) in catalogue order."""
    with app.app_context(), tenant_scope(tenant_id):
        return [
            (r.code, r.label, r.comment_required, r.active)
            for r in config_services.rejection_reasons()
        ]


def _codes(app, tenant_id):
    return [code for code, *_ in _reasons(app, tenant_id)]


def _reason_id(app, tenant_id, code):
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.scalar(sa.select(RejectionReason.id).where(RejectionReason.code == code))


def _audit_actions(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def _config_version(app, tenant_id):
    with app.app_context():
        return db.session.get(Tenant, tenant_id).config_version


SEEDED_CODES = [code for code, _, _ in DEFAULT_REJECTION_REASONS]


# Reading ------------------------------------------------------------------------------------


def test_staff_see_the_seeded_catalogue_in_order_without_actions(client, login_as):
    login_as("vendor_staff")
    page = client.get(INDEX).get_data(as_text=True)
    labels = [label for _, label, _ in DEFAULT_REJECTION_REASONS]
    positions = [page.index(label) for label in labels]
    assert positions == sorted(positions)
    assert "never deleted" in page
    assert "Add a reason" not in page and "Deactivate" not in page and "Move up" not in page


def test_a_manager_sees_the_form_and_the_actions(client, login_as):
    login_as("channel_manager")
    page = client.get(INDEX).get_data(as_text=True)
    assert "Add a reason" in page and "Deactivate" in page and "Move down" in page


def test_a_tenant_without_reasons_gets_a_clear_empty_state(app, client):
    with app.app_context():
        tenant = TenantFactory(slug="bare")
        with tenant_scope(tenant.id):
            seed_defaults()
            db.session.execute(sa.delete(RejectionReason))
            UserFactory(email="cm@bare.example", role="channel_manager")
            db.session.commit()
    login(client, "cm@bare.example")
    page = client.get(INDEX).get_data(as_text=True)
    assert "No rejection reasons yet." in page


def test_active_reasons_leave_out_the_inactive_ones_in_catalogue_order(app, client, world):
    with app.app_context(), tenant_scope(world.a.id):
        duplicate = db.session.scalar(
            sa.select(RejectionReason).where(RejectionReason.code == "duplicate")
        )
        duplicate.active = False
        db.session.commit()
        codes = [r.code for r in config_services.active_rejection_reasons()]
    assert codes == [c for c in SEEDED_CODES if c != "duplicate"]


# Adding -------------------------------------------------------------------------------------


def test_a_manager_adds_a_reason_at_the_end_and_it_is_audited(app, client, login_as, world):
    version = _config_version(app, world.a.id)
    login_as("channel_manager")
    response = _post(client, "/network/rejection-reasons/new", NEW)
    assert response.status_code == 302
    assert _reasons(app, world.a.id)[-1] == ("bad_timing", "Bad timing", True, True)
    assert "rejection_reason.created" in _audit_actions(app, world.a.id)
    assert _config_version(app, world.a.id) == version


def test_a_code_typed_with_spaces_becomes_a_code(app, client, login_as, world):
    login_as("channel_manager")
    _post(client, "/network/rejection-reasons/new", {**NEW, "code": " Bad Timing "})
    assert "bad_timing" in _codes(app, world.a.id)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**NEW, "code": "no_budget"}, "code", "A reason with the code &#39;no_budget&#39; exists"),
        ({**NEW, "code": "NO BUDGET"}, "code", "A reason with the code &#39;no_budget&#39; exists"),
        ({**NEW, "code": "bad/timing"}, "code", "lower-case letters, digits or"),
        ({**NEW, "code": ""}, "code", "Give the reason a code"),
        ({**NEW, "label": ""}, "label", "Enter the label partners see."),
        ({**NEW, "label": "no budget"}, "label", "A reason labelled &#39;no budget&#39; exists"),
    ],
)
def test_bad_reason_input_is_shown_at_its_field_and_nothing_is_saved(
    app, client, login_as, world, data, field, message
):
    login_as("channel_manager")
    response = _post(client, "/network/rejection-reasons/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page
    assert _codes(app, world.a.id) == SEEDED_CODES


def test_the_same_code_may_exist_in_another_tenant(app, client, login_as, world):
    login_as("channel_manager", "b")
    assert _post(client, "/network/rejection-reasons/new", NEW).status_code == 302
    assert "bad_timing" not in _codes(app, world.a.id)


# Editing ------------------------------------------------------------------------------------


def test_a_manager_edits_the_label_and_comment_rule_but_not_the_code(app, client, login_as, world):
    reason_id = _reason_id(app, world.a.id, "no_budget")
    login_as("channel_manager")
    url = f"/network/rejection-reasons/{reason_id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'value="No budget"' in page and "never changes" in page
    data = {"label": "No budget this year", "comment_required": "y", "code": "hacked"}
    response = client.post(url, data={"csrf_token": csrf_token(client, url), **data})
    assert response.status_code == 302
    assert ("no_budget", "No budget this year", True, True) in _reasons(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "rejection_reason.updated")
        )
        assert event.changes == {
            "label": ["No budget", "No budget this year"],
            "comment_required": [False, True],
        }


def test_an_edit_with_an_empty_or_taken_label_is_refused(app, client, login_as, world):
    reason_id = _reason_id(app, world.a.id, "no_budget")
    login_as("channel_manager")
    url = f"/network/rejection-reasons/{reason_id}/edit"
    for label, message in [("", "Enter the label"), ("Other", "A reason labelled &#39;Other&#39;")]:
        response = client.post(url, data={"csrf_token": csrf_token(client, url), "label": label})
        page = response.get_data(as_text=True)
        assert response.status_code == 400 and 'id="label-error"' in page and message in page
    assert ("no_budget", "No budget", False, True) in _reasons(app, world.a.id)


def test_keeping_the_same_label_is_allowed(app, client, login_as, world):
    reason_id = _reason_id(app, world.a.id, "other")
    login_as("channel_manager")
    url = f"/network/rejection-reasons/{reason_id}/edit"
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "label": "other"})
    assert response.status_code == 302
    assert ("other", "other", False, True) in _reasons(app, world.a.id)


# Deactivating -------------------------------------------------------------------------------


def test_a_reason_is_deactivated_and_reactivated_never_deleted(app, client, login_as, world):
    reason_id = _reason_id(app, world.a.id, "duplicate")
    login_as("channel_manager")
    url = f"/network/rejection-reasons/{reason_id}/active"
    assert _post(client, url, {"active": "0"}).status_code == 302
    assert ("duplicate", "Duplicate of a lead we have", False, False) in _reasons(app, world.a.id)
    assert "inactive" in client.get(INDEX).get_data(as_text=True)
    assert _post(client, url, {"active": "1"}).status_code == 302
    assert ("duplicate", "Duplicate of a lead we have", False, True) in _reasons(app, world.a.id)
    actions = _audit_actions(app, world.a.id)
    assert "rejection_reason.deactivated" in actions and "rejection_reason.activated" in actions


def test_deactivating_an_inactive_reason_says_so(app, client, login_as, world):
    reason_id = _reason_id(app, world.a.id, "duplicate")
    login_as("channel_manager")
    url = f"/network/rejection-reasons/{reason_id}/active"
    _post(client, url, {"active": "0"})
    response = client.post(
        url,
        data={"csrf_token": csrf_token(client, INDEX), "active": "0"},
        follow_redirects=True,
    )
    assert "is already inactive" in response.get_data(as_text=True)


def test_the_last_active_reason_cannot_be_deactivated(app, client, login_as, world):
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(
            sa.update(RejectionReason).where(RejectionReason.code != "other").values(active=False)
        )
        db.session.commit()
    login_as("channel_manager")
    url = f"/network/rejection-reasons/{_reason_id(app, world.a.id, 'other')}/active"
    response = client.post(
        url, data={"csrf_token": csrf_token(client, INDEX), "active": "0"}, follow_redirects=True
    )
    assert "Keep at least one reason active" in response.get_data(as_text=True)
    assert ("other", "Other", True, True) in _reasons(app, world.a.id)


def test_an_active_value_other_than_0_or_1_is_a_bad_request(app, client, login_as, world):
    login_as("channel_manager")
    url = f"/network/rejection-reasons/{_reason_id(app, world.a.id, 'other')}/active"
    assert _post(client, url, {"active": "maybe"}).status_code == 400


# Ordering -----------------------------------------------------------------------------------


def test_moving_a_reason_up_and_down_swaps_it_with_its_neighbour(app, client, login_as, world):
    reason_id = _reason_id(app, world.a.id, "no_budget")
    login_as("channel_manager")
    url = f"/network/rejection-reasons/{reason_id}/move"
    assert _post(client, url, {"direction": "up"}).status_code == 302
    assert _codes(app, world.a.id)[:2] == ["no_budget", "not_my_territory"]
    _post(client, url, {"direction": "down"})
    _post(client, url, {"direction": "down"})
    assert _codes(app, world.a.id)[:3] == ["not_my_territory", "duplicate", "no_budget"]
    assert _audit_actions(app, world.a.id).count("rejection_reason.reordered") == 3


def test_the_first_reason_cannot_move_up(app, client, login_as, world):
    reason_id = _reason_id(app, world.a.id, "not_my_territory")
    login_as("channel_manager")
    response = client.post(
        f"/network/rejection-reasons/{reason_id}/move",
        data={"csrf_token": csrf_token(client, INDEX), "direction": "up"},
        follow_redirects=True,
    )
    assert "is already first" in response.get_data(as_text=True)
    assert _codes(app, world.a.id) == SEEDED_CODES


def test_a_direction_other_than_up_or_down_is_a_bad_request(app, client, login_as, world):
    login_as("channel_manager")
    url = f"/network/rejection-reasons/{_reason_id(app, world.a.id, 'other')}/move"
    assert _post(client, url, {"direction": "sideways"}).status_code == 400


# Access -------------------------------------------------------------------------------------


def _every_change(reason_id):
    return [
        ("/network/rejection-reasons/new", NEW),
        (f"/network/rejection-reasons/{reason_id}/edit", {"label": "Changed"}),
        (f"/network/rejection-reasons/{reason_id}/active", {"active": "0"}),
        (f"/network/rejection-reasons/{reason_id}/move", {"direction": "down"}),
    ]


def test_vendor_staff_read_the_list_but_every_change_is_forbidden(app, client, login_as, world):
    reason_id = _reason_id(app, world.a.id, "no_budget")
    login_as("vendor_staff")
    assert client.get(INDEX).status_code == 200
    assert client.get(f"/network/rejection-reasons/{reason_id}/edit").status_code == 403
    for url, data in _every_change(reason_id):
        assert _post(client, url, data).status_code == 403, url
    assert _reasons(app, world.a.id)[1] == ("no_budget", "No budget", False, True)
    assert _codes(app, world.a.id) == SEEDED_CODES


def test_a_partner_user_may_neither_read_nor_change(app, client, login_as, world):
    reason_id = _reason_id(app, world.a.id, "no_budget")
    login_as("partner_user")
    assert client.get(INDEX).status_code == 403
    token = csrf_token(client, "/account/password")
    for url, data in _every_change(reason_id):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url


def test_a_reason_of_another_tenant_gets_404_everywhere(app, client, login_as, world):
    reason_id = _reason_id(app, world.b.id, "no_budget")
    login_as("channel_manager", "a")
    assert client.get(f"/network/rejection-reasons/{reason_id}/edit").status_code == 404
    for url, data in _every_change(reason_id)[1:]:
        assert _post(client, url, data).status_code == 404, url
    assert _reasons(app, world.b.id)[1] == ("no_budget", "No budget", False, True)
    assert _codes(app, world.b.id) == SEEDED_CODES
