"""The ingest API's documentation works offline and reads as text: ``/docs`` and ``/redoc`` load
Swagger UI and ReDoc from a package's local assets (fastapi-offline), never from a CDN, and the
OpenAPI descriptions carry no reStructuredText markup."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.unit.test_api import make_client

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""")
MARKUP = re.compile(r":[a-z]+:`|``|::$", re.MULTILINE)


def _descriptions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield value
            else:
                yield from _descriptions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _descriptions(item)


def test_docs_pages_load_only_local_assets() -> None:
    client, _ = make_client()
    with client:
        for page in ("/docs", "/redoc"):
            resp = client.get(page)
            assert resp.status_code == 200
            assert "cdn" not in resp.text.lower() and "https://" not in resp.text
            assets = [a or b for a, b in ASSET.findall(resp.text)]
            scripts = [a for a in assets if a.endswith((".js", ".css"))]
            assert scripts, resp.text
            for asset in assets:
                assert asset.startswith("/"), asset  # served by this API
                got = client.get(asset)
                assert got.status_code == 200, asset
                if asset.endswith(".js"):
                    assert len(got.content) > 100_000  # the real bundle, not a stub


def test_openapi_descriptions_have_no_doc_markup() -> None:
    client, _ = make_client()
    spec = client.app.openapi()  # type: ignore[attr-defined]
    texts = list(_descriptions(spec))
    assert len(texts) > 10 and any("write key" in t.lower() for t in texts)
    found = {m for t in texts for m in MARKUP.findall(t)}
    assert not found, found
    assert "`ingest_config`" in spec["info"]["description"]  # a Markdown code span now


def test_crm_body_schema_lists_the_row_fields() -> None:
    client, _ = make_client()
    spec = client.app.openapi()  # type: ignore[attr-defined]
    body = spec["paths"]["/v1/sources/crm"]["post"]["requestBody"]["content"]["application/json"]
    row, batch = body["schema"]["anyOf"]
    assert set(row["properties"]) >= {"type", "id", "amount", "currency", "utm_source", "gclid"}
    assert row["required"] == ["type", "id"] and batch["properties"]["rows"]["items"] == row
