"""Knowledge bases over REST (`/api/knowledge…`): create, upload, read, search, delete.

Documents come as JSON (`{name, text}`) or as files in a multipart form (`curl -F
file=@faq.md`). Their bodies may be larger than other requests' (a document of up to
GENFLOW_KNOWLEDGE_MAX_DOCUMENT_BYTES, escaped or framed); each document is checked
against that limit (413), its type (415) and its text (422) before anything is stored.
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, request
from quart.datastructures import FileStorage

from backend.api.common import int_arg, json_body, principal
from backend.errors import BadRequest, InvalidInput, PayloadTooLarge
from backend.knowledge.service import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS
from backend.knowledge.uploads import MAX_NAME_CHARS as MAX_DOCUMENT_NAME_CHARS
from backend.knowledge.uploads import MIMES, Upload, from_file, from_json
from backend.services import services
from backend.store.fulltext import MAX_TOP_K

blueprint = Blueprint("knowledge", __name__)

MAX_QUERY_CHARS = 1000
MAX_DOCUMENTS = 50  # in one request

DOCUMENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_DOCUMENT_NAME_CHARS},
        "text": {"type": "string", "minLength": 1},
        "mime": {"type": "string", "enum": list(MIMES)},
    },
    "required": ["name", "text"],
    "additionalProperties": False,
}
CREATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS},
        "documents": {"type": "array", "items": DOCUMENT, "maxItems": MAX_DOCUMENTS},
    },
    "required": ["name"],
    "additionalProperties": False,
}


@blueprint.post("/api/knowledge")
async def create_base() -> tuple[dict, int, dict]:
    who = principal()
    body = await json_body(CREATE, limit=services().settings.max_upload_bytes)
    uploads = [
        _json_document(document, f"body.documents.{i}")
        for i, document in enumerate(body.get("documents", []))
    ]
    base, documents = await services().knowledge.create(
        who, name=body["name"], description=body.get("description", ""), documents=uploads
    )
    shown = {**base.to_json(), "documents": [d.to_json() for d in documents]}
    return shown, 201, {"Location": f"/api/knowledge/{base.id}"}


@blueprint.get("/api/knowledge")
async def list_bases() -> dict:
    bases = await services().knowledge.bases(principal())
    return {"knowledge_bases": [base.to_json() for base in bases]}


@blueprint.get("/api/knowledge/<kb_id>")
async def get_base(kb_id: str) -> dict:
    knowledge = services().knowledge
    base = await knowledge.get(kb_id, principal())
    documents = await knowledge.documents(base)
    return {**base.to_json(), "documents": [d.to_json() for d in documents]}


@blueprint.delete("/api/knowledge/<kb_id>")
async def delete_base(kb_id: str) -> tuple[str, int]:
    await services().knowledge.delete(kb_id, principal())
    return "", 204


@blueprint.post("/api/knowledge/<kb_id>/documents")
async def add_documents(kb_id: str) -> tuple[dict, int]:
    who = principal()
    knowledge = services().knowledge
    await knowledge.get(kb_id, who)  # 404 before reading a large body for nothing
    if request.mimetype == "multipart/form-data":
        uploads = await _files()
    else:
        body = await json_body(DOCUMENT, limit=services().settings.max_upload_bytes)
        uploads = [_json_document(body, "body")]
    base, added = await knowledge.add(kb_id, who, uploads)
    return {
        "knowledge_base": base.to_json(),
        "documents": [{**document.to_json(), "replaced": replaced} for document, replaced in added],
        "chunks": sum(document.chunk_count for document, _ in added),
    }, 201


@blueprint.get("/api/knowledge/<kb_id>/search")
async def search(kb_id: str) -> dict:
    who = principal()
    query = request.args.get("q", "")
    problem = None
    if not query.strip():
        problem = "required: the words to search for"
    elif len(query) > MAX_QUERY_CHARS:
        problem = f"at most {MAX_QUERY_CHARS} characters"
    if problem:
        raise InvalidInput(f"q: {problem}", [{"field": "q", "message": problem}])
    top_k = int_arg("top_k", 5, low=1, high=MAX_TOP_K)
    results = await services().knowledge.search(kb_id, who, query, top_k)
    return {"query": query, "results": results}


def _json_document(document: dict[str, Any], field: str) -> Upload:
    limit = services().settings.knowledge_max_document_bytes
    return from_json(
        document["name"], document["text"], document.get("mime"), limit=limit, field=field
    )


async def _files() -> list[Upload]:
    """The files of a multipart upload, each a document (named by its file name, or by
    the form's `name` field when there is one file)."""
    limit = services().settings.knowledge_max_document_bytes
    most = services().settings.max_upload_bytes
    if (request.content_length or 0) > most:
        raise PayloadTooLarge(f"the upload is larger than {most} bytes")
    try:
        files = await request.files
        form = await request.form
    except ValueError as exc:  # a malformed multipart body
        raise BadRequest(f"the multipart body cannot be read: {exc}") from exc
    parts: list[FileStorage] = [part for _, part in files.items(multi=True)]
    if not parts:
        raise InvalidInput(
            "no file in the upload", [{"field": "file", "message": "send the document as a file"}]
        )
    if len(parts) > MAX_DOCUMENTS:
        raise InvalidInput(
            f"at most {MAX_DOCUMENTS} files in one upload",
            [{"field": "file", "message": f"at most {MAX_DOCUMENTS}"}],
        )
    rename = form.get("name") if len(parts) == 1 else None
    uploads = []
    try:
        for part in parts:
            data = await asyncio.to_thread(part.stream.read, limit + 1)
            name = rename or part.filename or ""
            uploads.append(from_file(name, part.content_type or "", data, limit=limit))
    finally:
        for part in parts:
            part.close()
    return uploads
