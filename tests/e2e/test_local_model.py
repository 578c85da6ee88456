"""The embedded default model, end to end: SmolLM2 on the CPU writes a whole article."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.providers.local_llm import LocalLLM
from tests.harness import running_app

pytestmark = pytest.mark.slow


async def test_the_local_model_writes_an_article(tmp_path: Path) -> None:
    async with running_app(tmp_path, LocalLLM()) as h:
        job = await h.create("article", {"topic": "The history of coffee"})
        done = await h.wait_for(job["id"], timeout=600)
        events = await h.events(job["id"])
    assert done["status"] == "completed", done["error"]
    outline = next(e for e in events if e["type"] == "node.progress" and "sections" in e["data"])
    assert len(outline["data"]["sections"]) == 3  # the JSON-schema grammar held the model to 3
    markdown = done["result"]["markdown"]
    assert markdown.startswith("# ") and len(markdown.split()) > 50
    usage = [
        e["data"]["usage"] for e in events if e["type"] == "node.finished" and "usage" in e["data"]
    ]
    assert usage and all(u["tokens_in"] > 0 and u["tokens_out"] > 0 for u in usage)
