"""The benchmarks' competent fake model: an article takes its shortest path with it,
in process and through the `openai` SDK against the fake server (`answers="article"`)."""

from __future__ import annotations

from flows import article, context
from flows.llm import backend
from flows.providers.openai_llm import OpenAILLM
from tests.fakes.article_answers import MORE_PARAGRAPHS, PARAGRAPH
from tests.fakes.openai_server import FakeOpenAI

CALLS = 7  # the outline, three sections, three style rewrites: no repair


async def test_the_fake_server_answers_an_article_so_that_no_step_repairs_itself() -> None:
    async with FakeOpenAI(answers="article") as server:
        client = server.client(max_retries=0, timeout=5.0)
        shared: dict = {"topic": "tea ceremonies"}
        detached = context.DetachedContext()
        with backend.use(OpenAILLM(model="gpt-4o-mini", client=client)), context.bind(detached):
            await article.build({"topic": "tea ceremonies"}).run_async(shared)
        await client.close()
        chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == CALLS
    markdown = detached.artifacts[shared["article_artifact"]][0].decode()
    assert markdown.count("## ") == 3
    for paragraph in (PARAGRAPH, *MORE_PARAGRAPHS):  # three sections, three paragraphs
        assert paragraph.format(topic="tea ceremonies").split(". ")[0] in markdown
