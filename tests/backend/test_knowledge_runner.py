"""A flow node searching knowledge through `flows.pilot.knowledge.searcher` inside a job:
the runner binds a searcher scoped to the job's owner, so the node finds its owner's
chunks (by base id or name) and gets a KnowledgeError for anyone else's base."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pocketflow import AsyncFlow, AsyncNode

from backend.auth import Principal
from backend.knowledge.search import OwnedKnowledge
from backend.knowledge.uploads import Upload
from flows.pilot.knowledge import KnowledgeError, searcher
from tests.backend.test_runner import Finish, spec
from tests.backend.test_store_knowledge import FAQ
from tests.harness import Harness, running_app


class Lookup(AsyncNode):
    """What a `knowledge` node does, minus the templates."""

    async def prep_async(self, shared: dict) -> dict[str, Any]:
        return {"base": shared["base"], "query": shared["query"]}  # the job's input

    async def exec_async(self, prep_res: dict[str, Any]) -> list[dict[str, Any]]:
        return await searcher.get().search(prep_res["base"], prep_res["query"], 2)

    async def post_async(self, shared: dict, prep_res: Any, exec_res: Any) -> str:
        shared["chunks"] = exec_res
        return "default"


def lookup_flow() -> AsyncFlow:
    lookup = Lookup()
    lookup >> Finish()
    return AsyncFlow(start=lookup)


async def faq_for(h: Harness, owner: str) -> str:
    base, _ = await h.services.knowledge.create(
        Principal(owner), name="faq", documents=[Upload("faq.md", FAQ, "text/markdown")]
    )
    return base.id


async def run(h: Harness, sub: str, base: str, query: str) -> dict[str, Any]:
    job = await h.create("lookup", {"base": base, "query": query}, sub=sub)
    return await h.wait_for(job["id"], sub=sub)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_a_node_finds_its_owners_chunks_and_nobody_elses(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if database == "postgresql" else None
    async with running_app(tmp_path, flows=spec("lookup", lookup_flow), database_url=url) as h:
        alices = await faq_for(h, "alice")
        for ref in (alices, "faq"):  # by id and by name
            done = await run(h, "alice", ref, "how do I get a refund?")
            assert done["status"] == "completed", done
            chunks = done["result"]["chunks"]
            assert chunks[0]["source"] == "faq.md#Refunds"
            assert "refund within 30 days" in chunks[0]["text"]
            assert isinstance(chunks[0]["score"], float) and len(chunks) <= 2

        for ref in (alices, "faq", "kb_nothing"):  # alice's id, a name bob lacks, no base
            failed = await run(h, "bob", ref, "refund")
            assert failed["status"] == "failed", failed
            assert failed["error"]["type"] == "KnowledgeError"
            assert "bob" in failed["error"]["message"]

        bobs = await faq_for(h, "bob")  # bob's own "faq": his, not alice's
        done = await run(h, "bob", "faq", "refund")
        assert done["status"] == "completed" and done["result"]["chunks"]
        assert bobs != alices


async def test_without_the_runner_there_is_no_knowledge() -> None:
    with pytest.raises(KnowledgeError):
        await searcher.get().search("faq", "refund", 3)


async def test_the_owned_searcher_bounds_top_k(tmp_path: Path) -> None:
    async with running_app(tmp_path) as h:
        await faq_for(h, "alice")
        owned = OwnedKnowledge(h.services.store, "alice")
        assert len(await owned.search("faq", "order delivery refund password", 0)) == 1
        assert len(await owned.search("faq", "order delivery refund password", 10_000)) == 4
        assert await owned.search("faq", "xylophone", 3) == []
