"""Knowledge bases over REST, through Quart's test client: create, upload (JSON and
multipart), read, search, delete; other principals, admins; and every refusal with its
status and error code (400/404/409/413/415/422), never a 500."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart.datastructures import FileStorage

from tests.backend.test_store_knowledge import FAQ
from tests.harness import ERROR_CODES, Harness, running_app

LIMIT = 4_000  # GENFLOW_KNOWLEDGE_MAX_DOCUMENT_BYTES in these tests


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_app(tmp_path, knowledge_max_document_bytes=LIMIT) as harness:
        yield harness


async def create(h: Harness, sub: str = "alice", **body: Any) -> dict[str, Any]:
    body.setdefault("name", "faq")
    response = await h.client.post("/api/knowledge", json=body, headers=h.headers(sub))
    assert response.status_code == 201, await response.get_json()
    return await response.get_json()


async def error(response: Any, status: int) -> dict[str, Any]:
    """The error body, after checking the status and GenFlow's error shape."""
    body = await response.get_json()
    assert response.status_code == status, body
    assert body["error"]["code"] == ERROR_CODES[status]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def file(data: bytes, filename: str, content_type: str | None = None) -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=filename, content_type=content_type)


async def upload(h: Harness, base_id: str, sub: str = "alice", **files: FileStorage) -> Any:
    return await h.client.post(
        f"/api/knowledge/{base_id}/documents", files=files, headers=h.headers(sub)
    )


async def search(h: Harness, base_id: str, q: str, sub: str = "alice", **args: Any) -> Any:
    return await h.client.get(
        f"/api/knowledge/{base_id}/search",
        query_string={"q": q, **args},
        headers=h.headers(sub),
    )


async def test_create_with_documents_read_list_search_and_delete(h: Harness) -> None:
    created = await create(
        h,
        description="what customers ask",
        documents=[{"name": "faq.md", "text": FAQ}, {"name": "notes.txt", "text": "Hi."}],
    )
    assert created["id"].startswith("kb_") and created["owner"] == "alice"
    assert (created["name"], created["description"]) == ("faq", "what customers ask")
    assert (created["document_count"], created["chunk_count"]) == (2, 7)
    assert [(d["name"], d["mime"], d["chunks"]) for d in created["documents"]] == [
        ("faq.md", "text/markdown", 6),
        ("notes.txt", "text/plain", 1),
    ]
    base_id = created["id"]

    listed = await (await h.client.get("/api/knowledge", headers=h.headers())).get_json()
    assert [b["id"] for b in listed["knowledge_bases"]] == [base_id]
    shown = await (await h.client.get(f"/api/knowledge/{base_id}", headers=h.headers())).get_json()
    assert [d["name"] for d in shown["documents"]] == ["faq.md", "notes.txt"]
    assert shown["chunk_count"] == 7

    response = await search(h, base_id, "How do I get a refund?", top_k=2)
    assert response.status_code == 200
    found = await response.get_json()
    assert found["query"] == "How do I get a refund?"
    assert len(found["results"]) <= 2
    assert found["results"][0]["source"] == "faq.md#Refunds"
    assert set(found["results"][0]) == {"text", "source", "score"}

    response = await h.client.delete(f"/api/knowledge/{base_id}", headers=h.headers())
    assert response.status_code == 204
    await error(await h.client.get(f"/api/knowledge/{base_id}", headers=h.headers()), 404)
    await error(await search(h, base_id, "refund"), 404)
    await error(await h.client.delete(f"/api/knowledge/{base_id}", headers=h.headers()), 404)


async def test_upload_as_json_and_again_replaces(h: Harness) -> None:
    base_id = (await create(h))["id"]
    url = f"/api/knowledge/{base_id}/documents"
    response = await h.client.post(
        url, json={"name": "faq.md", "text": FAQ[:3000]}, headers=h.headers()
    )
    assert response.status_code == 201, await response.get_json()
    added = await response.get_json()
    assert added["chunks"] >= 3 and added["documents"][0]["replaced"] is False
    assert added["knowledge_base"]["document_count"] == 1
    text = "# Refunds\n\nRefunds take ten days now."
    response = await h.client.post(url, json={"name": "faq.md", "text": text}, headers=h.headers())
    again = await response.get_json()
    assert again["chunks"] == 1 and again["documents"][0]["replaced"] is True
    assert again["knowledge_base"]["document_count"] == 1
    results = (await (await search(h, base_id, "refund")).get_json())["results"]
    assert [r["text"] for r in results] == ["Refunds\n\nRefunds take ten days now."]


async def test_upload_files_as_multipart(h: Harness) -> None:
    base_id = (await create(h))["id"]
    response = await upload(
        h,
        base_id,
        file=file(FAQ[:3000].encode(), "faq.md", "application/octet-stream"),  # as curl sends
        other=file("Ünïcödé plain text about parking.".encode(), "parking.txt", "text/plain"),
    )
    assert response.status_code == 201, await response.get_json()
    added = await response.get_json()
    assert [(d["name"], d["mime"]) for d in added["documents"]] == [
        ("faq.md", "text/markdown"),
        ("parking.txt", "text/plain"),
    ]
    assert added["chunks"] == sum(d["chunks"] for d in added["documents"])
    results = (await (await search(h, base_id, "parking")).get_json())["results"]
    assert results[0]["source"] == "parking.txt"
    bom = file(b"\xef\xbb\xbf# Hours\n\nOpen nine to five.", "C:\\docs\\hours.markdown")
    response = await h.client.post(
        f"/api/knowledge/{base_id}/documents",
        files={"file": bom},
        form={"name": "opening.md"},
        headers=h.headers(),
    )
    assert response.status_code == 201, await response.get_json()
    assert (await response.get_json())["documents"][0]["name"] == "opening.md"
    results = (await (await search(h, base_id, "open hours")).get_json())["results"]
    assert results[0] == {**results[0], "source": "opening.md#Hours"}
    assert results[0]["text"] == "Hours\n\nOpen nine to five."  # no BOM left


async def test_another_principal_gets_404_and_an_admin_sees_all(h: Harness) -> None:
    base_id = (await create(h, documents=[{"name": "faq.md", "text": FAQ[:3000]}]))["id"]
    await create(h, sub="bob")  # bob may have a "faq" of his own
    for response in [
        await h.client.get(f"/api/knowledge/{base_id}", headers=h.headers("bob")),
        await search(h, base_id, "refund", sub="bob"),
        await h.client.post(
            f"/api/knowledge/{base_id}/documents",
            json={"name": "x.md", "text": "x"},
            headers=h.headers("bob"),
        ),
        await upload(h, base_id, sub="bob", file=file(b"x", "x.md")),
        await h.client.delete(f"/api/knowledge/{base_id}", headers=h.headers("bob")),
    ]:
        await error(response, 404)
    bobs = await (await h.client.get("/api/knowledge", headers=h.headers("bob"))).get_json()
    assert [b["owner"] for b in bobs["knowledge_bases"]] == ["bob"]
    admin = h.headers("root", admin=True)
    everyone = await (await h.client.get("/api/knowledge", headers=admin)).get_json()
    assert {b["owner"] for b in everyone["knowledge_bases"]} == {"alice", "bob"}
    assert (await h.client.get(f"/api/knowledge/{base_id}", headers=admin)).status_code == 200
    assert (await h.client.get("/api/knowledge")).status_code == 401
    assert await h.services.knowledge.names("alice") == {base_id, "faq"}


async def test_a_duplicate_name_is_409(h: Harness) -> None:
    await create(h, name="faq")
    response = await h.client.post("/api/knowledge", json={"name": "faq"}, headers=h.headers())
    assert (await error(response, 409))["details"][0]["field"] == "name"
    response = await h.client.post("/api/knowledge", json={"name": " faq "}, headers=h.headers())
    await error(response, 409)  # names are trimmed


async def test_too_large_is_413(h: Harness) -> None:
    base_id = (await create(h))["id"]
    big = "word " * (LIMIT // 5 + 1)
    response = await h.client.post(
        f"/api/knowledge/{base_id}/documents",
        json={"name": "big.txt", "text": big},
        headers=h.headers(),
    )
    assert "big.txt" in (await error(response, 413))["message"]
    await error(await upload(h, base_id, file=file(big.encode(), "big.txt", "text/plain")), 413)
    response = await h.client.post(
        "/api/knowledge",
        json={"name": "other", "documents": [{"name": "big.md", "text": big}]},
        headers=h.headers(),
    )
    await error(response, 413)
    huge = {"name": "x.txt", "text": "x" * (h.settings.max_upload_bytes + 1)}
    response = await h.client.post(
        f"/api/knowledge/{base_id}/documents", json=huge, headers=h.headers()
    )
    await error(response, 413)
    names = {
        b["name"]
        for b in (await (await h.client.get("/api/knowledge", headers=h.headers())).get_json())[
            "knowledge_bases"
        ]
    }
    assert names == {"faq"}  # nothing was stored for the refused create


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "says"),
    [
        (b"%PDF-1.7 ...", "manual.pdf", "application/pdf", "application/pdf"),
        (b"MZ\x90\x00", "tool.exe", "application/octet-stream", "not a text document"),
        (b"MZ\x00\x00", "tool", None, "binary"),
        ("caf\xe9".encode("latin-1"), "menu.txt", "text/plain", "not UTF-8"),
        (b"caf\xc3\xa9", "menu.txt", "text/plain; charset=latin-1", "latin-1"),
        (b"<html></html>", "page.html", "text/html", "text/html"),
    ],
)
async def test_what_is_not_utf8_text_is_415(
    h: Harness, data: bytes, filename: str, content_type: str | None, says: str
) -> None:
    base_id = (await create(h))["id"]
    refused = await error(await upload(h, base_id, file=file(data, filename, content_type)), 415)
    assert says in refused["message"] and "text/markdown" in refused["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x.md", "text": "   \n\n  "}, "body.text"),
        ({"name": "x.md", "text": "a\x00b"}, "body.text"),
        ({"name": "x.md", "text": ""}, "body.text"),
        ({"name": "", "text": "hello"}, "body.name"),
        ({"name": "../", "text": "hello"}, "body.name"),
        ({"name": "x.md"}, "body"),
        ({"name": "x.md", "text": "hi", "mime": "application/pdf"}, "body.mime"),
        ({"name": "x.md", "text": "hi", "extra": 1}, "body"),
    ],
)
async def test_a_bad_json_document_is_422(h: Harness, body: dict[str, Any], field: str) -> None:
    base_id = (await create(h))["id"]
    response = await h.client.post(
        f"/api/knowledge/{base_id}/documents", json=body, headers=h.headers()
    )
    refused = await error(response, 422)
    assert any(d["field"].startswith(field) for d in refused["details"]), refused


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "kb_00112233"},
        {"name": "a\nb"},
        {"name": "x" * 101},
        {"name": "nul\x00"},
        {"name": "ok", "description": "\x00"},
        {"name": "ok", "documents": [{"name": "a.md", "text": "x"}, {"name": "a.md", "text": "y"}]},
        {"description": "no name"},
    ],
)
async def test_a_bad_base_is_422(h: Harness, body: dict[str, Any]) -> None:
    await error(await h.client.post("/api/knowledge", json=body, headers=h.headers()), 422)


async def test_malformed_requests_are_400_or_422(h: Harness) -> None:
    base_id = (await create(h))["id"]
    response = await h.client.post(
        "/api/knowledge",
        data=b"{not json",
        headers={**h.headers(), "Content-Type": "application/json"},
    )
    await error(response, 400)
    response = await h.client.post(
        f"/api/knowledge/{base_id}/documents",
        data=b"--x\r\nnot really\r\n",
        headers={**h.headers(), "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code in (400, 422)
    await error(response, response.status_code)
    response = await h.client.post(
        f"/api/knowledge/{base_id}/documents",
        form={"name": "no-file.md"},
        files={},
        headers=h.headers(),
    )
    await error(response, 422)
    await error(await search(h, base_id, ""), 422)
    await error(await search(h, base_id, "x" * 1001), 422)
    await error(await search(h, base_id, "refund", top_k=0), 422)
    await error(await search(h, base_id, "refund", top_k="many"), 422)


@pytest.mark.parametrize("q", ['"', "NEAR(", "refund*", "-", "OR", "!!!", "\x00", "😀"])
async def test_any_query_is_200(h: Harness, q: str) -> None:
    base_id = (await create(h, documents=[{"name": "faq.md", "text": FAQ[:3000]}]))["id"]
    response = await search(h, base_id, q)
    assert response.status_code == 200, await response.get_json()
    assert isinstance((await response.get_json())["results"], list)


async def test_the_api_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """The same endpoints with the scale-out store: uploads, search, 409, cascade."""
    async with running_app(
        tmp_path, knowledge_max_document_bytes=LIMIT, database_url=postgres_url
    ) as h:
        base_id = (await create(h, documents=[{"name": "faq.md", "text": FAQ}]))["id"]
        response = await upload(h, base_id, file=file(b"# Parking\n\nBehind the shop.", "p.md"))
        assert response.status_code == 201, await response.get_json()
        await error(
            await h.client.post("/api/knowledge", json={"name": "faq"}, headers=h.headers()), 409
        )
        response = await h.client.post(
            "/api/knowledge", json={"name": "nul\x00"}, headers=h.headers()
        )
        await error(response, 422)
        await error(await h.client.get("/api/knowledge/kb_%00", headers=h.headers()), 404)
        results = (await (await search(h, base_id, "Do gift cards expire?")).get_json())["results"]
        assert results[0]["source"] == "faq.md#Gift cards"
        results = (await (await search(h, base_id, "where do I park")).get_json())["results"]
        assert results[0]["source"] == "p.md#Parking"
        for q in ['"', "NEAR(", "-", "\x00", "refund & | ! <->", "'"]:
            assert (await search(h, base_id, q)).status_code == 200, q
        assert (
            await h.client.delete(f"/api/knowledge/{base_id}", headers=h.headers())
        ).status_code == 204
        assert await h.services.store.search(base_id, "refund", 5) == []
