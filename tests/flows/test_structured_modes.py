"""Structured output on servers that are not OpenAI: json_schema, then json_object, then
the schema in the prompt, found once per server and remembered (the real SDK against the
fake server, whose `structured` setting refuses what the server would)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest

from flows import context, llm
from flows.article import OUTLINE_SCHEMA
from flows.llm import LLMError, complete
from flows.providers.openai_llm import OpenAILLM
from flows.providers.structured_modes import MODES, ModeMemory, is_refusal
from tests.fakes.openai_server import FakeOpenAI, Rule, minimal_instance
from tests.harness import Harness, running_app

MODEL = "gpt-4o-mini"
LOGGER = "flows.providers.openai_llm"

# What llama-cpp-python 0.3.36's server (`python -m llama_cpp.server`) answered to
# `response_format: {"type": "json_schema", ...}`, recorded from the real thing.
LLAMA_CPP_REFUSAL = {
    "error": {
        "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
        "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
        "'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  "
        'File ".../llama_cpp/server/app.py", line 376, in create_chat_completion\n'
        "    POST /v1/chat/completions",
        "type": "internal_server_error",
        "param": None,
        "code": None,
    }
}


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def backend(server: FakeOpenAI) -> AsyncIterator[OpenAILLM]:
    sdk = server.client(max_retries=3, timeout=5.0)
    backend = OpenAILLM(model=MODEL, client=sdk)
    yield backend
    await sdk.close()


@pytest.fixture
def ctx(backend: OpenAILLM) -> Iterator[context.DetachedContext]:
    with llm.backend.use(backend), context.bind(context.DetachedContext()) as bound:
        assert isinstance(bound, context.DetachedContext)
        yield bound


def kind(body: dict[str, Any]) -> str | None:
    """The response_format type a request asked for (None: none sent)."""
    return (body.get("response_format") or {}).get("type")


def outline_requests(server: FakeOpenAI, since: int = 0, until: int | None = None) -> list[Any]:
    """The bodies of the requests for the outline among `server.requests[since:until]`:
    with a `response_format`, or with the schema stated in the prompt."""
    stated = json.dumps(OUTLINE_SCHEMA)
    return [
        r.body
        for r in server.requests[since:until]
        if r.path.endswith("/chat/completions")
        and (kind(r.body) is not None or stated in r.body["messages"][0]["content"])
    ]


async def write_article(app: Harness, topic: str) -> tuple[dict[str, Any], list[str]]:
    """Run an article job to its end; returns it and its outline's section titles."""
    job = await app.create("article", {"topic": topic})
    done = await app.wait_for(job["id"], timeout=15.0)
    assert done["status"] == "completed", done["error"]
    events = await app.events(job["id"])
    outline = next(e for e in events if e["type"] == "node.progress" and "sections" in e["data"])
    return done, outline["data"]["sections"]


@pytest.mark.parametrize(
    ("takes", "mode", "first_job_asks"),
    [
        ("json_schema", "json_schema", ["json_schema"]),
        ("json_object", "json_object", ["json_schema", "json_object"]),
        ("none", "prompt", ["json_schema", "json_object", None]),
    ],
)
async def test_the_article_flow_completes_whatever_structured_output_the_server_takes(
    tmp_path: Path,
    server: FakeOpenAI,
    backend: OpenAILLM,
    caplog: pytest.LogCaptureFixture,
    takes: str,
    mode: str,
    first_job_asks: list[str | None],
) -> None:
    server.structured = takes
    if takes == "none":  # a model that followed the schema it was shown in the prompt
        server.rules.append(Rule(minimal_instance(OUTLINE_SCHEMA), match="this JSON schema"))
    caplog.set_level(logging.WARNING, logger=LOGGER)

    async with running_app(tmp_path, llm=backend) as app:
        _, sections = await write_article(app, "coffee")
        first_job = len(server.requests)
        _, again = await write_article(app, "tea")

    assert len(sections) == len(again) == 3
    first, second = outline_requests(server, 0, first_job), outline_requests(server, first_job)
    *refused, works = first_job_asks
    probes = len(refused)  # each refused once, then the mode that works (once per try)
    assert [kind(body) for body in first[: probes + 1]] == first_job_asks
    assert {kind(body) for body in first[probes:]} == {works}
    assert {kind(body) for body in second} == {works}, "no second probe"
    assert MODES.known(backend.server) == mode
    fallbacks = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(fallbacks) == (0 if mode == "json_schema" else 1)  # logged once, not per job
    if mode != "json_schema":
        assert fallbacks[0].startswith(f"{server.base_url}/ (model {MODEL}) refused")
    prompt = second[0]["messages"][0]["content"]
    if mode == "prompt":
        assert json.dumps(OUTLINE_SCHEMA) in prompt, "the schema is stated in the prompt"
    else:
        assert "JSON schema" not in prompt, "the server holds the model to the schema"
    if mode == "json_object":
        assert second[0]["response_format"] == {"type": "json_object", "schema": OUTLINE_SCHEMA}


@pytest.mark.parametrize("takes", ["json_schema", "json_object"])
@pytest.mark.parametrize("status", [429, 500, 503])
async def test_transient_errors_while_probing_are_retried_not_taken_as_refusals(
    server: FakeOpenAI,
    backend: OpenAILLM,
    ctx: context.DetachedContext,
    takes: str,
    status: int,
) -> None:
    server.structured = takes
    server.fail(status, times=2)

    outline = await complete("Write an outline about tea", schema=OUTLINE_SCHEMA)

    jsonschema.validate(outline, OUTLINE_SCHEMA)
    asked = [kind(body) for body in server.chats()]
    if takes == "json_schema":
        assert asked == ["json_schema"] * 3  # 2 failures, then the answer
    else:  # 2 failures, then the real refusal (not retried), then the answer
        assert asked == ["json_schema"] * 3 + ["json_object"]
    assert MODES.known(backend.server) == takes


async def test_a_failure_that_outlasts_the_retries_while_probing_is_an_error_not_a_mode(
    server: FakeOpenAI, backend: OpenAILLM, ctx: context.DetachedContext
) -> None:
    server.fail(500, times=10)

    with pytest.raises(LLMError, match=r"^the model server answered 500: injected failure$"):
        await complete("Write an outline about tea", schema=OUTLINE_SCHEMA)

    assert [kind(body) for body in server.chats()] == ["json_schema"] * 4  # 1 + max_retries
    assert MODES.known(backend.server) is None
    server.faults.clear()
    server.structured = "json_object"
    await complete("Write an outline about tea", schema=OUTLINE_SCHEMA)
    assert MODES.known(backend.server) == "json_object"


async def test_concurrent_first_calls_pay_for_one_refusal(
    server: FakeOpenAI,
    backend: OpenAILLM,
    ctx: context.DetachedContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.structured = "json_object"
    server.latency = 0.05  # the probe is still in flight when the others ask
    caplog.set_level(logging.WARNING, logger=LOGGER)

    outlines = await asyncio.gather(
        *(complete(f"Write an outline about tea {i}", schema=OUTLINE_SCHEMA) for i in range(5))
    )

    assert len(outlines) == 5
    asked = [kind(body) for body in server.chats()]
    assert asked.count("json_schema") == 1
    assert asked.count("json_object") == 5
    assert len([r for r in caplog.records if r.name == LOGGER]) == 1


async def test_calls_that_waited_for_the_probe_ask_at_once_not_in_turn() -> None:
    """Once the mode is found, the calls that queued behind the probe do not hold the
    detection lock: all of them are in flight together (held, the second would wait for
    the first to finish, and the `wait_for` below would time out)."""
    memory = ModeMemory()
    server = ("http://127.0.0.1:1/v1", MODEL)
    waiters, inside, all_inside = 3, [], asyncio.Event()
    probing, probed = asyncio.Event(), asyncio.Event()

    async def probe() -> None:
        async with memory.finding(server) as known:
            assert known is None
            probing.set()
            await probed.wait()  # the others have asked meanwhile...
            assert inside == []  # ...and wait for the probe
            memory.remember(server, "json_object")

    async def ask(i: int) -> Any:
        async with memory.finding(server) as known:
            inside.append(i)
            if len(inside) == waiters:
                all_inside.set()
            await all_inside.wait()  # finishes only once every caller is inside
            return known

    prober = asyncio.create_task(probe())
    await probing.wait()
    asking = [asyncio.create_task(ask(i)) for i in range(waiters)]
    probed.set()  # the askers' first steps were scheduled before the probe wakes
    await prober
    found = await asyncio.wait_for(asyncio.gather(*asking), timeout=5)  # ...then go together

    assert found == ["json_object"] * waiters


async def test_a_server_refusing_json_object_too_ends_with_the_prompt(
    server: FakeOpenAI, backend: OpenAILLM, ctx: context.DetachedContext
) -> None:
    """The prompt mode's answer is validated and repaired by `complete` as always."""
    server.structured = "none"
    server.rules.append(Rule({"title": "Tea"}, match="Write an outline", times=1))
    server.rules.append(Rule(minimal_instance(OUTLINE_SCHEMA)))

    outline = await complete("Write an outline about tea", schema=OUTLINE_SCHEMA)

    jsonschema.validate(outline, OUTLINE_SCHEMA)
    *_, invalid, repaired = server.chats()
    assert kind(invalid) is None and kind(repaired) is None
    assert "'sections' is a required property" in repaired["messages"][-1]["content"]


def error(message: str, **fields: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", **fields}}


@pytest.mark.parametrize(
    ("status", "body", "refusal"),
    [
        (500, LLAMA_CPP_REFUSAL, True),  # llama-cpp-python's server
        (400, error("'response_format.type' must be 'json_schema' or 'text'"), True),  # LM Studio
        (400, error("Unsupported parameter", param="response_format"), True),
        (400, error("bad", code="unsupported_parameter"), True),
        (400, error("Invalid schema for response_format 'answer': ..."), True),
        (422, {"detail": [{"loc": ["body", "response_format"], "msg": "extra"}]}, True),
        (500, error("The server had an error while processing your request"), False),
        (503, error("Service temporarily unavailable"), False),
        (500, error("database schema migration failed"), False),  # "schema" alone: not ours
        (429, error("Rate limit reached for response_format requests"), False),
        (400, error("This model's maximum context length is 2048 tokens"), False),
        (404, error("The model `gpt-9` does not exist or is not supported"), False),
        (401, error("Incorrect API key provided"), False),
    ],
)
async def test_which_errors_are_refusals(
    server: FakeOpenAI, status: int, body: dict[str, Any], refusal: bool
) -> None:
    server.send_raw(json.dumps(body), status=status)
    sdk = server.client(max_retries=0)
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            await sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        await sdk.close()
    assert caught.value.status_code == status
    assert is_refusal(caught.value) is refusal
