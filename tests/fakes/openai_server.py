"""A local OpenAI-compatible HTTP server for tests: the real `openai` SDK talks to it.

In-process (async tests)::

    async with FakeOpenAI() as server:            # 127.0.0.1, ephemeral port
        server.rules.append(Rule("Bonjour", match="French"))
        server.fail(429, times=2)                 # the next 2 requests answer 429
        client = server.client(max_retries=3)     # an openai.AsyncOpenAI for base_url
        ...
        assert server.requests[-1].body["model"] == "gpt-4o-mini"

Subprocess: `python -m tests.fakes.openai_server --port 0` prints the bound port on one
line when ready; `POST /_fake/control` (`{"reset", "rules", "fail", "stall", "raw",
"latency", "hold", "release", "chunk_delay", "structured", "trickle"}`) and
`GET /_fake/requests` script and inspect it from another process.

Without a matching rule, chat answers echo the last user message (`Echo: ...`) and
structured requests (`response_format` `json_schema`, or `json_object` with a `schema`)
get a minimal instance of the schema (`minimal_instance`). Images are small real PNGs
drawn with Pillow.

Servers that are not OpenAI, as the tests need them:

- `structured`: which `response_format` the server takes. `"json_schema"` (OpenAI,
  vLLM); `"json_object"` refuses `json_schema` with the HTTP 500 llama-cpp-python's
  server sends; `"none"` refuses any `response_format` with a 400 unsupported parameter.
- `answers="article"` (`--answers article`): without a rule, the answers of a competent
  model to the article flow (`article_answers.py`), which pass its checks first time.
- `trickle`: seconds between the tokens of an answer that never ends (a streamed one
  sends a word each time; a non-streamed one a space before its JSON, as keep-alives do).
- `send_raw(body, content_type, status)`: the next requests get exactly this body (a
  proxy's HTML login page, invalid JSON, an image that is not base64).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import itertools
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
from hypercorn.asyncio import serve
from hypercorn.config import Config
from PIL import Image, ImageDraw
from quart import Quart, Response, request

ECHO_CHARS = 60
ERROR_TYPES = {401: "invalid_request_error", 429: "rate_limit_exceeded"}


@dataclass
class Rule:
    """Answer requests whose last user message contains `match` (any, if None).

    `answer` is text or a JSON value (sent as JSON text); with `times` the rule is
    used that many times and then skipped.
    """

    answer: Any
    match: str | None = None
    times: int | None = None
    used: int = 0

    def applies_to(self, prompt: str) -> bool:
        exhausted = self.times is not None and self.used >= self.times
        return not exhausted and (self.match is None or self.match in prompt)


@dataclass
class Fault:
    """One injected failure: an HTTP `status` error, (status 0) a stall of `seconds`, or
    with `body` that body verbatim, whatever the status."""

    status: int
    seconds: float = 0.0
    message: str = "injected failure"
    body: str | None = None
    content_type: str = "application/json"


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class FakeOpenAI:
    """The fake server's state and app; tests mutate the public fields freely."""

    rules: list[Rule] = field(default_factory=list)
    latency: float = 0.0  # seconds before every answer
    chunk_delay: float = 0.0  # seconds between streamed chunks
    retry_after_ms: int = 1  # sent with 429/5xx so the SDK retries almost at once
    api_key: str | None = None  # when set, other bearer tokens get 401
    structured: str = "json_schema"  # response_format taken: json_schema, json_object, none
    trickle: float = 0.0  # > 0: answers never end, a token every `trickle` seconds
    answers: str = "minimal"  # without a rule: "minimal", or "article" (article_answers.py)
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # prompts with one of these wait: `hold`
    port: int = 0
    _ids: itertools.count[int] = field(default_factory=itertools.count, init=False, repr=False)
    _closing: asyncio.Event | None = field(default=None, init=False, repr=False)
    _changed: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    # -- test controls -------------------------------------------------------------

    def fail(self, status: int, times: int = 1, message: str = "injected failure") -> None:
        """The next `times` requests answer `status` (429, 500, 503, 401, ...)."""
        self.faults += [Fault(status, message=message) for _ in range(times)]

    def stall(self, seconds: float, times: int = 1) -> None:
        """The next `times` requests wait `seconds` before answering (to hit timeouts)."""
        self.faults += [Fault(0, seconds=seconds) for _ in range(times)]

    def send_raw(
        self, body: str, content_type: str = "application/json", status: int = 200, times: int = 1
    ) -> None:
        """The next `times` requests get `body` as it is (HTML, broken JSON, ...)."""
        self.faults += [Fault(status, body=body, content_type=content_type)] * times

    def reset(self) -> None:
        self.rules.clear()
        self.requests.clear()
        self.faults.clear()
        self.chunk_delay = self.trickle = 0.0
        self.held.clear()
        self.set_latency(0.0)
        self.structured = "json_schema"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, *, max_retries: int = 2, timeout: float = 5.0) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key or "test",
            max_retries=max_retries,
            timeout=timeout,
        )

    def chats(self) -> list[dict[str, Any]]:
        """The JSON bodies of every chat completion request, in order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    # -- lifecycle -----------------------------------------------------------------

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> FakeOpenAI:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # connections queue from now on, before hypercorn starts
        self.port = sock.getsockname()[1]
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns the socket now
        config.graceful_timeout = 0.5
        config.errorlog = None
        self._closing = asyncio.Event()
        self._task = asyncio.create_task(
            serve(build_app(self), config, shutdown_trigger=self._closing.wait)  # type: ignore[arg-type]
        )
        return self

    async def stop(self) -> None:
        if self._closing is not None and self._task is not None:
            self._closing.set()
            await self._task
            self._task = None

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def ticks(self) -> AsyncIterator[None]:
        """Every `trickle` seconds, until the client goes away or the server stops."""
        assert self._closing is not None
        while not self._closing.is_set():
            await self._wait(self.trickle)
            yield

    def set_latency(self, seconds: float) -> None:
        """A new `latency`, which calls already waiting count by at once: a test can hold
        every call (a long latency) until it has seen what it waits for, then let them go
        (latency 0), instead of racing a fixed delay on a busy machine."""
        self.latency = seconds
        self._wake()

    def hold(self, match: str) -> None:
        """Requests whose prompt contains `match` wait until `release()` (or a reset): a
        test holds one job's model calls while another job's go on."""
        self.held.append(match)

    def release(self) -> None:
        self.held.clear()
        self._wake()

    def _wake(self) -> None:
        """Tell waiting calls that the latency or the held prompts changed."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_latency(self) -> None:
        """Wait out `latency`, counted from the call's start (see `set_latency`)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while (left := started + self.latency - loop.time()) > 0:
            if not await self._until_changed(left):
                return

    async def _wait_held(self, prompt: str) -> None:
        while any(match in prompt for match in self.held):
            if not await self._until_changed(None):
                return

    async def _until_changed(self, timeout: float | None) -> bool:
        """Wait for a control change, at most `timeout` seconds; False: shutting down."""
        if self._closing is None or self._closing.is_set():
            return False
        waits = {asyncio.ensure_future(self._changed.wait())}
        waits.add(asyncio.ensure_future(self._closing.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return True

    async def _wait(self, seconds: float) -> None:
        """Sleep, but wake up at once when the server shuts down."""
        if seconds > 0 and self._closing is not None:
            try:
                await asyncio.wait_for(self._closing.wait(), seconds)
            except TimeoutError:
                pass

    # -- answers -------------------------------------------------------------------

    def answer(self, body: dict[str, Any]) -> str:
        prompt = last_user_message(body.get("messages") or [])
        rule = next((r for r in self.rules if r.applies_to(prompt)), None)
        if rule is not None:
            rule.used += 1
            return rule.answer if isinstance(rule.answer, str) else json.dumps(rule.answer)
        response_format = body.get("response_format") or {}
        schema = _schema_of(response_format)
        if self.answers == "article":
            from tests.fakes.article_answers import article_answer

            return article_answer(prompt, schema)
        if schema is not None:
            return json.dumps(minimal_instance(schema))
        if response_format.get("type") == "json_object":
            return json.dumps({"answer": prompt[:ECHO_CHARS]})
        return f"Echo: {prompt[:ECHO_CHARS]}"

    def refusal(self, body: dict[str, Any]) -> Response | None:
        """What a server without this `response_format` answers, as real ones do."""
        kind = (body.get("response_format") or {}).get("type")
        if kind is None or self.structured == "json_schema":
            return None
        if self.structured == "json_object" and kind in ("json_object", "text"):
            return None
        if self.structured == "json_object":  # llama-cpp-python's words (less its traceback)
            detail = (
                "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
                "'response_format', 'type'), 'msg': \"Input should be 'text' or "
                f"'json_object'\", 'input': '{kind}', 'ctx': {{'expected': \"'text' or "
                "'json_object'\"}}}\n"
            )
            error = {"message": detail, "type": "internal_server_error", "param": None}
            return _json_response({"error": {**error, "code": None}}, 500)
        error = {
            "message": "Unsupported parameter: 'response_format' is not supported by this server.",
            "type": "invalid_request_error",
            "param": "response_format",
            "code": "unsupported_parameter",
        }
        return _json_response({"error": error}, 400)


def _schema_of(response_format: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a structured request asks for, if any."""
    if response_format.get("type") == "json_schema":
        return response_format.get("json_schema", {}).get("schema") or {}
    if response_format.get("type") == "json_object" and isinstance(
        response_format.get("schema"), dict
    ):  # llama-cpp-python's extension
        return response_format["schema"]
    return None


def last_user_message(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content") or ""
            if isinstance(content, list):  # content parts
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
    return ""


def minimal_instance(
    schema: dict[str, Any],
    root: dict[str, Any] | None = None,
    label: str = "Value",
    index: int | None = None,
) -> Any:
    """A small, deterministic value valid for `schema` (e.g. `{"title": "Section 1"}`)."""
    root = root if root is not None else schema
    if "$ref" in schema:  # local refs only: "#/$defs/Name"
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return minimal_instance(target, root, label, index)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return minimal_instance(schema[key][0], root, label, index)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type") or ("object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {
            name: minimal_instance(
                props.get(name, {}),
                root,
                label if name in ("title", "name") and index else name.capitalize(),
                index,
            )
            for name in schema.get("required", [])
        }
    if kind == "array":
        count = max(schema.get("minItems", 0), min(1, schema.get("maxItems", 1)))
        item_label = label[:-1] if label.endswith("s") else label
        return [
            minimal_instance(schema.get("items", {}), root, item_label, i + 1) for i in range(count)
        ]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        low = min(low, schema.get("maximum", low))
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    text = f"{label} {index}" if index else label
    text = text.ljust(schema.get("minLength", 0), "x")
    return text[: schema["maxLength"]] if "maxLength" in schema else text


def png_bytes(prompt: str, size: str) -> bytes:
    """A real, small PNG whose colour depends on the prompt (1/16 of the asked size)."""
    width, height = (int(n) // 16 for n in size.split("x")) if "x" in size else (64, 64)
    colour = tuple(hashlib.sha256(prompt.encode()).digest()[:3])
    picture = Image.new("RGB", (max(width, 8), max(height, 8)), colour)
    ImageDraw.Draw(picture).rectangle((2, 2, 5, 5), fill=(255, 255, 255))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _json_response(body: Any, status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(status: int, message: str, retry_after_ms: int) -> Response:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    if status == 429 or status >= 500:
        response.headers["Retry-After"] = "0"
        response.headers["retry-after-ms"] = str(retry_after_ms)
    return response


def _usage(body: dict[str, Any], answer: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
    completion = len(answer.split())
    return dict(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def build_app(fake: FakeOpenAI) -> Quart:
    app = Quart("fake_openai")

    @app.before_request
    async def record_and_inject() -> Response | None:
        if request.path.startswith("/_fake/"):
            return None
        body = await request.get_json(silent=True)
        headers = {k.lower(): v for k, v in request.headers.items()}
        fake.requests.append(Recorded(request.method, request.path, body, headers))
        await fake._wait_latency()
        if isinstance(body, dict):
            await fake._wait_held(last_user_message(body.get("messages") or []))
        if fake.api_key and headers.get("authorization") != f"Bearer {fake.api_key}":
            return _error(401, "Incorrect API key provided", fake.retry_after_ms)
        if fake.faults:
            fault = fake.faults.pop(0)
            if fault.body is not None:
                return Response(fault.body, status=fault.status, content_type=fault.content_type)
            if fault.status == 0:
                await fake._wait(fault.seconds)
            else:
                return _error(fault.status, fault.message, fake.retry_after_ms)
        return None

    @app.post("/v1/chat/completions")
    async def chat() -> Response | dict[str, Any]:
        body = await request.get_json()
        if (refused := fake.refusal(body)) is not None:
            return refused
        answer = fake.answer(body)
        base = {
            "id": f"chatcmpl-fake-{next(fake._ids)}",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "system_fingerprint": "fake",
        }
        usage = _usage(body, answer)
        if not body.get("stream") and fake.trickle > 0:  # keep-alive spaces, never the JSON

            async def spaces() -> AsyncIterator[bytes]:
                async for _ in fake.ticks():
                    yield b" "

            return Response(spaces(), mimetype="application/json")
        if not body.get("stream"):
            message = {"role": "assistant", "content": answer, "refusal": None}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
            return {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            data = {**base, "object": "chat.completion.chunk", "choices": [choice]}
            return f"data: {json.dumps({**data, 'usage': None} if with_usage else data)}\n\n"

        async def events() -> Any:
            yield chunk({"role": "assistant", "content": ""})
            if fake.trickle > 0:
                async for _ in fake.ticks():
                    yield chunk({"content": " more"})
            for piece in re.findall(r"\s*\S+|\s+$", answer) or [answer]:
                await fake._wait(fake.chunk_delay)
                yield chunk({"content": piece})
            yield chunk({}, "stop")
            if with_usage:
                final = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
                yield f"data: {json.dumps(final)}\n\n"
            yield "data: [DONE]\n\n"

        return Response(
            events(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.post("/v1/images/generations")
    async def images() -> dict[str, Any]:
        body = await request.get_json()
        picture = base64.b64encode(png_bytes(body["prompt"], body.get("size") or "auto"))
        item = {"b64_json": picture.decode(), "revised_prompt": body["prompt"]}
        data = [item] * int(body.get("n") or 1)
        return {"created": int(time.time()), "data": data}

    @app.post("/_fake/control")
    async def control() -> dict[str, Any]:
        body = await request.get_json()
        if body.get("reset"):
            fake.reset()
        fake.rules += [Rule(**rule) for rule in body.get("rules", [])]
        for status, times in body.get("fail", []):
            fake.fail(status, times)
        for seconds, times in body.get("stall", []):
            fake.stall(seconds, times)
        for raw in body.get("raw", []):  # {"body", "content_type"?, "status"?, "times"?}
            fake.send_raw(**raw)
        fake.structured = str(body.get("structured", fake.structured))
        fake.trickle = float(body.get("trickle", fake.trickle))
        for match in body.get("hold", []):
            fake.hold(str(match))
        if body.get("release"):
            fake.release()
        fake.set_latency(float(body.get("latency", fake.latency)))
        fake.chunk_delay = float(body.get("chunk_delay", fake.chunk_delay))
        return {"ok": True}

    @app.get("/_fake/requests")
    async def recorded() -> dict[str, Any]:
        return {"requests": [asdict(r) for r in fake.requests]}

    return app


@dataclass
class FakeOpenAIProcess:
    """The fake server as a process of its own, scripted over HTTP: for tests and
    benchmarks whose event loop must stay free (or that block it)."""

    log_path: Path | None = None  # its stderr, for failure messages
    latency: float = 0.0
    answers: str = "minimal"  # or "article": FakeOpenAI.answers
    proc: subprocess.Popen[str] | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIProcess:
        command = [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0"]
        self.proc = subprocess.Popen(
            [*command, "--latency", str(self.latency), "--answers", self.answers],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.PIPE,
            stderr=self.log_path.open("w") if self.log_path else None,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the port, once it listens
        assert line.strip().isdigit(), f"fake OpenAI did not start (log: {self.log_path})"
        self.port = int(line)
        return self

    def control(self, **body: Any) -> None:
        """`reset`, `rules`, `fail`, `stall` ([[seconds, times]]), `raw`, `latency`, `hold`
        ([prompt text]), `release`, `chunk_delay`, `structured`, `trickle` (see the module
        docstring)."""
        url = f"http://127.0.0.1:{self.port}/_fake/control"
        httpx.post(url, json=body, timeout=5.0).raise_for_status()

    def chat_requests(self) -> int:
        response = httpx.get(f"http://127.0.0.1:{self.port}/_fake/requests", timeout=5.0)
        return sum(1 for r in response.json()["requests"] if r["path"].endswith("/completions"))

    def stop(self) -> None:
        from tests.e2e.server import stop_process

        stop_process(self.proc)  # type: ignore[arg-type]


async def _main(port: int, host: str, latency: float, answers: str) -> None:
    fake = await FakeOpenAI(latency=latency, answers=answers).start(port, host)
    assert fake._task is not None and fake._closing is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, fake._closing.set)
    print(fake.port, flush=True)
    await fake._task


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server for tests")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--answers", choices=("minimal", "article"), default="minimal")
    args = parser.parse_args()
    try:
        asyncio.run(_main(args.port, args.host, args.latency, args.answers))
    except KeyboardInterrupt:
        pass
