"""The shapes of the JSON API, as Pydantic models; the OpenAPI document is made from them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from portal.leads.lifecycle import LeadState

Text = Annotated[str, Field(max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Bant(_Strict):
    budget: bool | Text | None = None
    authority: bool | Text | None = None
    need: Text | None = None
    timeline: Text | None = None


class LeadIn(_Strict):
    """A lead as marketing automation, a CRM or a web form sends it."""

    external_id: str | None = Field(
        None, max_length=100, description="Your id; a lead is taken in once per id."
    )
    source: str | None = Field(None, max_length=60, examples=["webinar"])
    campaign: str | None = Field(None, max_length=120)
    company_name: str = Field(min_length=1, max_length=200, examples=["Nordbank AG"])
    company_domain: str | None = Field(None, max_length=253, examples=["nordbank.example"])
    industry: str | None = Field(None, max_length=80)
    employees: int | None = Field(None, ge=0, le=10_000_000)
    contact_name: str | None = Field(None, max_length=120)
    contact_email: str | None = Field(None, max_length=254)
    contact_phone: str | None = Field(None, max_length=40)
    job_title: str | None = Field(None, max_length=120)
    country: str | None = Field(None, max_length=2, description="ISO 3166-1 alpha-2")
    subdivision: str | None = Field(None, max_length=6, description="ISO 3166-2, e.g. DE-BY")
    postal_code: str | None = Field(None, max_length=12)
    city: str | None = Field(None, max_length=120)
    product: str | None = Field(None, max_length=40, description="A product code of the tenant")
    deal_size: Decimal | None = Field(
        None, ge=0, max_digits=18, description="Expected deal size in major units, e.g. 48000.50"
    )
    currency: str | None = Field(None, min_length=3, max_length=3, description="ISO 4217")
    bant: Bant | None = None


class LeadBatchIn(_Strict):
    items: list[dict[str, object]] = Field(min_length=1, max_length=1000)


class ActivityIn(_Strict):
    activity_type: str = Field(min_length=1, max_length=40, examples=["webinar_attended"])
    occurred_at: AwareDatetime | None = Field(None, description="When it happened; default now")


class ScoreItem(BaseModel):
    source: str
    reason: str
    points: int


class EventOut(BaseModel):
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    actor: str
    reason: str | None


class LeadOut(BaseModel):
    id: int
    external_id: str | None
    state: LeadState
    score: int
    score_breakdown: list[ScoreItem]
    duplicate_of_id: int | None = Field(
        description="The earlier lead intake took this one for a duplicate of; kept once resolved"
    )
    duplicate_resolution: Literal["kept", "merged"] | None = Field(
        description="How a channel manager resolved the duplicate flag; null while open"
    )
    merged_into_id: int | None = Field(description="The lead this one was merged into")
    company_name: str
    company_domain: str | None
    country: str | None
    product: str | None
    deal_size: str | None = Field(description="Major units as a decimal string")
    currency: str | None
    created_at: datetime
    updated_at: datetime
    events: list[EventOut] | None = None


class LeadPage(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end"
    )


class ListQuery(_Strict):
    state: LeadState | None = None
    cursor: str | None = Field(None, max_length=10, pattern=r"^[0-9]{1,10}$")
    limit: int = Field(50, ge=1, le=500)


class BatchItemOut(BaseModel):
    index: int
    status: Literal["created", "existing", "invalid"]
    lead_id: int | None
    errors: dict[str, str]


class BatchOut(BaseModel):
    items: list[BatchItemOut]


class TenantOut(BaseModel):
    tenant: dict[str, str]
    key: dict[str, str]


# Every error of the API is an RFC 9457 problem; the OpenAPI document says so.
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "location": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def document_problems(spec: dict) -> dict:
    """Give every error response the problem-details media type and the common errors."""
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
                responses.setdefault("400", {"description": "The body is missing or not JSON"})
            for status, text in (("401", "No key, or an unknown or revoked one"),
                                 ("413", "The body is too large")):  # fmt: skip
                responses.setdefault(status, {"description": text})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = {"application/problem+json": {"schema": PROBLEM_SCHEMA}}
    return spec
