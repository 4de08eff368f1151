"""The OpenAPI document turned into a page people read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Field:
    name: str
    type: str
    required: bool
    description: str


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    body: list[Field] = field(default_factory=list)
    query: list[Field] = field(default_factory=list)
    responses: list[tuple[str, str]] = field(default_factory=list)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    return schema.get("format") or schema.get("type", "any")


def _fields(spec: dict[str, Any], schema: dict[str, Any]) -> list[Field]:
    schema = _resolve(spec, schema)
    required = set(schema.get("required", []))
    return [
        Field(name, _type(prop), name in required, prop.get("description", ""))
        for name, prop in schema.get("properties", {}).items()
    ]


def operations(spec: dict[str, Any]) -> list[Operation]:
    """Every operation of the document, in path order, with its inputs and answers."""
    found = []
    for path, methods in sorted(spec.get("paths", {}).items()):
        for method, op in methods.items():
            body_schema = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            query = [
                Field(p["name"], _type(p.get("schema", {})), p.get("required", False),
                      p.get("description", ""))
                for p in op.get("parameters", []) if p.get("in") == "query"
            ]  # fmt: skip
            found.append(
                Operation(
                    method.upper(),
                    path,
                    op.get("summary", ""),
                    op.get("description", ""),
                    _fields(spec, body_schema) if body_schema else [],
                    query,
                    sorted((code, r.get("description", "")) for code, r in op["responses"].items()),
                )
            )
    return found
