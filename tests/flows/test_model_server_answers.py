"""Answers that are not answers fail the job with a message a person can act on.

A proxy's login page, invalid JSON, an image that is not base64, an answer that never
ends: the job's `job.failed` event says what the server sent (the real SDK against the
fake server's `send_raw` and `trickle`), not `JSONDecodeError` or `AttributeError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from flows.providers.openai_images import OpenAIImages
from flows.providers.openai_llm import OpenAILLM
from tests.fakes.openai_server import FakeOpenAI
from tests.harness import running_app

MODEL = "gpt-4o-mini"
LOGIN_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in &ndash; Example Corp Proxy</title></head>
<body><form action="/login"><input name="user"></form></body></html>"""
FLOWS = {  # a flow whose model call is streamed, and one whose first call is structured
    "review": {"task": "Write a haiku"},
    "article": {"topic": "coffee"},
}


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def sdk(server: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    client = server.client(max_retries=1, timeout=5.0)
    yield client
    await client.close()


async def failed_job(
    tmp_path: Path, flow: str, llm: Any = None, images: Any = None
) -> dict[str, Any]:
    """Run one job of `flow` to its end; returns the error its `job.failed` event carries."""
    async with running_app(tmp_path, llm=llm, images=images) as app:
        job = await app.create(flow, FLOWS.get(flow) or {"prompt": "a red fox"})
        done = await app.wait_for(job["id"], timeout=20.0)
        events = await app.events(job["id"])
    assert done["status"] == "failed", done
    assert events[-1]["type"] == "job.failed"
    assert events[-1]["data"]["error"] == done["error"]
    return done["error"]


@pytest.mark.parametrize(("flow", "expected"), [("review", "an event stream"), ("article", "JSON")])
async def test_an_html_page_is_named_by_its_title(
    tmp_path: Path, server: FakeOpenAI, sdk: openai.AsyncOpenAI, flow: str, expected: str
) -> None:
    server.send_raw(LOGIN_PAGE, "text/html; charset=utf-8", times=100)

    error = await failed_job(tmp_path, flow, OpenAILLM(model=MODEL, client=sdk))

    assert error == {
        "type": "LLMError",
        "message": f"the model server answered 200 with an HTML page, not {expected}: "
        "<title>Sign in \u2013 Example Corp Proxy</title>",
    }


@pytest.mark.parametrize("flow", ["review", "article"])
async def test_invalid_json_is_quoted(
    tmp_path: Path, server: FakeOpenAI, sdk: openai.AsyncOpenAI, flow: str
) -> None:
    server.send_raw('{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{', times=100)

    error = await failed_job(tmp_path, flow, OpenAILLM(model=MODEL, client=sdk))

    assert error == {
        "type": "LLMError",
        "message": "the model server answered 200 with invalid JSON: "
        '\'{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{\'',
    }


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            '{"status": "ok", "version": "2.1"}',
            "application/json",
            "the model server answered 200 with JSON that is not a chat completion: "
            '\'{"status": "ok", "version": "2.1"}\'',
        ),
        (
            '{"error": {"message": "upstream model crashed"}}',
            "application/json",
            "the model server answered 200 with an error: upstream model crashed",
        ),
        (
            'data: {"id": "chatcmpl-1", "choices": [\n\n',
            "text/event-stream",
            'the model server sent a stream event that is not JSON: \'{"id": "chatcmpl-1", '
            '"choices": [\'',
        ),
    ],
)
async def test_other_answers_that_are_not_completions_say_what_they_were(
    tmp_path: Path,
    server: FakeOpenAI,
    sdk: openai.AsyncOpenAI,
    body: str,
    content_type: str,
    message: str,
) -> None:
    server.send_raw(body, content_type, times=100)

    error = await failed_job(tmp_path, "review", OpenAILLM(model=MODEL, client=sdk))

    assert error == {"type": "LLMError", "message": message}


@pytest.mark.parametrize("flow", ["review", "article"])
async def test_an_answer_that_never_ends_fails_at_the_timeout(
    tmp_path: Path, server: FakeOpenAI, sdk: openai.AsyncOpenAI, flow: str
) -> None:
    """The SDK's timeout is per read: a token (or a keep-alive space) every 0.1 s never
    trips it. GENFLOW_LLM_TIMEOUT bounds the whole answer."""
    server.trickle = 0.1

    error = await failed_job(tmp_path, flow, OpenAILLM(model=MODEL, client=sdk, timeout=0.5))

    assert error == {
        "type": "LLMError",
        "message": "the model server did not finish its answer within 0.5 s (GENFLOW_LLM_TIMEOUT)",
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"b64_json": "iVBORw0KGgo=AAAA*not base64*"},
            "the image server sent image data that is not valid base64: "
            "'iVBORw0KGgo=AAAA*not base64*'",
        ),
        ({"url": "https://example.com/fox.png"}, "the image server returned no image data"),
    ],
)
async def test_an_image_that_is_not_base64_fails_with_image_error(
    tmp_path: Path,
    server: FakeOpenAI,
    sdk: openai.AsyncOpenAI,
    item: dict[str, Any],
    message: str,
) -> None:
    server.send_raw(json.dumps({"created": 1, "data": [item]}), times=100)

    error = await failed_job(
        tmp_path, "image", images=OpenAIImages(model="gpt-image-1", client=sdk)
    )

    assert error == {"type": "ImageError", "message": message}


async def test_an_html_page_instead_of_an_image_is_named_by_its_title(
    tmp_path: Path, server: FakeOpenAI, sdk: openai.AsyncOpenAI
) -> None:
    server.send_raw(LOGIN_PAGE, "text/html", times=100)

    error = await failed_job(
        tmp_path, "image", images=OpenAIImages(model="gpt-image-1", client=sdk)
    )

    assert error == {
        "type": "ImageError",
        "message": "the image server answered 200 with an HTML page, not JSON: "
        "<title>Sign in \u2013 Example Corp Proxy</title>",
    }


async def test_a_gateway_error_page_is_named_by_its_title(
    tmp_path: Path, server: FakeOpenAI, sdk: openai.AsyncOpenAI
) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    server.send_raw(page, "text/html", status=502, times=100)

    error = await failed_job(tmp_path, "review", OpenAILLM(model=MODEL, client=sdk))

    assert error == {
        "type": "LLMError",
        "message": "the model server answered 502: an HTML page: <title>502 Bad Gateway</title>",
    }
