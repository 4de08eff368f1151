"""Resolving duplicate flags: the queue, the comparison, merge with field choices, keep."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.audit import AuditEvent
from portal.db import utcnow
from portal.errors import NotFound
from portal.extensions import db
from portal.leads import duplicates, intake
from portal.leads.bulk_intake import take_in_batch
from portal.leads.models import (
    EngagementRule,
    Lead,
    LeadActivity,
    LeadEvent,
    QualificationSettings,
    ScoringRule,
)
from portal.tenancy.scoping import tenant_scope
from tests.conftest import post_form
from tests.factories import ProductFactory

BANT = {"budget": True, "authority": True, "need": "Backups", "timeline": "Q1"}


def _programme(app, tenant_id, threshold=60):
    """Banking 20 and 200+ employees 15 points; a demo request 30; MQL from 60."""
    with app.app_context(), tenant_scope(tenant_id):
        ProductFactory(code="CB", name="Cloud Backup")
        ProductFactory(code="DR", name="Disaster Recovery")
        db.session.add(ScoringRule(field="industry", operator="in", values=["Banking"], points=20))
        db.session.add(
            ScoringRule(field="employees", operator="between", values=[200, None], points=15)
        )
        db.session.add(EngagementRule(activity_type="demo_requested", points=30, decay_days=None))
        db.session.scalar(sa.select(QualificationSettings)).mql_threshold = threshold
        db.session.commit()


def _lead(**overrides):
    data = {
        "company_name": "Nordbank AG", "company_domain": "nordbank.example",
        "employees": "1,200", "contact_name": "Eva Storm", "contact_email": "eva@nordbank.example",
        "country": "DE", "subdivision": "DE-HH", "postal_code": "20095", "city": "Hamburg",
        "product": "CB", "deal_size": "48,000", "currency": "EUR", "bant": BANT,
    }  # fmt: skip
    data.update(overrides)
    return data


def _take_in(app, tenant_id, **overrides):
    with app.app_context(), tenant_scope(tenant_id):
        return intake.take_in(_lead(**overrides), actor="test", channel="a test").lead.id


def _pair(app, tenant_id):
    """A nurtured lead (15 points) and a later one with the same e-mail, a demo request and more."""
    first = _take_in(app, tenant_id)
    second = _take_in(
        app, tenant_id, company_name="Nordbank Hamburg", industry="Banking",
        contact_phone="+49 40 1234", city="Altona", deal_size="9,000", currency="USD",
    )  # fmt: skip
    with app.app_context(), tenant_scope(tenant_id):
        intake.record_activity(second, "demo_requested", None, actor="test")
    return first, second


def _get(app, tenant_id, lead_id):
    with app.app_context(), tenant_scope(tenant_id):
        lead = db.session.get(Lead, lead_id)
        db.session.expunge(lead)
        return lead


def _events(app, tenant_id, lead_id):
    with app.app_context(), tenant_scope(tenant_id):
        query = sa.select(LeadEvent).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
        return [(e.action, e.from_state, e.to_state, e.reason) for e in db.session.scalars(query)]


def _compare(client, lead_id):
    return client.get(f"/leads/{lead_id}/duplicate")


def _merge(client, lead_id, into, **choices):
    data = {"into": into, **{f"choice-{k}": v for k, v in choices.items()}}
    return post_form(
        client, f"/leads/{lead_id}/duplicate/merge", data, f"/leads/{lead_id}/duplicate"
    )


def _keep(client, lead_id, into, note=""):
    data = {"into": into, "note": note}
    return post_form(
        client, f"/leads/{lead_id}/duplicate/keep", data, f"/leads/{lead_id}/duplicate"
    )


def _flash(client, response):
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


# The queue ------------------------------------------------------------------------------------


def test_the_queue_lists_open_flags_oldest_first_and_says_why_each_is_flagged(
    app, client, login_as, world
):
    _programme(app, world.a.id)
    original = _take_in(app, world.a.id)
    by_email = _take_in(app, world.a.id, company_domain="other.example")
    by_company = _take_in(app, world.a.id, contact_email="max@nordbank.example")
    by_both = _take_in(app, world.a.id)
    _take_in(app, world.a.id, company_domain="x.example", contact_email="new@x.example")
    login_as("channel_manager")
    page = client.get("/leads/duplicates/").get_data(as_text=True)
    rows = re.findall(r'data-testid="duplicate-row-(\d+)"', page)
    assert rows == [str(by_email), str(by_company), str(by_both)]
    reasons = {
        lead_id: re.findall(r'text-bg-warning me-1">([^<]+)<', part)
        for lead_id, part in zip(rows, page.split('data-testid="duplicate-row-')[1:], strict=True)
    }
    assert reasons[str(by_email)] == ["same contact e-mail"]
    assert reasons[str(by_company)] == ["same company and product"]
    assert reasons[str(by_both)] == ["same contact e-mail", "same company and product"]
    assert f"lead {original}" in page
    leads = client.get("/leads/").get_data(as_text=True)
    assert re.search(r'data-testid="duplicates-link">Possible duplicates <span[^>]*>3<', leads)


def test_the_queue_is_paginated_and_leaves_resolved_flags_out(
    app, client, login_as, world, monkeypatch
):
    _programme(app, world.a.id)
    first = _take_in(app, world.a.id)
    flagged = [_take_in(app, world.a.id, company_name=f"Nordbank {n}") for n in range(4)]
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    login_as("channel_manager")
    assert _keep(client, flagged[0], first).status_code == 302
    one = client.get("/leads/duplicates/").get_data(as_text=True)
    two = client.get("/leads/duplicates/?page=2").get_data(as_text=True)
    assert re.findall(r"duplicate-row-(\d+)", one) == [str(flagged[1]), str(flagged[2])]
    assert re.findall(r"duplicate-row-(\d+)", two) == [str(flagged[3])]
    assert "3 in all, page 1 of 2" in one
    assert client.get("/leads/duplicates/?page=99").status_code == 200


def test_an_empty_queue_says_nothing_waits(client, login_as):
    login_as("vendor_staff")
    page = client.get("/leads/duplicates/").get_data(as_text=True)
    assert 'data-testid="duplicates-empty"' in page


# The comparison -------------------------------------------------------------------------------


def test_the_comparison_offers_a_choice_only_where_the_leads_differ(app, client, login_as, world):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    login_as("channel_manager")
    page = _compare(client, second).get_data(as_text=True)
    radios = set(re.findall(r'name="choice-([a-z_]+)" id="choice-\1-(\w+)"', page))
    keys = {key for key, _ in radios}
    assert keys == {"company_name", "industry", "contact_phone", "location", "deal"}
    assert all((key, side) in radios for key in keys for side in ("survivor", "duplicate"))
    # The survivor keeps its own value unless it has none.
    assert 'id="choice-company_name-survivor" value="survivor" checked' in page
    assert 'id="choice-industry-duplicate" value="duplicate" checked' in page
    assert "€48,000" in page and "US$9,000" in page and "same contact e-mail" in page
    assert 'data-confirm="Merge lead' in page and 'data-confirm="Keep lead' in page
    assert f'name="into" value="{first}"' in page


def test_the_lead_page_links_the_comparison_while_the_flag_is_open(app, client, login_as, world):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    login_as("channel_manager")
    page = client.get(f"/leads/{second}").get_data(as_text=True)
    assert 'data-testid="duplicate-flag"' in page and f"/leads/{second}/duplicate" in page
    assert "same contact e-mail and same company and product" in page
    _keep(client, second, first, note="Two subsidiaries")
    page = client.get(f"/leads/{second}").get_data(as_text=True)
    assert 'data-testid="duplicate-kept"' in page and f"/leads/{second}/duplicate" not in page
    assert "channel_manager@tenant-a.example" in page


# Merge ----------------------------------------------------------------------------------------


def test_merging_keeps_the_chosen_values_copies_activities_and_rescores_the_survivor(
    app, client, login_as, world
):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    assert (_get(app, world.a.id, first).state, _get(app, world.a.id, first).score) == (
        "nurture",
        15,
    )
    login_as("channel_manager")
    response = _merge(client, second, first, company_name="duplicate", location="survivor")
    page = _flash(client, response)
    assert f"Lead {second} merged into lead {first}" in page
    assert "now unroutable with 65 points" in page
    survivor, merged = _get(app, world.a.id, first), _get(app, world.a.id, second)
    assert survivor.company_name == "Nordbank Hamburg"  # chosen
    assert survivor.city == "Hamburg"  # chosen: the survivor's own
    assert (survivor.industry, survivor.contact_phone) == ("Banking", "+49 40 1234")  # gaps
    assert (survivor.deal_size_minor, survivor.currency) == (4_800_000, "EUR")  # default
    assert (survivor.state, survivor.score) == ("unroutable", 65)
    assert (merged.state, merged.merged_into_id, merged.duplicate_of_id) == ("merged", first, first)
    assert merged.duplicate_resolution == "merged"
    assert merged.duplicate_resolved_by_id == world.a.manager.id
    assert merged.duplicate_resolved_at is not None
    with app.app_context(), tenant_scope(world.a.id):
        kinds = db.session.scalars(
            sa.select(LeadActivity.activity_type).where(LeadActivity.lead_id.in_([first, second]))
        ).all()
        total = db.session.scalar(sa.select(sa.func.count(Lead.id)))
    assert kinds == ["demo_requested", "demo_requested"] and total == 2


def test_a_merge_writes_events_on_both_leads_and_an_audit_record(app, client, login_as, world):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    login_as("channel_manager")
    _merge(client, second, first, company_name="duplicate")
    *_, merge = _events(app, world.a.id, second)
    assert merge == ("merge", "mql", "merged", f"Merged into lead {first}.")
    *_, absorbed, scored, routed = _events(app, world.a.id, first)
    assert absorbed[:3] == ("absorb_duplicate", "nurture", "nurture")
    assert "company name" in absorbed[3] and "1 activity copied" in absorbed[3]
    assert scored[:3] == ("score_above", "nurture", "mql")
    assert routed[:3] == ("no_partner", "mql", "unroutable")
    with app.app_context(), tenant_scope(world.a.id):
        record = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "lead.duplicate_merged")
        )
    assert (record.object_id, record.actor_label) == (str(first), world.a.manager.email)
    assert record.changes["duplicate"] == second
    assert record.changes["fields"]["company_name"] == ["Nordbank AG", "Nordbank Hamburg"]
    assert record.changes["state"] == ["nurture", "mql"] and record.changes["score"] == [15, 65]
    page = client.get(f"/leads/{second}").get_data(as_text=True)
    assert 'data-testid="merged-into"' in page and f"lead {first}" in page
    leads = client.get("/leads/?state=merged").get_data(as_text=True)
    assert f"into lead {first}" in leads


def test_a_survivor_past_qualification_keeps_its_state_but_gets_its_new_score(
    app, client, login_as, world
):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Lead, first).state = "offered"
        db.session.commit()
    login_as("channel_manager")
    _merge(client, second, first)
    survivor = _get(app, world.a.id, first)
    assert (survivor.state, survivor.score) == ("offered", 65)


# Keep -----------------------------------------------------------------------------------------


def test_keeping_closes_the_flag_with_its_note_and_both_leads_stay(app, client, login_as, world):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    login_as("channel_manager")
    page = _flash(client, _keep(client, second, first, note="Two subsidiaries"))
    assert f"Lead {second} (Nordbank Hamburg) kept as a lead of its own." in page
    kept, other = _get(app, world.a.id, second), _get(app, world.a.id, first)
    # Held back from routing while flagged, the kept lead is routed now.
    assert (kept.duplicate_resolution, kept.duplicate_of_id) == ("kept", first)
    assert kept.state == "unroutable"
    assert (other.company_name, other.state) == ("Nordbank AG", "nurture")
    *_, event, routed = _events(app, world.a.id, second)
    assert event[:3] == ("keep", "mql", "mql") and event[3].endswith("Two subsidiaries")
    assert routed[:3] == ("no_partner", "mql", "unroutable")
    with app.app_context(), tenant_scope(world.a.id):
        record = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "lead.duplicate_kept")
        )
    assert record.changes == {"duplicate_of": first, "note": "Two subsidiaries"}


def test_a_note_that_is_too_long_is_shown_at_the_field_and_nothing_changes(
    app, client, login_as, world
):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    login_as("channel_manager")
    response = _keep(client, second, first, note="x" * 501)
    assert response.status_code == 400 and 'id="note-error"' in response.get_data(as_text=True)
    assert _get(app, world.a.id, second).duplicate_resolution is None


# Refusals -------------------------------------------------------------------------------------


def test_a_resolved_flag_is_not_resolved_again(app, client, login_as, world):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    login_as("channel_manager")
    _keep(client, second, first)
    page = _flash(client, _merge(client, second, first))
    assert page.count("This flag is already resolved") == 1 and "kept as a lead of its own" in page
    assert 'data-testid="flag-resolved"' in _compare(client, second).get_data(as_text=True)
    page = _flash(client, _keep(client, second, first))
    assert "This flag is already resolved" in page
    assert _get(app, world.a.id, second).state == "unroutable"
    assert [e[0] for e in _events(app, world.a.id, second)].count("keep") == 1


def test_a_lead_a_partner_holds_cannot_be_merged_but_can_be_kept(app, client, login_as, world):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Lead, second).state = "offered"
        db.session.commit()
    login_as("channel_manager")
    assert 'data-testid="merge-blocked"' in _compare(client, second).get_data(as_text=True)
    page = _flash(client, _merge(client, second, first))
    assert f"Lead {second} is offered now: a partner has it" in page
    assert _get(app, world.a.id, second).state == "offered"
    _keep(client, second, first)
    assert _get(app, world.a.id, second).duplicate_resolution == "kept"


def test_nothing_is_merged_into_a_lead_that_was_itself_merged_away(app, client, login_as, world):
    _programme(app, world.a.id)
    first = _take_in(app, world.a.id)
    second = _take_in(app, world.a.id, contact_email="max@nordbank.example")
    third = _take_in(app, world.a.id, contact_email="max@nordbank.example", product="DR")
    assert _get(app, world.a.id, third).duplicate_of_id == second
    login_as("channel_manager")
    _merge(client, second, first)
    page = _flash(client, _merge(client, third, second))
    assert f"Lead {second} has itself been merged into lead {first}" in page
    assert _get(app, world.a.id, third).state == "nurture"
    _keep(client, third, second)
    assert _get(app, world.a.id, third).duplicate_resolution == "kept"


def test_unknown_fields_and_sides_are_refused_with_a_message_and_nothing_changes(
    app, client, login_as, world
):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    login_as("channel_manager")
    response = _merge(client, second, first, score="duplicate", industry="both")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is no field &#39;score&#39; to merge." in page
    assert 'id="choice-industry-error"' in page
    assert _get(app, world.a.id, second).state == "mql"
    assert _get(app, world.a.id, first).company_name == "Nordbank AG"


def test_tampered_ids_are_not_found_and_a_garbled_one_is_a_bad_request(
    app, client, login_as, world
):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    unflagged = _take_in(app, world.a.id, contact_email="o@x.example", company_domain="x.example")
    login_as("channel_manager")
    assert _merge(client, second, unflagged).status_code == 404
    assert _keep(client, second, second).status_code == 404
    assert _merge(client, second, 2**40).status_code == 404
    assert _compare(client, first).status_code == 404  # not flagged
    assert _compare(client, 999_999).status_code == 404
    assert _compare(client, 2**40).status_code == 404
    assert _merge(client, 999_999, first).status_code == 404
    assert _keep(client, unflagged, first).status_code == 404
    assert _merge(client, second, "abc").status_code == 400
    assert _keep(client, second, "").status_code == 400
    assert _get(app, world.a.id, second).duplicate_resolution is None


def test_vendor_staff_compare_without_the_actions(app, client, login_as, world):
    _programme(app, world.a.id)
    _, second = _pair(app, world.a.id)
    login_as("vendor_staff")
    page = _compare(client, second).get_data(as_text=True)
    assert 'data-testid="comparison"' in page
    assert "/duplicate/merge" not in page and "/duplicate/keep" not in page


# The API --------------------------------------------------------------------------------------


def test_the_api_shows_a_merged_lead_and_lists_leads_in_state_merged(app, client, login_as, world):
    from portal.tenancy import services

    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    with app.app_context(), tenant_scope(world.a.id):
        duplicates.merge(second, first, {}, actor=services.get_user(world.a.manager.id))
        _, secret = services.create_api_key("t", actor=services.get_user(world.a.admin.id))
        db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    body = client.get(f"/api/v1/leads/{second}", headers=headers).get_json()
    assert (body["state"], body["merged_into_id"], body["duplicate_of_id"]) == (
        "merged",
        first,
        first,
    )
    assert body["duplicate_resolution"] == "merged"
    listed = client.get("/api/v1/leads?state=merged", headers=headers).get_json()
    assert [lead["id"] for lead in listed["items"]] == [second]


def test_the_service_refuses_a_flag_of_another_tenant(app, world):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    with app.app_context(), tenant_scope(world.b.id):
        with pytest.raises(NotFound):
            duplicates.comparison(second)
        with pytest.raises(NotFound):
            duplicates.keep(second, first, None, actor="test")
        with pytest.raises(NotFound):
            duplicates.merge(second, first, {}, actor="test")
    assert _get(app, world.a.id, second).duplicate_resolution is None


def test_an_old_flag_by_company_names_no_reason_once_the_window_has_passed(app, world):
    _programme(app, world.a.id)
    first = _take_in(app, world.a.id)
    second = _take_in(app, world.a.id, contact_email="max@nordbank.example")
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Lead, first).created_at = utcnow() - timedelta(days=200)
        db.session.commit()
        assert duplicates.comparison(second).flag.reasons == ()


def test_an_activity_for_a_merged_lead_is_recorded_on_the_lead_it_went_into(
    app, client, login_as, world
):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    login_as("channel_manager")
    _merge(client, second, first, company_name="duplicate")
    with app.app_context(), tenant_scope(world.a.id):
        answered = intake.record_activity(second, "webinar_attended", None, actor="test")
        assert answered.id == first
        on_survivor = db.session.scalars(
            sa.select(LeadActivity.activity_type).where(LeadActivity.lead_id == first)
        ).all()
        on_merged = db.session.scalars(
            sa.select(LeadActivity.activity_type).where(LeadActivity.lead_id == second)
        ).all()
    assert "webinar_attended" in on_survivor and "webinar_attended" not in on_merged


def test_a_new_lead_like_a_merged_one_is_flagged_against_the_lead_it_went_into(
    app, client, login_as, world
):
    _programme(app, world.a.id)
    first, second = _pair(app, world.a.id)
    login_as("channel_manager")
    _merge(client, second, first, company_name="duplicate")
    # The merged lead keeps its e-mail; the survivor has the same one.
    with app.app_context(), tenant_scope(world.a.id):
        db.session.get(Lead, first).contact_email = "new@nordbank.example"
        db.session.commit()
    third = _take_in(app, world.a.id, contact_email="new@nordbank.example", product="DR")
    with app.app_context(), tenant_scope(world.a.id):
        results = take_in_batch(
            [_lead(contact_email="new@nordbank.example", product="DR")], actor="t", channel="t"
        )
    assert _get(app, world.a.id, third).duplicate_of_id == first
    assert _get(app, world.a.id, results[0].lead_id).duplicate_of_id == first
