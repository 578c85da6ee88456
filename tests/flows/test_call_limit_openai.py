"""A provider that answers 429 with Retry-After, through the real SDK: the job still
completes (the SDK retries), and the provider's call limit learned from every 429."""

from __future__ import annotations

from pathlib import Path

import openai

from flows.providers.limited import LimitedLLM
from flows.providers.openai_llm import SDK_CONNECTIONS, OpenAILLM, http_client
from tests.fakes.openai_server import FakeOpenAI, Rule
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT, running_app


async def test_a_job_completes_through_429s_and_the_limit_shrinks(tmp_path: Path) -> None:
    async with FakeOpenAI(retry_after_ms=20) as server:
        server.rules += [
            Rule(OUTLINE, match="Write an outline"),
            Rule(SECTION_TEXT, match="Write one paragraph"),
            Rule(STYLED_TEXT, match="Rewrite this article draft"),
        ]
        server.fail(429, times=2, message="Rate limit reached for requests")
        client = openai.AsyncOpenAI(
            base_url=server.base_url,
            api_key="test",
            max_retries=3,
            timeout=5.0,
            http_client=http_client(5.0),  # the SDK's client, reporting each 429
        )
        async with running_app(tmp_path, llm=OpenAILLM(model="gpt-4o-mini", client=client)) as app:
            job = await app.create("article", {"topic": "coffee"})
            done = await app.wait_for(job["id"], timeout=15.0)
            backend = app.services.runner.llm_backend
        await client.close()

    assert done["status"] == "completed", done["error"]
    assert isinstance(backend, LimitedLLM)  # every flow's calls go through the limit
    limit = backend.limit
    assert limit.ceiling == SDK_CONNECTIONS  # unset GENFLOW_LLM_CONCURRENCY: the SDK's pool
    assert limit.throttles == 2  # both 429s reached the limit, though the SDK retried them
    assert limit.limit is not None and limit.limit < 10  # from 1,000 to half the calls out
    assert (limit.in_flight, limit.waiting) == (0, 0)
