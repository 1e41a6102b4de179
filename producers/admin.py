"""Admin routes of the ingest API (issue 12): ``POST /v1/admin/erasures`` erases a person
everywhere (:mod:`touchline.privacy`), ``POST /v1/admin/suppressions/lift`` lifts a suppression.

Only an *admin* key (``TOUCHLINE_ADMIN_KEYS``, key -> account or ``"*"``) opens them: no key or an
unknown one is 401, a write key or an admin key of another account is 403, and with no admin key
configured the routes refuse everyone (403), in open local mode too. A bad body is 400 naming
the field. Unlike refused events, a refused erase request is not dead-lettered: its body is the
personal data being erased.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from touchline import privacy
from touchline.errors import TouchlineError
from touchline.settings import Settings

WHO = ("client", "email", "phone", "cid")
_ERROR = {"content": {"application/json": {"schema": {"type": "object"}}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Done (erased and verified, or lifted)."},
    400: {"description": "Bad body; `field` names what is wrong.", **_ERROR},
    401: {"description": "No valid admin key.", **_ERROR},
    403: {"description": "The key has no admin scope for this account.", **_ERROR},
    409: {"description": "ClickHouse or the sink could not run the erase now.", **_ERROR},
    500: {"description": "Erased, but a count afterwards was not zero.", **_ERROR},
}
BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["account"],
                    "properties": {
                        "account": {"type": "string"},
                        **{k: {"type": "string"} for k in WHO},
                    },
                }
            }
        },
    }
}
Eraser = Callable[[Settings, privacy.Request], privacy.Result]
Lifter = Callable[[Settings, privacy.Request], int]


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body = {"error": message, **({"field": field} if field else {})}
    return JSONResponse(body, status_code=status)


def _key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("x-touchline-key")


async def _request(settings: Settings, request: Request) -> privacy.Request | JSONResponse:
    """The authorised request, or the refusal to answer."""
    key = _key(request)
    if not key:
        return _error(401, "an admin key is required")
    if key not in settings.admin_keys:
        if key in settings.ingest_write_keys:
            return _error(403, "this key has no admin scope")
        return _error(401, "a valid admin key is required")
    try:
        body: Any = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        return _error(400, f"body is not valid JSON: {exc}", "$")
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object", "$")
    account = body.get("account")
    if not isinstance(account, str) or not account.strip():
        return _error(400, "required, a non-empty string", "$.account")
    scope = settings.admin_keys[key]
    if scope not in ("*", account):
        return _error(403, f"this admin key may not act for account {account!r}", "$.account")
    who = {k: body.get(k) for k in WHO if body.get(k) is not None}
    if len(who) != 1 or not all(isinstance(v, str) for v in who.values()):
        return _error(400, "give exactly one of client, email, phone, cid (a string)", "$")
    req = privacy.Request(account, requested_by="http", **who)
    try:
        req.identifier_keys(settings.phone_region)
    except TouchlineError as exc:
        field = str(exc).split(":", 1)[0]
        return _error(400, str(exc), f"$.{field}" if field in WHO else "$")
    return req


def add_admin_routes(
    app: FastAPI,
    settings: Settings,
    eraser: Eraser = privacy.erase,
    lifter: Lifter = privacy.lift,
) -> None:
    @app.post("/v1/admin/erasures", tags=["admin"], responses=RESPONSES, openapi_extra=BODY)
    async def erase(request: Request) -> JSONResponse:
        """Erase a person's identity cluster everywhere and suppress their events; answers once
        it is done and verified, with the counts and the erasure log's request id."""
        req = await _request(settings, request)
        if isinstance(req, JSONResponse):
            return req
        try:
            result = await asyncio.to_thread(eraser, settings, req)
        except TouchlineError as exc:  # e.g. ClickHouse unreachable: say what went wrong
            return _error(409, str(exc))
        return JSONResponse(
            {
                "request_id": result.request_id,
                "clients": result.clients,
                "counts": result.counts,
                "suppressed": result.suppressed,
                "verified": result.verified,
            },
            status_code=200 if result.verified else 500,
        )

    @app.post(
        "/v1/admin/suppressions/lift", tags=["admin"], responses=RESPONSES, openapi_extra=BODY
    )
    async def lift(request: Request) -> JSONResponse:
        """Lift the suppression of one identifier: the person's new events are stored again."""
        req = await _request(settings, request)
        if isinstance(req, JSONResponse):
            return req
        lifted = await asyncio.to_thread(lifter, settings, req)
        return JSONResponse({"lifted": lifted})
