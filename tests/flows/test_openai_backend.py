"""The `openai` backends, through the real SDK, against a local OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import jsonschema
import openai
import pytest
from PIL import Image

from flows import context, images, llm
from flows.article import OUTLINE_SCHEMA
from flows.images import ImageError
from flows.llm import LLMError, LLMOutputError, complete
from flows.providers.openai_images import OpenAIImages
from flows.providers.openai_llm import OpenAILLM
from tests.fakes.openai_server import FakeOpenAI, Rule, minimal_instance
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT, running_app

MODEL = "gpt-4o-mini"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def client(server: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = server.client(max_retries=3, timeout=5.0)
    yield sdk
    await sdk.close()


@pytest.fixture
def ctx(client: openai.AsyncOpenAI) -> Iterator[context.DetachedContext]:
    """The OpenAI backend installed and a detached context bound, for `complete`."""
    with llm.backend.use(OpenAILLM(model=MODEL, client=client)):
        with context.bind(context.DetachedContext()) as bound:
            assert isinstance(bound, context.DetachedContext)
            yield bound


async def test_plain_chat_sends_model_and_messages_and_records_usage(
    server: FakeOpenAI, ctx: context.DetachedContext
) -> None:
    text = await complete("Say hello to Ada", system="Be brief", stream=False)

    assert text == "Echo: Say hello to Ada"
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test"
    assert request.body["model"] == MODEL
    assert request.body["messages"] == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Say hello to Ada"},
    ]
    assert not request.body.get("stream")
    assert ctx.usage == [(MODEL, 6, 5)]  # the fake counts words
    assert ctx.streamed == []


class TimedContext(context.DetachedContext):
    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def stream(self, text: str, item: int | None = None) -> None:
        self.times.append(time.monotonic())
        super().stream(text, item)


async def test_streamed_chat_delivers_deltas_in_order_as_they_arrive(
    server: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    server.rules.append(Rule("One two three four", match="Count"))
    server.chunk_delay = 0.03
    with llm.backend.use(OpenAILLM(model=MODEL, client=client)):
        with context.bind(TimedContext()) as timed:
            text = await complete("Count to four")

    assert text == "One two three four"
    assert timed.streamed == ["One", " two", " three", " four"]
    assert timed.times[-1] - timed.times[0] >= 0.06  # live, not delivered all at once
    assert timed.usage == [(MODEL, 3, 4)]  # from the final usage chunk
    body = server.chats()[0]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_structured_output_is_parsed_validated_and_asked_with_the_schema(
    server: FakeOpenAI, ctx: context.DetachedContext
) -> None:
    outline = await complete("Write an outline about tea", schema=OUTLINE_SCHEMA)

    jsonschema.validate(outline, OUTLINE_SCHEMA)
    assert outline == minimal_instance(OUTLINE_SCHEMA)
    assert [s["title"] for s in outline["sections"]] == ["Section 1", "Section 2", "Section 3"]
    [body] = server.chats()
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": OUTLINE_SCHEMA},
    }
    assert not body.get("stream")
    assert ctx.streamed == []  # structured answers are never streamed


async def test_structured_answer_in_code_fences_is_accepted(
    server: FakeOpenAI, ctx: context.DetachedContext
) -> None:
    server.rules.append(Rule('```json\n{"title": "Tea", "sections": []}\n```'))
    schema = {"type": "object", "required": ["title"], "properties": {"title": {}}}

    assert await complete("outline", schema=schema) == {"title": "Tea", "sections": []}


async def test_invalid_structured_answer_is_repaired_with_the_validation_error(
    server: FakeOpenAI, ctx: context.DetachedContext
) -> None:
    server.rules.append(Rule({"title": "Only a title"}, match="outline", times=1))

    outline = await complete("Write an outline about tea", schema=OUTLINE_SCHEMA)

    jsonschema.validate(outline, OUTLINE_SCHEMA)
    first, second = server.chats()
    assert first["messages"] == [{"role": "user", "content": "Write an outline about tea"}]
    assert second["messages"][:2] == [
        first["messages"][0],
        {"role": "assistant", "content": '{"title": "Only a title"}'},
    ]
    repair = second["messages"][2]
    assert repair["role"] == "user"
    assert "'sections' is a required property" in repair["content"]
    assert second["response_format"] == first["response_format"]
    assert len(ctx.usage) == 2  # both calls are paid for


async def test_structured_answer_that_stays_invalid_raises_llm_output_error(
    server: FakeOpenAI, ctx: context.DetachedContext
) -> None:
    server.rules.append(Rule("not JSON at all"))

    with pytest.raises(LLMOutputError, match="did not match the schema"):
        await complete("outline", schema=OUTLINE_SCHEMA)
    assert len(server.chats()) == llm.STRUCTURED_ATTEMPTS


@pytest.mark.parametrize("status", [429, 500, 503])
@pytest.mark.parametrize("stream", [False, True])
async def test_transient_errors_are_retried_then_succeed(
    server: FakeOpenAI, ctx: context.DetachedContext, status: int, stream: bool
) -> None:
    server.fail(status, times=2)

    assert await complete("hello", stream=stream) == "Echo: hello"
    assert len(server.requests) == 3
    assert server.requests[-1].headers["x-stainless-retry-count"] == "2"
    assert ctx.usage == [(MODEL, 1, 2)]  # failed attempts record nothing


@pytest.mark.parametrize(
    ("status", "message", "sent"),
    [
        (401, "rejected the API key", 1),  # not retried
        (500, r"^the model server answered 500: injected failure$", 4),  # 1 + max_retries
        (429, "rate limiting", 4),
    ],
)
async def test_permanent_errors_raise_llm_error(
    server: FakeOpenAI, ctx: context.DetachedContext, status: int, message: str, sent: int
) -> None:
    server.fail(status, times=10)

    with pytest.raises(LLMError, match=message) as caught:
        await complete("hello")
    assert not isinstance(caught.value, LLMOutputError)
    assert len(server.requests) == sent
    assert ctx.usage == []


async def test_wrong_api_key_is_reported_clearly(server: FakeOpenAI) -> None:
    server.api_key = "the-right-key"
    sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key="a-wrong-key", max_retries=0)
    try:
        with pytest.raises(LLMError, match="check OPENAI_API_KEY"):
            await OpenAILLM(model=MODEL, client=sdk).generate([{"role": "user", "content": "hi"}])
    finally:
        await sdk.close()
    assert server.requests[0].headers["authorization"] == "Bearer a-wrong-key"


async def test_a_stalled_server_times_out_with_llm_error(server: FakeOpenAI) -> None:
    server.stall(5.0, times=2)
    sdk = server.client(max_retries=1, timeout=0.3)
    try:
        with pytest.raises(LLMError, match="timed out"):
            await OpenAILLM(model=MODEL, client=sdk).generate([{"role": "user", "content": "hi"}])
    finally:
        await sdk.close()
    # The SDK tried twice (max_retries=1). On a busy machine the first attempt can time
    # out before the fake has read its body, and so before it is recorded: count the
    # attempts by the SDK's own retry header rather than by what reached the fake.
    attempts = [r.headers.get("x-stainless-retry-count") for r in server.requests]
    assert attempts[-1] == "1" and len(attempts) <= 2, attempts


async def test_default_client_reads_openai_base_url_and_key(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    backend = llm.make_backend("openai", model="my-local-model", timeout=5.0)
    assert isinstance(backend, OpenAILLM)
    try:
        answer = await backend.generate([{"role": "user", "content": "hi"}])
    finally:
        await backend.client.close()
    assert (answer.text, answer.model) == ("Echo: hi", "my-local-model")
    assert server.requests[0].headers["authorization"] == "Bearer from-env"


@pytest.mark.parametrize(
    ("model", "response_format"), [("gpt-image-1", None), ("dall-e-3", "b64_json")]
)
async def test_images_generate_returns_png_bytes(
    server: FakeOpenAI, client: openai.AsyncOpenAI, model: str, response_format: str | None
) -> None:
    with images.backend.use(OpenAIImages(model=model, client=client)):
        data, mime = await images.generate("a red fox", size="512x512")

    assert mime == "image/png"
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(data)).size == (32, 32)  # the fake draws 1/16 scale
    [request] = server.requests
    assert request.path == "/v1/images/generations"
    assert request.body["model"] == model
    assert request.body["size"] == "512x512"
    assert request.body["prompt"] == "a red fox"
    assert request.body["n"] == 1
    assert request.body.get("response_format") == response_format


async def test_images_are_retried_then_fail_with_image_error(
    server: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    backend = OpenAIImages(model="gpt-image-1", client=client)
    server.fail(503, times=1)
    data, _ = await backend.generate("a fox", size="256x256", attempt=1)
    assert data.startswith(b"\x89PNG")

    server.fail(401, times=1)
    with pytest.raises(ImageError, match="rejected the API key"):
        await backend.generate("a fox", size="256x256", attempt=2)
    assert len(server.requests) == 3


async def test_article_flow_completes_over_the_openai_backend(
    tmp_path: Path, server: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    server.rules += [
        Rule(OUTLINE, match="Write an outline"),
        Rule(SECTION_TEXT, match="Write one paragraph"),
        Rule(STYLED_TEXT, match="Rewrite this article draft"),
    ]
    async with running_app(
        tmp_path,
        llm=OpenAILLM(model=MODEL, client=client),
        images=OpenAIImages(model="gpt-image-1", client=client),
    ) as app:
        job = await app.create("article", {"topic": "coffee"})
        done = await app.wait_for(job["id"], timeout=15.0)
        assert done["status"] == "completed", done["error"]
        response = await app.client.get(
            f"/api/artifacts/{done['result']['artifact_id']}", headers=app.headers()
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/markdown")
        markdown = await response.get_data(as_text=True)

    assert done["result"]["title"] == "Coffee, a history"
    assert markdown.startswith("# Coffee, a history\n\n## Origins\n\nSo, picture this")
    assert markdown.count("the very first coffee farms") == 3
    outline, *paragraphs = server.chats()[:4]
    styles = server.chats()[4:]
    assert outline["response_format"]["type"] == "json_schema"
    assert "coffee" in outline["messages"][-1]["content"]
    assert sorted(p["messages"][-1]["content"].split("'")[1] for p in paragraphs) == [
        "Coffeehouses",
        "Origins",
        "Today",
    ]
    assert len(styles) == 3 and all(style["stream"] is True for style in styles)
    assert all(body["model"] == MODEL for body in server.chats())


async def test_the_fake_server_runs_as_a_subprocess() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.openai_server",
        "--port",
        "0",
        cwd=Path(__file__).parents[2],
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        port = int(await asyncio.wait_for(process.stdout.readline(), 10.0))
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as http:
            rules = {"rules": [{"answer": "scripted", "match": "hi"}], "fail": [[503, 1]]}
            assert (await http.post("/_fake/control", json=rules)).status_code == 200
        sdk = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="test", max_retries=2)
        answer = await OpenAILLM(model=MODEL, client=sdk).generate(
            [{"role": "user", "content": "hi"}]
        )
        await sdk.close()
        assert answer.text == "scripted"
        async with httpx.AsyncClient(base_url=base) as http:
            recorded = (await http.get("/_fake/requests")).json()["requests"]
        assert [r["body"]["model"] for r in recorded] == [MODEL, MODEL]  # 503, then retry
    finally:
        process.terminate()
        assert await process.wait() == 0


async def test_a_call_may_choose_its_model_and_temperature(
    server: FakeOpenAI, ctx: context.DetachedContext
) -> None:
    """A workflow's `llm` node picks them; the request carries them, costs follow the model."""
    chosen = llm.Sampling(model="gpt-4o", temperature=0.1)
    await complete("Say hello to Ada", stream=False, sampling=chosen)
    await complete("Say hello to Bo", sampling=chosen)  # streamed
    await complete("Say hello to Cy", schema={"type": "object"}, sampling=chosen)
    await complete("Say hello to Di")  # the backend's defaults again
    bodies = [r.body for r in server.requests]
    assert [(b["model"], b.get("temperature")) for b in bodies] == [
        ("gpt-4o", 0.1),
        ("gpt-4o", 0.1),
        ("gpt-4o", 0.1),
        (MODEL, None),
    ]
    assert [model for model, _, _ in ctx.usage] == ["gpt-4o", "gpt-4o", "gpt-4o", MODEL]
