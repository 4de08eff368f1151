"""The SLA policy pages: policies in plain words, adding, editing, the default, deleting."""

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.partners.models import Partner, SlaPolicy
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token, post_form
from tests.factories import PartnerFactory

INDEX = "/network/sla-policies/"
NEW = "/network/sla-policies/new"
GOLD = {
    "name": "Gold: 8 business hours",
    "response_hours": "8",
    "clock": "business",
    "work_days": ["0", "1", "2", "3", "4"],
    "work_start": "08:00",
    "work_end": "18:00",
    "holiday_country": "DE",
    "reminder_points": "50, 90",
}


def _policies(app, tenant_id):
    """{name: (hours, clock, is_default)} of the tenant's policies."""
    with app.app_context(), tenant_scope(tenant_id):
        rows = db.session.execute(
            sa.select(
                SlaPolicy.name, SlaPolicy.response_hours, SlaPolicy.clock, SlaPolicy.is_default
            )
        )
        return {name: (hours, clock, default) for name, hours, clock, default in rows}


def _policy(app, tenant_id, name):
    with app.app_context(), tenant_scope(tenant_id):
        policy = db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.name == name))
        db.session.expunge_all()
        return policy


def _default_id(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.scalar(sa.select(SlaPolicy.id).where(SlaPolicy.is_default))


def _add_policy(app, tenant_id, **values):
    with app.app_context(), tenant_scope(tenant_id):
        policy = SlaPolicy(**{"response_hours": 48, "clock": "wall", **values})
        db.session.add(policy)
        db.session.commit()
        return policy.id


def _audit(app, tenant_id, action):
    with app.app_context(), tenant_scope(tenant_id):
        query = sa.select(AuditEvent).where(AuditEvent.action == action)
        return list(db.session.scalars(query))


def _config_version(app, tenant_id):
    with app.app_context():
        return db.session.get(Tenant, tenant_id).config_version


def _post(client, url, follow=False):
    token = csrf_token(client, INDEX)
    return client.post(url, data={"csrf_token": token}, follow_redirects=follow)


# Reading -----------------------------------------------------------------------------------


def test_the_list_describes_each_policy_in_plain_words_and_marks_the_default(
    app, client, login_as, world
):
    _add_policy(app, world.a.id, name="Express", reminder_points=[75])
    login_as("vendor_staff")
    page = client.get(INDEX).get_data(as_text=True)
    assert (
        "16 business hours (Mon\u2013Fri 09:00\u201317:00 in the partner&#39;s time zone, "
        "no public holidays), reminders at 50% and 90%"
    ) in page
    assert "48 wall-clock hours, reminders at 75%" in page
    assert "Default" in page
    assert "Add an SLA policy" not in page and "Make default" not in page


def test_the_list_counts_partners_using_a_policy_and_those_on_the_default(
    app, client, login_as, world
):
    express = _add_policy(app, world.a.id, name="Express")
    with app.app_context(), tenant_scope(world.a.id):
        for _ in range(3):
            PartnerFactory(sla_policy_id=express)
        db.session.commit()
    login_as("channel_manager")
    page = client.get(INDEX).get_data(as_text=True)
    assert "3 partners" in page
    assert "2 through the default" in page  # the world's two partners have no policy of their own


def test_a_tenant_without_policies_gets_a_clear_empty_state(app, client, login_as, world):
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(sa.delete(SlaPolicy))
        db.session.commit()
    login_as("channel_manager")
    response = client.get(INDEX)
    assert response.status_code == 200
    assert 'data-testid="empty-state"' in response.get_data(as_text=True)


def test_the_new_policy_form_offers_weekdays_and_holiday_countries(client, login_as):
    login_as("channel_manager")
    page = client.get(NEW).get_data(as_text=True)
    assert 'type="checkbox"' in page and "Saturday" in page
    assert "No public holidays" in page and ">Germany<" in page
    assert 'value="50, 90"' in page


# Adding ------------------------------------------------------------------------------------


def test_a_manager_adds_a_business_hours_policy_which_is_audited(app, client, login_as, world):
    before = _config_version(app, world.a.id)
    login_as("channel_manager")
    assert post_form(client, NEW, GOLD).status_code == 302
    policy = _policy(app, world.a.id, GOLD["name"])
    assert (policy.response_hours, policy.clock, policy.holiday_country) == (8, "business", "DE")
    assert (policy.work_days, policy.work_start, policy.work_end) == (
        [0, 1, 2, 3, 4],
        "08:00",
        "18:00",
    )
    assert policy.reminder_points == [50, 90] and not policy.is_default
    assert len(_audit(app, world.a.id, "sla_policy.created")) == 1
    assert _config_version(app, world.a.id) == before
    page = client.get(INDEX).get_data(as_text=True)
    assert "8 business hours (Mon\u2013Fri 08:00\u201318:00" in page
    assert "public holidays of Germany" in page


def test_a_wall_clock_policy_needs_no_working_days(app, client, login_as, world):
    login_as("channel_manager")
    data = {
        "name": "Round the clock",
        "response_hours": "24",
        "clock": "wall",
        "reminder_points": "",
    }
    assert post_form(client, NEW, data).status_code == 302
    policy = _policy(app, world.a.id, "Round the clock")
    assert (policy.clock, policy.response_hours, policy.reminder_points) == ("wall", 24, [])


def test_a_new_policy_made_the_default_unsets_the_old_default(app, client, login_as, world):
    old_default = _default_id(app, world.a.id)
    login_as("channel_manager")
    assert post_form(client, NEW, {**GOLD, "is_default": "y"}).status_code == 302
    policies = _policies(app, world.a.id)
    assert [name for name, (_, _, default) in policies.items() if default] == [GOLD["name"]]
    assert _default_id(app, world.a.id) != old_default


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Name the policy"),
        ({"response_hours": "0"}, "response_hours", "at least 1 hour"),
        ({"response_hours": "many"}, "response_hours", "whole number of hours"),
        ({"response_hours": "721"}, "response_hours", "at most 720 hours"),
        ({"work_start": "17:00", "work_end": "09:00"}, "work_end", "must end after it starts"),
        ({"work_start": "9 am"}, "work_start", "HH:MM"),
        ({"holiday_country": "XX"}, "holiday_country", "not an ISO 3166-1 country code"),
        ({"reminder_points": "50, 100"}, "reminder_points", "from 1 to 99"),
        ({"reminder_points": "0"}, "reminder_points", "from 1 to 99"),
        ({"reminder_points": "half"}, "reminder_points", "whole percentages"),
        ({"work_days": []}, "work_days", "at least one working day"),
        ({"clock": "lunar"}, "clock", "Not a valid choice"),
    ],
)
def test_bad_policy_input_is_shown_next_to_the_field_and_nothing_is_saved(
    app, client, login_as, world, changes, field, message
):
    before = _policies(app, world.a.id)
    login_as("channel_manager")
    response = post_form(client, NEW, {**GOLD, **changes})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page
    assert _policies(app, world.a.id) == before


def test_every_bad_field_is_reported_at_once(client, login_as):
    login_as("channel_manager")
    data = {**GOLD, "response_hours": "0", "reminder_points": "150", "work_end": "07:00"}
    page = post_form(client, NEW, data).get_data(as_text=True)
    for field in ("response_hours", "reminder_points", "work_end"):
        assert f'id="{field}-error"' in page


def test_a_duplicate_policy_name_is_refused_whatever_its_case(app, client, login_as, world):
    login_as("channel_manager")
    default_name = next(iter(_policies(app, world.a.id)))
    before = _policies(app, world.a.id)
    response = post_form(client, NEW, {**GOLD, "name": default_name.upper()})
    assert response.status_code == 400
    assert "exists already" in response.get_data(as_text=True)
    assert _policies(app, world.a.id) == before


# Editing -----------------------------------------------------------------------------------


def test_a_manager_edits_a_policy_and_the_diff_is_audited(app, client, login_as, world):
    policy_id = _default_id(app, world.a.id)
    login_as("admin")
    url = f"/network/sla-policies/{policy_id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'value="16"' in page and "checked" in page
    data = {**GOLD, "name": "Standard: 2 business days", "response_hours": "12"}
    assert post_form(client, url, data).status_code == 302
    [event] = _audit(app, world.a.id, "sla_policy.updated")
    assert event.changes["response_hours"] == [16, 12]
    assert event.changes["holiday_country"] == [None, "DE"]
    assert "name" not in event.changes


def test_editing_with_a_bad_value_changes_nothing(app, client, login_as, world):
    policy_id = _default_id(app, world.a.id)
    before = _policies(app, world.a.id)
    login_as("channel_manager")
    url = f"/network/sla-policies/{policy_id}/edit"
    response = post_form(client, url, {**GOLD, "response_hours": "0"})
    assert response.status_code == 400
    assert _policies(app, world.a.id) == before


# The default -------------------------------------------------------------------------------


def test_making_a_policy_the_default_unsets_the_old_one_and_is_audited(
    app, client, login_as, world
):
    express = _add_policy(app, world.a.id, name="Express")
    login_as("channel_manager")
    assert _post(client, f"/network/sla-policies/{express}/default").status_code == 302
    defaults = [n for n, (_, _, d) in _policies(app, world.a.id).items() if d]
    assert defaults == ["Express"]
    [event] = _audit(app, world.a.id, "sla_policy.made_default")
    assert event.changes == {"default": ["Standard: 2 business days", "Express"]}


def test_the_default_of_one_tenant_does_not_touch_another(app, client, login_as, world):
    express = _add_policy(app, world.a.id, name="Express")
    b_default = _default_id(app, world.b.id)
    login_as("channel_manager")
    _post(client, f"/network/sla-policies/{express}/default")
    assert _default_id(app, world.b.id) == b_default


def test_making_the_default_the_default_again_says_so(app, client, login_as, world):
    policy_id = _default_id(app, world.a.id)
    login_as("channel_manager")
    response = _post(client, f"/network/sla-policies/{policy_id}/default", follow=True)
    assert "is the default already" in response.get_data(as_text=True)


# Deleting ----------------------------------------------------------------------------------


def test_an_unused_policy_is_deleted_and_audited(app, client, login_as, world):
    express = _add_policy(app, world.a.id, name="Express")
    login_as("channel_manager")
    assert _post(client, f"/network/sla-policies/{express}/delete").status_code == 302
    assert "Express" not in _policies(app, world.a.id)
    assert len(_audit(app, world.a.id, "sla_policy.deleted")) == 1


def test_the_default_policy_is_not_deleted_and_the_reason_is_shown(app, client, login_as, world):
    policy_id = _default_id(app, world.a.id)
    login_as("channel_manager")
    response = _post(client, f"/network/sla-policies/{policy_id}/delete", follow=True)
    assert "make another policy the default first" in response.get_data(as_text=True)
    assert _default_id(app, world.a.id) == policy_id


def test_a_policy_that_partners_use_is_not_deleted_and_the_reason_is_shown(
    app, client, login_as, world
):
    express = _add_policy(app, world.a.id, name="Express")
    with app.app_context(), tenant_scope(world.a.id):
        partner = db.session.get(Partner, world.a.partner_id)
        partner.sla_policy_id = express
        db.session.commit()
    login_as("channel_manager")
    response = _post(client, f"/network/sla-policies/{express}/delete", follow=True)
    assert "Express is used by 1 partner; move them to another policy first." in response.get_data(
        as_text=True
    )
    assert "Express" in _policies(app, world.a.id)
    assert _audit(app, world.a.id, "sla_policy.deleted") == []


# Access ------------------------------------------------------------------------------------


def _every_post(policy_id):
    return [
        (NEW, GOLD),
        (f"/network/sla-policies/{policy_id}/edit", GOLD),
        (f"/network/sla-policies/{policy_id}/default", {}),
        (f"/network/sla-policies/{policy_id}/delete", {}),
    ]


def test_vendor_staff_can_read_policies_but_every_change_is_forbidden(app, client, login_as, world):
    express = _add_policy(app, world.a.id, name="Express")
    before = _policies(app, world.a.id)
    login_as("vendor_staff")
    assert client.get(INDEX).status_code == 200
    assert client.get(NEW).status_code == 403
    assert client.get(f"/network/sla-policies/{express}/edit").status_code == 403
    token = csrf_token(client, INDEX)
    for url, data in _every_post(express):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert _policies(app, world.a.id) == before


def test_a_partner_user_cannot_see_or_change_policies(app, client, login_as, world):
    express = _add_policy(app, world.a.id, name="Express")
    login_as("partner_user")
    assert client.get(INDEX).status_code == 403
    token = csrf_token(client, "/")
    for url, data in _every_post(express):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url


def test_a_policy_of_another_tenant_is_not_found(app, client, login_as, world):
    express = _add_policy(app, world.b.id, name="Express")
    before = _policies(app, world.b.id)
    login_as("channel_manager")
    assert client.get(f"/network/sla-policies/{express}/edit").status_code == 404
    token = csrf_token(client, INDEX)
    for url, data in _every_post(express)[1:]:
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    assert _policies(app, world.b.id) == before
