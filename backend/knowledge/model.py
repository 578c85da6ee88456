"""A knowledge base, its documents and their chunks, as the store keeps them.

A base belongs to one owner and its name is unique for that owner, so a workflow spec can
name it (`{"base": "faq"}`) as well as give its id. The counts are kept on the base, in
the same transaction as the documents they count, so listing bases reads one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.domain import isoformat


@dataclass(frozen=True)
class KnowledgeBase:
    id: str
    owner: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    document_count: int = 0
    chunk_count: int = 0
    size: int = 0  # bytes of UTF-8 text over all documents

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "owner": self.owner,
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
            "document_count": self.document_count,
            "chunk_count": self.chunk_count,
            "size": self.size,
        }


@dataclass(frozen=True)
class Document:
    id: str
    base_id: str
    name: str  # the file name; chunks' `source` starts with it
    mime: str
    size: int  # bytes of UTF-8 text
    created_at: datetime
    chunk_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "mime": self.mime,
            "size": self.size,
            "chunks": self.chunk_count,
            "created_at": isoformat(self.created_at),
        }


@dataclass(frozen=True)
class Chunk:
    """A searchable piece of a document: `source` is `file` or `file#heading`."""

    text: str
    source: str
