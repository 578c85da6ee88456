"""The runner's searcher: what `flows.pilot.knowledge.searcher` is bound to during a job.

It is made per job for the job's owner, so a workflow can search only its owner's bases
(named by id or by name), whoever wrote the spec and whatever it names; another owner's
base is as absent as one that never existed. What the query says cannot make the search
fail (backend/store/fulltext.py), so the only KnowledgeError is "no such base".
"""

from __future__ import annotations

from typing import Any

from backend.store.base import Store
from backend.store.fulltext import MAX_TOP_K
from flows.pilot.knowledge import KnowledgeError


class OwnedKnowledge:
    def __init__(self, store: Store, owner: str) -> None:
        self.store, self.owner = store, owner

    async def search(self, base: str, query: str, top_k: int) -> list[dict[str, Any]]:
        found = await self.store.get_base(base, owner=self.owner)
        if found is None:
            raise KnowledgeError(
                f"no knowledge base {base!r}: create it (POST /api/knowledge) as "
                f"{self.owner!r}, the owner of this workflow run, or name one of theirs"
            )
        return await self.store.search(found.id, query, max(1, min(top_k, MAX_TOP_K)))
