"""Knowledge bases for the API: create, upload, read, search and delete, owner-checked.

A base belongs to the principal that made it; another principal's base does not exist
for it (404), admins see every base. Documents are cut into chunks in a worker thread
(a 2 MB document is a few hundred milliseconds of Python the event loop must not wait
for), then stored with their chunks in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from backend.auth import Principal
from backend.domain import utcnow
from backend.errors import InvalidInput, NotFound
from backend.ids import new_id
from backend.knowledge.chunks import chunk_document
from backend.knowledge.model import Chunk, Document, KnowledgeBase
from backend.knowledge.uploads import Upload
from backend.settings import Settings
from backend.store.base import Store

MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2000
ID_PREFIX = "kb"


class KnowledgeService:
    def __init__(self, *, store: Store, settings: Settings) -> None:
        self.store = store
        self.max_document_bytes = settings.knowledge_max_document_bytes

    # -- reading -----------------------------------------------------------------------

    async def get(self, base_id: str, principal: Principal) -> KnowledgeBase:
        base = await self.store.get_base(base_id)
        if base is None or not principal.can_see(base.owner):
            raise NotFound(f"knowledge base {base_id!r} not found")
        return base

    async def bases(self, principal: Principal) -> list[KnowledgeBase]:
        """The principal's bases (every base, for admins), newest first."""
        return await self.store.list_bases(None if principal.admin else principal.sub)

    async def documents(self, base: KnowledgeBase) -> list[Document]:
        return await self.store.list_documents(base.id)

    async def search(
        self, base_id: str, principal: Principal, query: str, top_k: int
    ) -> list[dict[str, Any]]:
        base = await self.get(base_id, principal)
        return await self.store.search(base.id, query, top_k)

    async def names(self, owner: str) -> set[str]:
        """What a workflow of `owner` may name in a `knowledge` node: the ids and the
        names of the owner's bases."""
        return {ref for base in await self.store.list_bases(owner) for ref in (base.id, base.name)}

    # -- writing -----------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        description: str = "",
        documents: Sequence[Upload] = (),
    ) -> tuple[KnowledgeBase, list[Document]]:
        name = base_name(name)
        _check_text(description, "description", MAX_DESCRIPTION_CHARS)
        _distinct(documents)
        prepared = await asyncio.to_thread(_prepare_all, documents)
        now = utcnow()
        base = KnowledgeBase(
            id=new_id(ID_PREFIX),
            owner=principal.sub,
            name=name,
            description=description,
            created_at=now,
            updated_at=now,
        )
        return await self.store.create_base(base, prepared)

    async def add(
        self, base_id: str, principal: Principal, uploads: Sequence[Upload]
    ) -> tuple[KnowledgeBase, list[tuple[Document, bool]]]:
        """Store each upload as a document of the base (one of the same name is
        replaced): the base after, and each document with whether it replaced one."""
        base = await self.get(base_id, principal)
        _distinct(uploads)
        added: list[tuple[Document, bool]] = []
        for document, chunks in await asyncio.to_thread(_prepare_all, uploads):
            stored = await self.store.add_document(base.id, document, chunks)
            if stored is None:  # deleted meanwhile
                raise NotFound(f"knowledge base {base_id!r} not found")
            base, document, replaced = stored
            added.append((document, replaced))
        return base, added

    async def delete(self, base_id: str, principal: Principal) -> None:
        base = await self.get(base_id, principal)
        if not await self.store.delete_base(base.id):
            raise NotFound(f"knowledge base {base_id!r} not found")


def base_name(raw: str) -> str:
    """A base's name, as workflow specs will name it: trimmed, short, printable, and not
    shaped like an id (`kb_…`), so a reference is never ambiguous."""
    name = raw.strip()
    _check_text(name, "name", MAX_NAME_CHARS)
    problem = None
    if not name:
        problem = "a knowledge base needs a name"
    elif any(ord(c) < 32 for c in name):
        problem = "no control characters"
    elif name.lower().startswith(f"{ID_PREFIX}_"):
        problem = f"names starting with {ID_PREFIX}_ are reserved for ids"
    if problem:
        raise InvalidInput(f"invalid name: {problem}", [{"field": "name", "message": problem}])
    return name


def _check_text(value: str, field: str, limit: int) -> None:
    problem = None
    if len(value) > limit:
        problem = f"at most {limit} characters"
    elif "\x00" in value:
        problem = "must not contain NUL (\\u0000)"
    if problem:
        raise InvalidInput(f"invalid {field}: {problem}", [{"field": field, "message": problem}])


def _distinct(uploads: Sequence[Upload]) -> None:
    seen: set[str] = set()
    for upload in uploads:
        if upload.name in seen:
            raise InvalidInput(
                f"two documents are named {upload.name!r}",
                [{"field": "documents", "message": f"{upload.name!r} appears twice"}],
            )
        seen.add(upload.name)


def _prepare_all(uploads: Sequence[Upload]) -> list[tuple[Document, list[Chunk]]]:
    """Documents and their chunks (run in a worker thread: chunking is CPU work)."""
    now = utcnow()
    return [
        (
            Document(
                id=new_id("doc"),
                base_id="",  # the store sets it
                name=upload.name,
                mime=upload.mime,
                size=upload.size,
                created_at=now,
            ),
            chunk_document(upload.text, upload.name),
        )
        for upload in uploads
    ]
