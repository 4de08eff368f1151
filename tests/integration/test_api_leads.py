"""The JSON API for leads: intake, errors as problem details, idempotency, paging, isolation."""

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.leads.models import EngagementRule, Lead, QualificationSettings, ScoringRule
from portal.tenancy import services
from portal.tenancy.scoping import tenant_scope
from tests.factories import ProductFactory

LEAD = {
    "external_id": "crm-42", "company_name": "Nordbank AG", "company_domain": "nordbank.example",
    "industry": "Banking", "employees": 1200, "contact_email": "eva@nordbank.example",
    "country": "DE", "postal_code": "20095", "product": "CB", "deal_size": "48000.50",
    "currency": "EUR",
    "bant": {"budget": True, "authority": True, "need": "Backups", "timeline": "Q1"},
}  # fmt: skip


def _key(app, tenant_id, admin_id):
    with app.app_context(), tenant_scope(tenant_id):
        _, secret = services.create_api_key("CRM", actor=services.get_user(admin_id))
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api(app, world):
    """The tenant-a API key's headers, with a product and a scoring programme."""
    with app.app_context(), tenant_scope(world.a.id):
        ProductFactory(code="CB", name="Cloud Backup")
        db.session.add(ScoringRule(field="industry", operator="in", values=["Banking"], points=20))
        db.session.add(EngagementRule(activity_type="demo_requested", points=30, decay_days=None))
        db.session.scalar(sa.select(QualificationSettings)).mql_threshold = 40
        db.session.commit()
    return _key(app, world.a.id, world.a.admin.id)


def test_a_lead_is_taken_in_scored_and_read_back_with_its_history(client, api):
    created = client.post("/api/v1/leads", json=LEAD, headers=api)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["state"], body["score"], body["deal_size"], body["product"]) == (
        "nurture",
        20,
        "48000.50",
        "CB",
    )
    read = client.get(f"/api/v1/leads/{body['id']}", headers=api).get_json()
    assert [e["action"] for e in read["events"]] == ["score_below"]


def test_an_activity_scores_the_lead_again_and_can_make_it_an_mql(client, api):
    lead_id = client.post("/api/v1/leads", json=LEAD, headers=api).get_json()["id"]
    response = client.post(
        f"/api/v1/leads/{lead_id}/activities", json={"activity_type": "demo_requested"}, headers=api
    )
    assert response.status_code == 201
    # An MQL is handed to routing at once; no partner here sells the product.
    assert (response.get_json()["state"], response.get_json()["score"]) == ("unroutable", 50)


def test_a_known_external_id_answers_with_the_lead_taken_in_before(client, api):
    first = client.post("/api/v1/leads", json=LEAD, headers=api).get_json()
    again = client.post("/api/v1/leads", json=LEAD, headers=api)
    assert again.status_code == 200 and again.get_json()["id"] == first["id"]


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(
    app, client, api, world
):
    headers = {**api, "Idempotency-Key": "req-1"}
    lead = {**LEAD, "external_id": None}
    first = client.post("/api/v1/leads", json=lead, headers=headers)
    retry = client.post("/api/v1/leads", json=lead, headers=headers)
    assert retry.status_code == 201 and retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    other = client.post("/api/v1/leads", json={**lead, "company_name": "Other AG"}, headers=headers)
    assert other.status_code == 409 and other.mimetype == "application/problem+json"
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 1


def test_a_failed_request_does_not_use_up_its_idempotency_key(client, api):
    headers = {**api, "Idempotency-Key": "req-2"}
    assert (
        client.post("/api/v1/leads", json={**LEAD, "country": "XX"}, headers=headers).status_code
        == 422
    )
    assert client.post("/api/v1/leads", json=LEAD, headers=headers).status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contact_email": "not-mail"}, "contact_email"),
        ({"country": "XX"}, "country"),
        ({"employees": "many"}, "employees"),
        ({"deal_size": "-5"}, "deal_size"),
        ({"currency": "EURO"}, "currency"),
        ({"product": "NOPE"}, "product"),
        ({"company_name": ""}, "company_name"),
        ({"colour": "blue"}, "colour"),
        ({"bant": {"budget": True, "mood": "good"}}, "bant.mood"),
    ],
)
def test_each_bad_field_gets_a_422_problem_naming_it_and_nothing_is_saved(
    app, client, api, world, change, field
):
    response = client.post("/api/v1/leads", json={**LEAD, **change}, headers=api)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert field in [e["field"] for e in response.get_json()["errors"]], response.get_json()
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0


def test_malformed_json_and_an_oversized_body_get_json_errors(client, api):
    bad = client.post(
        "/api/v1/leads", data="{not json", headers={**api, "Content-Type": "application/json"}
    )
    assert 400 <= bad.status_code < 500 and bad.mimetype == "application/problem+json"
    huge = client.post(
        "/api/v1/leads",
        data=b"x" * (50 * 1024 * 1024),
        headers={**api, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and huge.mimetype == "application/problem+json"


def test_a_missing_or_wrong_key_gets_401_and_another_tenants_key_gets_404(app, client, api, world):
    lead_id = client.post("/api/v1/leads", json=LEAD, headers=api).get_json()["id"]
    assert client.get(f"/api/v1/leads/{lead_id}").status_code == 401
    assert (
        client.get(
            f"/api/v1/leads/{lead_id}", headers={"Authorization": "Bearer pp_nope"}
        ).status_code
        == 401
    )
    other = _key(app, world.b.id, world.b.admin.id)
    assert client.get(f"/api/v1/leads/{lead_id}", headers=other).status_code == 404
    assert (
        client.post(
            f"/api/v1/leads/{lead_id}/activities", json={"activity_type": "x"}, headers=other
        ).status_code
        == 404
    )
    assert client.get("/api/v1/leads", headers=other).get_json()["items"] == []


def test_a_batch_answers_each_item_and_invalid_items_do_not_stop_valid_ones(client, api):
    items = [LEAD, {**LEAD, "external_id": "crm-43", "country": "XX"}, {"company_name": 5}, LEAD]
    response = client.post("/api/v1/leads/batch", json={"items": items}, headers=api)
    assert response.status_code == 200, response.get_json()
    answers = response.get_json()["items"]
    assert [a["status"] for a in answers] == ["created", "invalid", "invalid", "existing"]
    assert "country" in answers[1]["errors"] and answers[3]["lead_id"] == answers[0]["lead_id"]


def test_a_batch_of_more_than_1000_items_is_refused(client, api):
    response = client.post("/api/v1/leads/batch", json={"items": [LEAD] * 1001}, headers=api)
    assert response.status_code == 422


def test_leads_are_listed_a_page_at_a_time_with_a_cursor_and_a_state_filter(client, api):
    for n in range(5):
        client.post("/api/v1/leads", json={**LEAD, "external_id": f"crm-{n}"}, headers=api)
    first = client.get("/api/v1/leads?limit=2", headers=api).get_json()
    second = client.get(
        f"/api/v1/leads?limit=2&cursor={first['next_cursor']}", headers=api
    ).get_json()
    third = client.get(
        f"/api/v1/leads?limit=2&cursor={second['next_cursor']}", headers=api
    ).get_json()
    ids = [lead["id"] for page in (first, second, third) for lead in page["items"]]
    assert len(ids) == len(set(ids)) == 5 and third["next_cursor"] is None
    assert client.get("/api/v1/leads?state=mql", headers=api).get_json()["items"] == []
    assert client.get("/api/v1/leads?state=bogus", headers=api).status_code == 422
    assert client.get("/api/v1/leads?cursor=abc", headers=api).status_code == 422


def test_the_openapi_document_is_generated_and_public(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/leads", "/api/v1/leads/batch", "/api/v1/leads/{lead_id}"} <= set(spec["paths"])
    assert not any(path.startswith(("/admin", "/partners")) for path in spec["paths"])


def test_the_openapi_document_declares_the_idempotency_key_where_it_is_honoured(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]

    def headers(path, method):
        return [p["name"] for p in paths[path][method].get("parameters", []) if p["in"] == "header"]

    for path in ("/api/v1/leads", "/api/v1/leads/batch", "/api/v1/leads/{lead_id}/activities"):
        assert headers(path, "post") == ["Idempotency-Key"]
    assert headers("/api/v1/leads", "get") == []


def test_the_portal_has_a_readable_api_page_made_from_the_document(client, login_as):
    login_as("admin")
    page = client.get("/help/api").get_data(as_text=True)
    assert "/api/v1/leads/batch" in page and "Take in up to 1,000 leads" in page
    assert "Idempotency-Key" in page and "company_name" in page


def _statements(client, path, headers):
    """How many SQL statements one request runs."""
    count = 0

    def counted(*args):
        nonlocal count
        count += 1

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", counted)
    try:
        assert client.get(path, headers=headers).status_code == 200
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", counted)
    return count


def test_listing_leads_costs_the_same_queries_for_few_or_many(app, client, api, world):
    with app.app_context(), tenant_scope(world.a.id):
        codes = [ProductFactory(code=f"P{n}").code for n in range(15)]
        db.session.commit()

    def add(count, prefix):
        for n in range(count):
            lead = {**LEAD, "external_id": f"{prefix}-{n}", "product": codes.pop()}
            assert client.post("/api/v1/leads", json=lead, headers=api).status_code == 201

    add(3, "few")
    few = _statements(client, "/api/v1/leads?limit=100", api)
    add(12, "many")
    assert _statements(client, "/api/v1/leads?limit=100", api) == few
