"""The qualification page: threshold, required fields, profile and engagement rules."""

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.extensions import db
from portal.leads.models import EngagementRule, QualificationSettings, ScoringRule
from portal.tenancy.models import Tenant
from portal.tenancy.scoping import tenant_scope
from tests.conftest import csrf_token

INDEX = "/network/qualification/"
MINUS = "\u2212"

BANKING = {
    "field": "industry",
    "values": "Banking, Insurance",
    "low": "",
    "high": "",
    "points": "10",
}
MID_SIZE = {"field": "employees", "values": "", "low": "200", "high": "999", "points": "15"}
WEBINAR = {"activity_type": "webinar_attended", "points": "8", "decay_days": "30"}
BANT = ["budget", "authority", "need", "timeline"]


def _post(client, url, data=None):
    return client.post(url, data={"csrf_token": csrf_token(client, INDEX), **(data or {})})


def _page(client):
    return client.get(INDEX).get_data(as_text=True)


def _rows(app, tenant_id, model):
    with app.app_context(), tenant_scope(tenant_id):
        return list(db.session.scalars(sa.select(model).order_by(model.id)))


def _settings(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        settings = db.session.scalar(sa.select(QualificationSettings))
        return settings.mql_threshold, settings.required_fields


def _audit_actions(app, tenant_id):
    with app.app_context(), tenant_scope(tenant_id):
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def _config_version(app, tenant_id):
    with app.app_context():
        return db.session.get(Tenant, tenant_id).config_version


def _add_rules(app, tenant_id):
    """A profile and an engagement rule in the tenant; returns their ids."""
    with app.app_context(), tenant_scope(tenant_id):
        rule = ScoringRule(field="industry", operator="in", values=["Banking"], points=10)
        engagement = EngagementRule(activity_type="demo_requested", points=20, decay_days=None)
        db.session.add_all([rule, engagement])
        db.session.commit()
        return rule.id, engagement.id


# Reading ------------------------------------------------------------------------------------


def test_the_page_states_the_seeded_threshold_and_required_fields_in_words(client, login_as):
    login_as("vendor_staff")
    page = _page(client)
    assert (
        "A lead becomes an MQL at 60 points or more, once it has: budget, authority, need, "
        "timeline." in page
    )
    assert "No profile rules yet." in page and "No engagement rules yet." in page


def test_staff_read_the_rules_in_plain_words_without_the_forms(app, client, login_as, world):
    _add_rules(app, world.a.id)
    login_as("vendor_staff")
    page = _page(client)
    assert "+10 points when the industry is Banking" in page
    assert "+20 points per demo requested" in page
    assert "Add a profile rule" not in page and "Delete" not in page


def test_a_manager_sees_the_three_forms(client, login_as):
    login_as("channel_manager")
    page = _page(client)
    assert "Add a profile rule" in page and "Add an engagement rule" in page
    assert "Save threshold and fields" in page
    assert '<input checked class="form-check-input" id="required_fields-0"' in page
    assert '<input class="form-check-input" id="required_fields-4"' in page


# Threshold and required fields --------------------------------------------------------------


def test_a_manager_sets_the_threshold_and_required_fields(app, client, login_as, world):
    login_as("channel_manager")
    data = {"mql_threshold": "75", "required_fields": ["budget", "need", "country"]}
    response = _post(client, "/network/qualification/settings", data)
    assert response.status_code == 302
    assert _settings(app, world.a.id) == (75, ["budget", "need", "country"])
    assert "at 75 points or more, once it has: budget, need, country." in _page(client)


def test_no_required_fields_is_allowed_and_said_so(app, client, login_as, world):
    login_as("admin")
    _post(client, "/network/qualification/settings", {"mql_threshold": "40"})
    assert _settings(app, world.a.id) == (40, [])
    assert "no field is required before it is offered" in _page(client)


def test_changing_the_settings_is_audited_but_does_not_touch_routing(app, client, login_as, world):
    version = _config_version(app, world.a.id)
    login_as("channel_manager")
    _post(
        client, "/network/qualification/settings", {"mql_threshold": "80", "required_fields": BANT}
    )
    with app.app_context(), tenant_scope(world.a.id):
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "qualification.updated")
        )
        assert event.changes == {"mql_threshold": [60, 80]}
    assert _config_version(app, world.a.id) == version


def test_saving_unchanged_settings_records_nothing(app, client, login_as, world):
    login_as("channel_manager")
    _post(
        client, "/network/qualification/settings", {"mql_threshold": "60", "required_fields": BANT}
    )
    assert "qualification.updated" not in _audit_actions(app, world.a.id)


@pytest.mark.parametrize(
    ("threshold", "message"),
    [("1001", "from 0 to 1000"), ("-1", "from 0 to 1000"), ("", "whole number")],
)
def test_a_threshold_out_of_range_is_shown_at_its_field(
    app, client, login_as, world, threshold, message
):
    login_as("channel_manager")
    response = _post(client, "/network/qualification/settings", {"mql_threshold": threshold})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="mql_threshold-error"' in page and message in page
    assert _settings(app, world.a.id) == (60, BANT)


def test_an_unknown_required_field_is_refused(app, client, login_as, world):
    login_as("channel_manager")
    data = {"mql_threshold": "60", "required_fields": ["budget", "shoe_size"]}
    response = _post(client, "/network/qualification/settings", data)
    assert response.status_code == 400
    assert "&#39;shoe_size&#39; is not a field that can be required" in response.get_data(
        as_text=True
    )
    assert _settings(app, world.a.id) == (60, BANT)


# Profile rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "stored", "words"),
    [
        (
            BANKING,
            ["Banking", "Insurance"],
            "+10 points when the industry is one of Banking, Insurance",
        ),
        (MID_SIZE, [200, 999], "+15 points when the company has 200 to 999 employees"),
        (
            {**BANKING, "field": "job_title", "values": "CIO, IT director", "points": "5"},
            ["CIO", "IT director"],
            "+5 points when the job title contains &#39;CIO&#39; or &#39;IT director&#39;",
        ),
        (
            {**BANKING, "field": "country", "values": "de, at", "points": "-20"},
            ["AT", "DE"],
            f"{MINUS}20 points when the country is one of Austria, Germany",
        ),
        ({**MID_SIZE, "low": "", "high": "49"}, [None, 49], "when the company has at most 49"),
    ],
)
def test_a_manager_adds_each_kind_of_profile_rule(
    app, client, login_as, world, data, stored, words
):
    login_as("channel_manager")
    response = _post(client, "/network/qualification/rules/new", data)
    assert response.status_code == 302
    (rule,) = _rows(app, world.a.id, ScoringRule)
    assert (rule.field, rule.values) == (data["field"], stored)
    assert words in _page(client)


def test_adding_a_profile_rule_is_audited_without_a_config_bump(app, client, login_as, world):
    version = _config_version(app, world.a.id)
    login_as("channel_manager")
    _post(client, "/network/qualification/rules/new", BANKING)
    assert "scoring_rule.created" in _audit_actions(app, world.a.id)
    assert _config_version(app, world.a.id) == version


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**BANKING, "values": " , "}, "values", "Give at least one value"),
        ({**BANKING, "field": "country", "values": ""}, "values", "Name at least one country"),
        ({**BANKING, "field": "country", "values": "DE, XX"}, "values", "not an ISO 3166-1"),
        ({**MID_SIZE, "low": "1000", "high": "10"}, "high", "not be below the low number"),
        ({**MID_SIZE, "low": "-5"}, "low", "cannot be negative"),
        ({**MID_SIZE, "low": "", "high": ""}, "low", "a low number, a high number, or both"),
        ({**BANKING, "points": "0"}, "points", "0 points changes nothing"),
        ({**BANKING, "points": "101"}, "points", "from -100 to 100"),
        ({**BANKING, "points": "-101"}, "points", "from -100 to 100"),
        ({**BANKING, "field": "shoe_size"}, "field", "Choose one of the lead fields"),
    ],
)
def test_bad_profile_rule_input_is_shown_at_its_field_and_nothing_is_saved(
    app, client, login_as, world, data, field, message
):
    login_as("channel_manager")
    response = _post(client, "/network/qualification/rules/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page
    assert _rows(app, world.a.id, ScoringRule) == []
    assert "scoring_rule.created" not in _audit_actions(app, world.a.id)


def test_every_problem_of_a_rule_shows_at_once(client, login_as):
    login_as("channel_manager")
    page = _post(
        client,
        "/network/qualification/rules/new",
        {**MID_SIZE, "low": "9", "high": "1", "points": "0"},
    ).get_data(as_text=True)
    assert 'id="high-error"' in page and 'id="points-error"' in page


def test_the_same_rule_twice_is_refused(app, client, login_as, world):
    login_as("channel_manager")
    _post(client, "/network/qualification/rules/new", BANKING)
    response = _post(client, "/network/qualification/rules/new", {**BANKING, "points": "20"})
    assert response.status_code == 400
    assert "The same rule exists already" in response.get_data(as_text=True)
    assert len(_rows(app, world.a.id, ScoringRule)) == 1


def test_a_failed_rule_keeps_the_other_forms_clean(client, login_as):
    login_as("channel_manager")
    page = _post(client, "/network/qualification/rules/new", {**BANKING, "points": "0"}).get_data(
        as_text=True
    )
    assert 'id="engagement_points-error"' not in page
    assert 'value="Banking, Insurance"' in page


def test_a_manager_deletes_a_profile_rule_and_it_is_audited(app, client, login_as, world):
    rule_id, _ = _add_rules(app, world.a.id)
    login_as("channel_manager")
    response = _post(client, f"/network/qualification/rules/{rule_id}/delete")
    assert response.status_code == 302
    assert _rows(app, world.a.id, ScoringRule) == []
    assert "scoring_rule.deleted" in _audit_actions(app, world.a.id)


# Engagement rules ---------------------------------------------------------------------------


def test_a_manager_adds_an_engagement_rule_that_reads_in_words(app, client, login_as, world):
    version = _config_version(app, world.a.id)
    login_as("channel_manager")
    response = _post(client, "/network/qualification/engagement/new", WEBINAR)
    assert response.status_code == 302
    (rule,) = _rows(app, world.a.id, EngagementRule)
    assert (rule.activity_type, rule.points, rule.decay_days) == ("webinar_attended", 8, 30)
    assert "+8 points per webinar attended, fading to nothing over 30 days" in _page(client)
    assert "engagement_rule.created" in _audit_actions(app, world.a.id)
    assert _config_version(app, world.a.id) == version


def test_an_engagement_rule_without_decay_never_fades(app, client, login_as, world):
    login_as("channel_manager")
    _post(client, "/network/qualification/engagement/new", {**WEBINAR, "decay_days": ""})
    (rule,) = _rows(app, world.a.id, EngagementRule)
    assert rule.decay_days is None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**WEBINAR, "activity_type": "webinar attended!"}, "activity_type", "lower-case letters"),
        ({**WEBINAR, "activity_type": ""}, "activity_type", "lower-case letters"),
        ({**WEBINAR, "points": "0"}, "engagement_points", "0 points changes nothing"),
        ({**WEBINAR, "points": "500"}, "engagement_points", "from -100 to 100"),
        ({**WEBINAR, "decay_days": "0"}, "decay_days", "Use 1 to 365 days"),
        ({**WEBINAR, "decay_days": "400"}, "decay_days", "Use 1 to 365 days"),
    ],
)
def test_bad_engagement_rule_input_is_shown_at_its_field_and_nothing_is_saved(
    app, client, login_as, world, data, field, message
):
    login_as("channel_manager")
    response = _post(client, "/network/qualification/engagement/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page
    assert _rows(app, world.a.id, EngagementRule) == []


def test_a_duplicate_activity_type_is_refused_even_when_typed_differently(
    app, client, login_as, world
):
    login_as("channel_manager")
    _post(client, "/network/qualification/engagement/new", WEBINAR)
    data = {**WEBINAR, "activity_type": "Webinar Attended", "points": "3"}
    response = _post(client, "/network/qualification/engagement/new", data)
    assert response.status_code == 400
    assert "A rule for &#39;webinar_attended&#39; exists already." in response.get_data(
        as_text=True
    )
    assert len(_rows(app, world.a.id, EngagementRule)) == 1


def test_the_same_activity_type_may_exist_in_another_tenant(app, client, login_as, world):
    with app.app_context(), tenant_scope(world.b.id):
        db.session.add(EngagementRule(activity_type="webinar_attended", points=5))
        db.session.commit()
    login_as("channel_manager")
    assert _post(client, "/network/qualification/engagement/new", WEBINAR).status_code == 302


def test_a_manager_deletes_an_engagement_rule_and_it_is_audited(app, client, login_as, world):
    _, rule_id = _add_rules(app, world.a.id)
    login_as("admin")
    response = _post(client, f"/network/qualification/engagement/{rule_id}/delete")
    assert response.status_code == 302
    assert _rows(app, world.a.id, EngagementRule) == []
    assert "engagement_rule.deleted" in _audit_actions(app, world.a.id)


# Access -------------------------------------------------------------------------------------


def _every_post(rule_id, engagement_id):
    return [
        ("/network/qualification/settings", {"mql_threshold": "10"}),
        ("/network/qualification/rules/new", BANKING),
        (f"/network/qualification/rules/{rule_id}/delete", {}),
        ("/network/qualification/engagement/new", WEBINAR),
        (f"/network/qualification/engagement/{engagement_id}/delete", {}),
    ]


def test_vendor_staff_read_the_page_but_every_change_is_forbidden(app, client, login_as, world):
    rule_id, engagement_id = _add_rules(app, world.a.id)
    login_as("vendor_staff")
    assert client.get(INDEX).status_code == 200
    for url, data in _every_post(rule_id, engagement_id):
        assert _post(client, url, data).status_code == 403, url
    assert _settings(app, world.a.id) == (60, BANT)
    assert len(_rows(app, world.a.id, ScoringRule)) == 1


def test_a_partner_user_may_neither_read_nor_change(app, client, login_as, world):
    rule_id, engagement_id = _add_rules(app, world.a.id)
    login_as("partner_user")
    assert client.get(INDEX).status_code == 403
    token = csrf_token(client, "/account/password")
    for url, data in _every_post(rule_id, engagement_id):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url


def test_rules_of_another_tenant_are_neither_shown_nor_deleted(app, client, login_as, world):
    rule_id, engagement_id = _add_rules(app, world.b.id)
    login_as("channel_manager", "a")
    assert "+20 points per demo requested" not in _page(client)
    assert _post(client, f"/network/qualification/rules/{rule_id}/delete").status_code == 404
    url = f"/network/qualification/engagement/{engagement_id}/delete"
    assert _post(client, url).status_code == 404
    assert len(_rows(app, world.b.id, ScoringRule)) == 1
    assert len(_rows(app, world.b.id, EngagementRule)) == 1


def test_settings_of_one_tenant_leave_the_other_alone(app, client, login_as, world):
    login_as("channel_manager", "a")
    _post(client, "/network/qualification/settings", {"mql_threshold": "90"})
    assert _settings(app, world.b.id) == (60, BANT)
