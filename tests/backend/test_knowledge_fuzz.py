"""The knowledge endpoints fuzzed from their own OpenAPI document, on SQLite and on
PostgreSQL (which refuses NUL characters the API must catch first): no 5xx, ever, and
every error is GenFlow's JSON error with the code of its status."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from quart.datastructures import FileStorage

from tests.backend.test_store_knowledge import FAQ
from tests.harness import ERROR_CODES, Harness, running_app
from tests.reliability.openapi import TEXT, Operation, body_bytes, near, operations

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one app for all examples, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
WHO = st.sampled_from(["alice"] * 4 + ["bob", "admin", "nobody"])
CONTENT_TYPES = st.sampled_from(
    ["application/json", "text/plain", None, "text/markdown", "application/pdf", "", "x/y"]
)


class Fuzzed:
    def __init__(self, h: Harness, base_id: str, document: dict[str, Any]) -> None:
        self.h, self.base_id, self.document = h, base_id, document
        self.ops = [op for op in operations(document) if op.path.startswith("/api/knowledge")]


@pytest.fixture(params=["sqlite", "postgresql"])
async def fuzzed(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Fuzzed]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    async with running_app(tmp_path, knowledge_max_document_bytes=4000, database_url=url) as h:
        created = await h.client.post(
            "/api/knowledge",
            json={"name": "faq", "documents": [{"name": "faq.md", "text": FAQ}]},
            headers=h.headers("alice"),
        )
        assert created.status_code == 201
        document = await (await h.client.get("/api/openapi.json")).get_json()
        yield Fuzzed(h, (await created.get_json())["id"], document)


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _sendable(text: str) -> str:
    """What an HTTP client can put in a header at all (no lone surrogates)."""
    return text.encode("utf-8", "replace").decode()


def headers(h: Harness, who: str) -> dict[str, str]:
    if who == "nobody":
        return {}
    return h.headers(who, admin=who == "admin")


def path(op: Operation, data: st.DataObject, base_id: str) -> str:
    # never the real base for DELETE: later examples need it
    others = st.sampled_from(["kb_x", "faq"]) | TEXT
    real = st.integers(0, 9).flatmap(lambda n: st.just(base_id) if n < 7 else others)
    value = data.draw(others if op.method == "delete" else real, "kb_id")
    encoded = quote(value.encode("utf-8", "surrogatepass"), safe="") or "%20"
    return op.path.replace("{kb_id}", encoded)


def query(op: Operation, data: st.DataObject, document: dict[str, Any]) -> dict[str, str]:
    args = {}
    for param in op.parameters:
        if param["in"] == "query" and data.draw(st.booleans(), "use " + param["name"]):
            value = data.draw(near(param.get("schema", {}), document), param["name"])
            args[param["name"]] = str(value)
    return {k: v.encode("utf-8", "replace").decode() for k, v in args.items()}


@FUZZ
@given(data=st.data(), who=WHO)
async def test_the_knowledge_endpoints_survive_fuzzing(
    fuzzed: Fuzzed, data: st.DataObject, who: str
) -> None:
    h = fuzzed.h
    op = data.draw(st.sampled_from(fuzzed.ops), "operation")
    url = path(op, data, fuzzed.base_id)
    sent: dict[str, Any] = {"headers": headers(h, who)}
    if op.path.endswith("/documents") and data.draw(st.booleans(), "multipart"):
        upload = FileStorage(
            io.BytesIO(data.draw(st.binary(max_size=64) | TEXT.map(_bytes), "file")),
            filename=data.draw(TEXT.map(_sendable), "filename"),
            content_type=data.draw(CONTENT_TYPES, "file type"),
        )
        sent["files"] = {data.draw(st.sampled_from(["file", "f", ""]), "field"): upload}
    elif op.body is not None:
        sent["data"] = data.draw(body_bytes(op.body, fuzzed.document), "body")
        content_type = data.draw(CONTENT_TYPES, "content type")
        if content_type is not None:
            sent["headers"]["Content-Type"] = content_type
    response = await h.client.open(
        url,
        method=op.method.upper(),
        query_string=query(op, data, fuzzed.document),
        **sent,
    )
    event(f"{op} {'files' if 'files' in sent else 'body'} -> {response.status_code}")
    text = await response.get_data(as_text=True)
    assert response.status_code < 500, (str(op), response.status_code, text[:300])
    if response.status_code >= 400:
        error = (await response.get_json())["error"]
        assert error["code"] == ERROR_CODES[response.status_code], error
        assert isinstance(error["message"], str) and error["message"]
