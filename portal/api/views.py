"""The JSON API under /api/v1, authenticated by tenant API keys (Authorization: Bearer)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import g
from pydantic import ValidationError as PydanticError

from portal.api import schemas
from portal.api.idempotency import idempotent
from portal.api.present import lead_json
from portal.db import MAX_ID
from portal.errors import ValidationFailed
from portal.leads import bulk_intake, intake
from portal.leads import services as lead_services
from portal.tenancy.policy import api_key

bp = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="Leads")

AUTH = {"security": "ApiKey"}
# What @idempotent answers when it cannot act for the key.
KEY_IN_USE = (
    "The Idempotency-Key was used with another body, or its first request is still being "
    "answered (retry soon)"
)
# The answer to a lead whose external_id was taken in before: that lead, as a 201 shows it.
# It has no links: APIFlask puts links only on the response of @output.
KNOWN_LEAD = {
    "description": "The external_id was known",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LeadOut"}}},
}


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to the operation, its parameters as runtime expressions."""
    return {"operationId": operation_id, "parameters": parameters, "description": description}


def _lead_links(lead_id: str) -> dict[str, Any]:
    """OpenAPI links from an answer naming a lead (at the runtime expression) to its operations."""
    return {
        "GetLead": _link("get_lead", "The lead with its state and history", lead_id=lead_id),
        "AddActivity": _link("add_activity", "Record an activity on the lead", lead_id=lead_id),
    }


def _actor() -> str:
    return f"api key {g.api_key.name}"


def _lead_data(body: Any) -> dict[str, Any]:
    data = body.model_dump(exclude_none=True)
    if "deal_size" in data:
        data["deal_size"] = str(data["deal_size"])
    return data


@bp.get("/tenant")
@api_key
@bp.output(
    schemas.TenantOut,
    links={"ListLeads": _link("list_leads", "The leads of the tenant, a page at a time")},
)
@bp.doc(summary="The tenant this key belongs to", operation_id="tenant", **AUTH)
def tenant() -> Any:
    key = g.api_key
    return {
        "tenant": {"slug": key.tenant.slug, "name": key.tenant.name},
        "key": {"name": key.name, "prefix": key.prefix},
    }


@bp.post("/leads")
@api_key
@idempotent
@bp.input(schemas.LeadIn, arg_name="body")
@bp.output(schemas.LeadOut, status_code=201, links=_lead_links("$response.body#/id"))
@bp.doc(
    summary="Take in one lead",
    description="Scores the lead at once. A known external_id answers 200 with the lead taken "
    "in before. An Idempotency-Key header makes a retry return the first answer.",
    responses={200: KNOWN_LEAD, 409: KEY_IN_USE, 422: "Invalid fields"},
    operation_id="create_lead",
    **AUTH,
)  # fmt: skip
def create_lead(body: schemas.LeadIn) -> Any:
    taken = intake.take_in(_lead_data(body), actor=_actor(), channel="the API")
    return lead_json(taken.lead), 201 if taken.created else 200


@bp.post("/leads/batch")
@api_key
@idempotent
@bp.input(schemas.LeadBatchIn, arg_name="body")
@bp.output(schemas.BatchOut, links=_lead_links("$response.body#/items/0/lead_id"))
@bp.doc(
    summary="Take in up to 1,000 leads",
    operation_id="create_batch",
    description="Each item is answered on its own: created, existing (known external_id) or "
    "invalid with its field errors. Invalid items never stop the valid ones.",
    responses={409: KEY_IN_USE},
    **AUTH,
)
def create_batch(body: schemas.LeadBatchIn) -> Any:
    answers: dict[int, dict[str, Any]] = {}
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(body.items):
        try:
            valid.append((index, _lead_data(schemas.LeadIn.model_validate(item))))
        except PydanticError as exc:
            answers[index] = _answer(index, "invalid", None, _field_errors(exc))
    results = bulk_intake.take_in_batch(
        [data for _, data in valid], actor=_actor(), channel="the API"
    )
    for (index, _), result in zip(valid, results, strict=True):
        answers[index] = _answer(index, result.status, result.lead_id, result.errors)
    return {"items": [answers[i] for i in range(len(body.items))]}


def _answer(index: int, status: str, lead_id: int | None, errors: dict[str, str]) -> dict[str, Any]:
    return {"index": index, "status": status, "lead_id": lead_id, "errors": errors}


def _field_errors(exc: PydanticError) -> dict[str, str]:
    return {".".join(str(p) for p in e["loc"]) or "item": e["msg"] for e in exc.errors()}


@bp.get("/leads")
@api_key
@bp.input(schemas.ListQuery, location="query", arg_name="query")
@bp.output(
    schemas.LeadPage,
    links={
        **_lead_links("$response.body#/items/0/id"),
        "NextPage": _link(
            "list_leads",
            "The next page, with the same filter and size",
            cursor="$response.body#/next_cursor",
            state="$request.query.state",
            limit="$request.query.limit",
        ),
    },
)
@bp.doc(summary="List leads, oldest first, a page at a time", operation_id="list_leads", **AUTH)
def list_leads(query: schemas.ListQuery) -> Any:
    cursor = None
    if query.cursor:
        if not query.cursor.isdigit():
            raise ValidationFailed({"cursor": "Pass back the next_cursor of the previous page."})
        cursor = min(int(query.cursor), MAX_ID)
    rows, next_cursor = lead_services.leads_after(cursor, query.limit, query.state)
    return {
        "items": [lead_json(lead) for lead in rows],
        "next_cursor": str(next_cursor) if next_cursor else None,
    }


@bp.get("/leads/<int:lead_id>")
@api_key
@bp.output(
    schemas.LeadOut,
    links={
        "AddActivity": _link(
            "add_activity", "Record an activity on the lead", lead_id="$response.body#/id"
        ),
        "GetDuplicateOf": _link(
            "get_lead",
            "The earlier lead this one was flagged a duplicate of",
            lead_id="$response.body#/duplicate_of_id",
        ),
        "GetMergedInto": _link(
            "get_lead",
            "The lead this one was merged into",
            lead_id="$response.body#/merged_into_id",
        ),
    },
)
@bp.doc(
    summary="One lead with its state and history",
    responses={404: "No such lead"},
    operation_id="get_lead",
    **AUTH,
)
def get_lead(lead_id: int) -> Any:
    return lead_json(intake.get_lead(lead_id), with_events=True)


@bp.post("/leads/<int:lead_id>/activities")
@api_key
@idempotent
@bp.input(schemas.ActivityIn, arg_name="body")
@bp.output(schemas.LeadOut, status_code=201, links=_lead_links("$response.body#/id"))
@bp.doc(
    summary="Record an engagement activity; the lead is scored again",
    operation_id="add_activity",
    description="For a lead merged into another, the activity is recorded on that lead, "
    "and that lead is answered.",
    responses={404: "No such lead", 409: KEY_IN_USE, 422: "Invalid fields"},
    **AUTH,
)
def add_activity(lead_id: int, body: schemas.ActivityIn) -> Any:
    lead = intake.record_activity(lead_id, body.activity_type, body.occurred_at, actor=_actor())
    return lead_json(lead, with_events=True), 201
