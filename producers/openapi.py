"""The OpenAPI description of the ingest API's answers: the result and error bodies, what each
status code means, and the request body spec of the ``POST`` routes."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "reason": {"type": "string"},
        "field": {"type": "string"},
    },
    "required": ["error"],
}
RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "accepted": {"type": "integer"},
        "event_ids": {"type": "array", "items": {"type": "string"}},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "field": {"type": "string"},
                                "reason": {"type": "string"},
                            },
                            "required": ["field", "reason"],
                        },
                    },
                },
                "required": ["index", "errors"],
            },
        },
    },
    "required": ["accepted", "event_ids", "rejected"],
}
RESULT_SCHEMA["properties"]["flagged"] = RESULT_SCHEMA["properties"]["rejected"]

DESCRIPTIONS = {
    202: "Every event was acknowledged by Kafka.",
    207: "Some events were acknowledged, the others rejected (see `rejected`).",
    400: "No event accepted: invalid JSON, or every event invalid.",
    401: "Missing or unknown write key.",
    413: "Body larger than the byte limit, more events than the batch limit, or every event "
    "refused by Kafka as too large.",
    415: "Content type is not application/json.",
    429: "Rate limit of the write key exceeded; see Retry-After.",
    503: "Kafka unavailable or the producer queue is full; retry after Retry-After.",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route answering ``codes``."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        schema = RESULT_SCHEMA if code in (202, 207) else ERROR_SCHEMA
        if code in (400, 413):
            schema = {"oneOf": [RESULT_SCHEMA, ERROR_SCHEMA]}
        out[code] = {
            "description": DESCRIPTIONS[code],
            "content": {"application/json": {"schema": schema}},
        }
    return out


POST_RESPONSES = responses(202, 207, 400, 401, 413, 415, 429, 503)


def body_spec(schema: dict[str, Any]) -> dict[str, Any]:
    """The ``openapi_extra`` declaring a required JSON request body of ``schema``."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def fields_read(convert: Any, sample: dict[str, Any]) -> list[str]:
    """The keys an adapter reads from a flat row, in the order it reads them: ``convert`` maps
    ``sample`` (a minimal valid row) while every lookup is recorded."""
    seen: dict[str, None] = {}

    class Recording(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            seen[key] = None
            return super().get(key, default)

    convert(Recording(sample), None)
    return list(seen)


def crm_body() -> dict[str, Any]:
    """The CRM source's request body: one flat row or ``{"rows": [...]}``, with the row fields the
    adapter reads (values are strings or numbers; empty or null means absent)."""
    from producers.adapters.crm import row_to_event

    sample = {"type": "lead", "id": "1", "created_at": "2025-01-01", "account_id": "a"}
    properties: dict[str, Any] = {
        f: {"type": ["string", "number", "null"]} for f in fields_read(row_to_event, sample)
    }
    properties["type"] = {"type": "string", "description": "lead or deal"}
    row = {
        "type": "object",
        "properties": properties,
        "required": ["type", "id"],
        "additionalProperties": True,
    }
    rows = {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": row}},
        "required": ["rows"],
    }
    return {"anyOf": [row, rows]}
