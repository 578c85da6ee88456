"""What a `knowledge` node and the `knowledge_search` tool search: a person's knowledge bases.

The bases live in GenFlow's store (SQLite FTS5 embedded, PostgreSQL full-text when scaled
out); flows/ only sees this seam. The runner binds a searcher scoped to the job's owner,
so a workflow can read only its owner's bases. Run without the server, there are none.
"""

from __future__ import annotations

from typing import Any, Protocol

from flows.slot import ProviderSlot


class KnowledgeError(LookupError):
    """The base does not exist (for this owner) or cannot be searched."""


class KnowledgeSearch(Protocol):
    async def search(self, base: str, query: str, top_k: int) -> list[dict[str, Any]]:
        """The `top_k` best chunks of `base` (its id or name) for `query`, best first:
        `[{"text", "source", "score"}]`; KnowledgeError if there is no such base."""
        ...


class NoKnowledge:
    async def search(self, base: str, query: str, top_k: int) -> list[dict[str, Any]]:
        raise KnowledgeError(
            f"no knowledge base {base!r}: knowledge bases live on a GenFlow server "
            "(POST /api/knowledge); run the workflow there"
        )


searcher = ProviderSlot[KnowledgeSearch]("genflow_knowledge", NoKnowledge)
