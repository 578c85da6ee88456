"""The SQL of knowledge bases, their documents and chunks, in the style of `queries`
(synchronous functions of one `Connection`, each run by `SQLStore` as one transaction).

Adding a document first touches its base with ONE UPDATE ... RETURNING: on PostgreSQL that
locks the base row until the commit, so two uploads to one base take turns (a document
uploaded twice at once replaces cleanly, and the counts on the base stay exact); SQLite's
single writer thread serialises them anyway. Chunks, and with them the full-text index
(`fulltext`), go with their document or base (ON DELETE CASCADE; on SQLite the FTS5
table follows through triggers, which cascaded deletes fire too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from backend.errors import Conflict
from backend.knowledge.model import Chunk, Document, KnowledgeBase
from backend.store import fulltext
from backend.store import tables as t
from backend.store.queries import aware

Added = tuple[KnowledgeBase, Document, bool]  # the base after, the document, replaced?

_bases = t.knowledge_bases.c
_documents = t.knowledge_documents.c
_chunks = t.knowledge_chunks.c


def create_base(
    conn: Connection,
    base: KnowledgeBase,
    documents: Sequence[tuple[Document, Sequence[Chunk]]],
) -> tuple[KnowledgeBase, list[Document]]:
    """Insert the base and its first documents; Conflict when the owner has a base of
    that name (checked first, and by the unique constraint against a racing create)."""
    if _by_name(conn, base.owner, base.name) is not None:
        raise _duplicate(base.name)
    values = {
        "id": base.id,
        "owner": base.owner,
        "name": base.name,
        "description": base.description,
        "created_at": aware(base.created_at),
        "updated_at": aware(base.updated_at),
        "document_count": 0,
        "chunk_count": 0,
        "size": 0,
    }
    try:  # the transaction is lost with the error: raising ends it (rolled back)
        conn.execute(insert(t.knowledge_bases).values(values))
    except IntegrityError as exc:
        raise _duplicate(base.name) from exc
    stored = []
    for document, chunks in documents:
        added = add_document(conn, base.id, document, chunks)
        assert added is not None  # inserted above, in this transaction
        base, document, _ = added
        stored.append(document)
    return base, stored


def get_base(conn: Connection, ref: str, owner: str | None) -> KnowledgeBase | None:
    """By id; with `owner`, that owner's base with this id or, failing that, this name."""
    if "\x00" in ref:  # PostgreSQL cannot even compare such a string: no base has it
        return None
    query = select(t.knowledge_bases).where(_bases.id == ref)
    if owner is not None:
        query = query.where(_bases.owner == owner)
    row = conn.execute(query).mappings().first()
    if row is None and owner is not None:
        return _by_name(conn, owner, ref)
    return to_base(row) if row is not None else None


def list_bases(conn: Connection, owner: str | None) -> list[KnowledgeBase]:
    """Newest first (ids sort by creation time); every owner's when `owner` is None."""
    query = select(t.knowledge_bases).order_by(_bases.id.desc())
    if owner is not None:
        query = query.where(_bases.owner == owner)
    return [to_base(row) for row in conn.execute(query).mappings().all()]


def delete_base(conn: Connection, base_id: str) -> bool:
    """Its documents and chunks go with it (ON DELETE CASCADE)."""
    if "\x00" in base_id:
        return False
    return conn.execute(delete(t.knowledge_bases).where(_bases.id == base_id)).rowcount > 0


def add_document(
    conn: Connection, base_id: str, document: Document, chunks: Sequence[Chunk]
) -> Added | None:
    """Store the document and its chunks, replacing the base's document of the same
    name; None, storing nothing, when the base is gone."""
    touched = conn.execute(
        update(t.knowledge_bases)
        .where(_bases.id == base_id)
        .values(updated_at=aware(document.created_at))
        .returning(_bases.id)
    ).first()
    if touched is None:
        return None
    old = (
        conn.execute(
            select(_documents.id, _documents.size, _documents.chunk_count).where(
                _documents.base_id == base_id, _documents.name == document.name
            )
        )
        .mappings()
        .first()
    )
    if old is not None:
        conn.execute(delete(t.knowledge_documents).where(_documents.id == old["id"]))
    conn.execute(
        insert(t.knowledge_documents).values(
            id=document.id,
            base_id=base_id,
            name=document.name,
            mime=document.mime,
            size=document.size,
            chunk_count=len(chunks),
            created_at=aware(document.created_at),
        )
    )
    if chunks:
        conn.execute(
            insert(t.knowledge_chunks),
            [
                {
                    "base_id": base_id,
                    "document_id": document.id,
                    "idx": idx,
                    "text": chunk.text,
                    "source": chunk.source,
                }
                for idx, chunk in enumerate(chunks)
            ],
        )
    row = (
        conn.execute(
            update(t.knowledge_bases)
            .where(_bases.id == base_id)
            .values(
                document_count=_bases.document_count + (0 if old else 1),
                chunk_count=_bases.chunk_count + len(chunks) - (old["chunk_count"] if old else 0),
                size=_bases.size + document.size - (old["size"] if old else 0),
            )
            .returning(*t.knowledge_bases.c)
        )
        .mappings()
        .one()
    )
    stored = Document(
        id=document.id,
        base_id=base_id,
        name=document.name,
        mime=document.mime,
        size=document.size,
        created_at=aware(document.created_at),
        chunk_count=len(chunks),
    )
    return to_base(row), stored, old is not None


def list_documents(conn: Connection, base_id: str) -> list[Document]:
    """In upload order."""
    query = (
        select(t.knowledge_documents)
        .where(_documents.base_id == base_id)
        .order_by(_documents.created_at, _documents.id)
    )
    return [to_document(row) for row in conn.execute(query).mappings().all()]


def search(conn: Connection, base_id: str, query: str, top_k: int) -> list[dict[str, Any]]:
    return fulltext.search(conn, base_id, query, top_k)


# -- helpers ---------------------------------------------------------------------------


def _by_name(conn: Connection, owner: str, name: str) -> KnowledgeBase | None:
    query = select(t.knowledge_bases).where(_bases.owner == owner, _bases.name == name)
    row = conn.execute(query).mappings().first()
    return to_base(row) if row is not None else None


def _duplicate(name: str) -> Conflict:
    return Conflict(
        f"you already have a knowledge base named {name!r}",
        [{"field": "name", "message": "already used by another of your knowledge bases"}],
    )


def to_base(row: Any) -> KnowledgeBase:
    return KnowledgeBase(
        id=row["id"],
        owner=row["owner"],
        name=row["name"],
        description=row["description"],
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
        document_count=row["document_count"],
        chunk_count=row["chunk_count"],
        size=row["size"],
    )


def to_document(row: Any) -> Document:
    return Document(
        id=row["id"],
        base_id=row["base_id"],
        name=row["name"],
        mime=row["mime"],
        size=row["size"],
        created_at=aware(row["created_at"]),
        chunk_count=row["chunk_count"],
    )
