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
