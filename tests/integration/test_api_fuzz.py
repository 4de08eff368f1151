"""Schemathesis fuzzes the API: no server error, no answer that breaks the OpenAPI document.

Two tests. One fuzzes every operation on its own. The other walks the document's links as
a state machine, so generated requests reach real leads (a lead created by POST is read,
paged to and given activities) instead of ending in a 404 at the first step.

Both send schema-valid input and, as schemathesis' negative mode, input the document
forbids (wrong types, missing fields, no key), which must get a documented 4xx.

Both drive schemathesis through Hypothesis directly: schemathesis' own pytest plugin does
not run on this pytest. Both are derandomized, so every run sends the same requests and CI
never turns red by chance.

Below them: plain tests of the document, and of each case the fuzzing found.
"""

import itertools

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.extensions import db
from portal.leads.intake_rules import NUL_MESSAGE
from portal.leads.models import Lead, LeadActivity, ScoringRule
from portal.tenancy import services
from portal.tenancy.scoping import tenant_scope
from tests.factories import ProductFactory

SPEC = "/api/v1/openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Only the links the document declares: links schemathesis would infer on its own could
# hide a missing or broken one.
DOCUMENT_LINKS_ONLY = SchemathesisConfig.from_dict(
    {"phases": {"stateful": {"inference": {"algorithms": []}}}}
)


def _headers(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        ProductFactory(code="CB")
        db.session.add(ScoringRule(field="industry", operator="in", values=["Banking"], points=20))
        _, secret = services.create_api_key("fuzz", actor=services.get_user(world.a.admin.id))
        db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_no_input_makes_the_api_fail_or_break_its_schema(app, world):
    headers = _headers(app, world)
    schema = schemathesis.openapi.from_wsgi(SPEC, app)
    checked = []
    for result, mode in itertools.product(schema.get_all_operations(), GenerationMode):
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=60,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            # A schema-valid lead may still name an unknown country or product: the API
            # answers that with a documented 422, which this one check would count as a fault.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        fuzz()
        checked.append((operation.label, mode.value))
    assert len(checked) >= 12, checked


def test_no_sequence_of_linked_calls_makes_the_api_fail_or_break_its_schema(app, world):
    headers = _headers(app, world)
    schema = schemathesis.openapi.from_wsgi(SPEC, app, config=DOCUMENT_LINKS_ONLY)
    answered: set[tuple[str, int]] = set()

    with app.app_context():
        connection = db.engines[None]  # the test's own connection, rolled back after it

    class Workflow(schema.as_state_machine()):
        # Each scenario starts from the same database: a lead left by an earlier one would
        # change what a replayed scenario gets back, which Hypothesis reports as flaky.
        def setup(self):
            self.scenario = connection.begin_nested()

        def teardown(self):
            self.scenario.rollback()

        def get_call_kwargs(self, case):
            return {"headers": headers}

        def after_call(self, response, case):
            super().after_call(response, case)
            answered.add((case.operation.label, response.status_code))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response, checks=CHECKS, transport_kwargs=kwargs, recorder=self.recorder
            )

    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=60,
            stateful_step_count=10,
            derandomize=True,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )
    every_operation = {result.ok().label for result in schema.get_all_operations()}
    assert {label for label, _ in answered} == every_operation, sorted(answered)
    # The links carried real ids: leads created by the walk were read and given activities.
    assert {
        ("GET /api/v1/leads/{lead_id}", 200),
        ("POST /api/v1/leads/{lead_id}/activities", 201),
    } <= answered, sorted(answered)


# The document --------------------------------------------------------------------------------


def test_the_document_links_every_lead_it_answers_to_the_operations_on_that_lead(app, client):
    schemathesis.openapi.from_wsgi(SPEC, app).validate()  # still valid OpenAPI 3.1
    paths = client.get(SPEC).get_json()["paths"]
    leads, lead = paths["/api/v1/leads"], paths["/api/v1/leads/{lead_id}"]
    activities = paths["/api/v1/leads/{lead_id}/activities"]["post"]
    producers = {
        "create_lead": (leads["post"]["responses"]["201"], "$response.body#/id"),
        "create_batch": (
            paths["/api/v1/leads/batch"]["post"]["responses"]["200"],
            "$response.body#/items/0/lead_id",
        ),
        "list_leads": (leads["get"]["responses"]["200"], "$response.body#/items/0/id"),
        "add_activity": (activities["responses"]["201"], "$response.body#/id"),
    }
    for producer, (response, lead_id) in producers.items():
        targets = {
            name: (link["operationId"], link["parameters"])
            for name, link in response["links"].items()
        }
        assert {
            "GetLead": ("get_lead", {"lead_id": lead_id}),
            "AddActivity": ("add_activity", {"lead_id": lead_id}),
        }.items() <= targets.items(), producer
    read = lead["get"]["responses"]["200"]["links"]
    assert {name: link["parameters"]["lead_id"] for name, link in read.items()} == {
        "AddActivity": "$response.body#/id",
        "GetDuplicateOf": "$response.body#/duplicate_of_id",
        "GetMergedInto": "$response.body#/merged_into_id",
    }
    assert leads["get"]["responses"]["200"]["links"]["NextPage"]["parameters"]["cursor"] == (
        "$response.body#/next_cursor"
    )


def test_a_lead_known_by_its_external_id_is_answered_as_the_document_says(app, world, client):
    headers = _headers(app, world)
    schema = schemathesis.openapi.from_wsgi(SPEC, app)
    lead = {"company_name": "Kiel AG", "external_id": "k-1"}
    first = client.post("/api/v1/leads", json=lead, headers=headers)
    again = client.post("/api/v1/leads", json={**lead, "company_name": "Other"}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    document = client.get(SPEC).get_json()
    known = document["paths"]["/api/v1/leads"]["post"]["responses"]["200"]
    # It was documented as any JSON at all, so no check could catch a wrong answer.
    assert known["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LeadOut"
    }
    assert schema["/api/v1/leads"]["POST"].is_valid_response(again)


# Inputs that got a 500: a NUL on PostgreSQL, a time outside UTC's years on both --------------


def _leads_and_activities(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        return (
            db.session.scalar(sa.select(sa.func.count(Lead.id))),
            db.session.scalar(sa.select(sa.func.count(LeadActivity.id))),
        )


def _problem_fields(response):
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    return {error["field"]: error["message"] for error in response.get_json()["errors"]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("company_name", "\x00"),
        ("company_name", "Nord\x00bank"),
        ("external_id", "crm-\x00"),
        ("product", "\x00"),
        ("country", "D\x00"),
        ("bant", {"need": "backups\x00"}),
    ],
)
def test_a_lead_with_a_nul_character_is_refused_naming_the_field(app, world, client, field, value):
    headers = _headers(app, world)
    before = _leads_and_activities(app, world)

    response = client.post(
        "/api/v1/leads", json={"company_name": "Nordbank", field: value}, headers=headers
    )

    assert _problem_fields(response)[field] == NUL_MESSAGE
    assert _leads_and_activities(app, world) == before


def test_a_batch_item_with_a_nul_character_is_invalid_and_the_others_are_taken_in(
    app, world, client
):
    headers = _headers(app, world)
    items = [
        {"company_name": "Nordbank", "product": "CB\x00"},
        {"company_name": "Kiel\x00 AG"},
        {"company_name": "Lübeck GmbH"},
    ]

    response = client.post("/api/v1/leads/batch", json={"items": items}, headers=headers)

    answers = response.get_json()["items"]
    assert response.status_code == 200
    assert [answer["status"] for answer in answers] == ["invalid", "invalid", "created"]
    assert answers[0]["errors"] == {"product": NUL_MESSAGE}
    assert answers[1]["errors"] == {"company_name": NUL_MESSAGE}


@pytest.mark.parametrize(
    ("activity", "field"),
    [
        ({"activity_type": "web\x00inar"}, "activity_type"),
        # UTC has no year 0 or 10000 for these to fall in.
        ({"activity_type": "webinar", "occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at"),
        ({"activity_type": "webinar", "occurred_at": "9999-12-31T23:59:59-14:00"}, "occurred_at"),
    ],
)
def test_an_activity_the_database_cannot_hold_is_refused_naming_the_field(
    app, world, client, activity, field
):
    headers = _headers(app, world)
    lead = client.post("/api/v1/leads", json={"company_name": "Nordbank"}, headers=headers)
    before = _leads_and_activities(app, world)

    response = client.post(
        f"/api/v1/leads/{lead.get_json()['id']}/activities", json=activity, headers=headers
    )

    assert field in _problem_fields(response)
    assert _leads_and_activities(app, world) == before
