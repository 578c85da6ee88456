"""How to ask an OpenAI-compatible server for JSON, and which way each server took.

Servers differ: OpenAI, vLLM, Ollama and LM Studio take `response_format` `json_schema`;
llama-cpp-python's server refuses it (HTTP 500, "Input should be 'text' or
'json_object'") but takes `json_object` with a `schema`; others take no
`response_format` at all. The `openai` backend tries the modes in `LADDER` order and
`MODES` remembers, per server and model, the one that worked, so a refusal costs one
failed call per process, not one per job. The answer is validated (and repaired) by
`flows.llm.complete` whichever mode produced it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import weakref
from collections.abc import AsyncIterator
from typing import Any, Literal

import openai

Mode = Literal["json_schema", "json_object", "prompt"]
LADDER: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")
Server = tuple[str, str]  # (base URL, model)

# Any error that names the structured-output request. A 5xx must name the parameter
# itself: "schema" alone also appears in errors that have nothing to do with us.
_NAMES_IT = re.compile(r"response_format|json_schema|json_object", re.IGNORECASE)
_NAMES_SCHEMA = re.compile(r"\bschema\b", re.IGNORECASE)
_UNSUPPORTED = re.compile(
    r"unsupported[ _]parameter|unrecognized request argument|unknown (?:field|parameter)|"
    r"extra (?:fields|inputs) (?:are )?not permitted",
    re.IGNORECASE,
)
_UNSUPPORTED_CODES = {"unsupported_parameter", "unsupported_value"}


def is_refusal(exc: openai.APIStatusError) -> bool:
    """Did the server refuse the *kind* of structured request (not fail transiently)?

    Rate limits (429) and the SDK's other retried statuses (408, 409) never are; a 5xx is
    only when its error names `response_format`/`json_schema`/`json_object` (what
    llama-cpp-python's server answers); a 400/422 also when it names a schema or says a
    parameter is unsupported.
    """
    status = exc.status_code
    text = f"{exc.message} {json.dumps(exc.body, default=str)}"
    if status >= 500:
        return bool(_NAMES_IT.search(text))
    if status not in (400, 422):
        return False
    body = exc.body if isinstance(exc.body, dict) else {}
    param, code = str(body.get("param") or ""), str(body.get("code") or "")
    return bool(
        _NAMES_IT.search(text)
        or _NAMES_SCHEMA.search(text)
        or _UNSUPPORTED.search(text)
        or param.startswith("response_format")
        or code in _UNSUPPORTED_CODES
    )


def request(mode: Mode, messages: list[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
    """The `chat.completions.create` arguments that ask for `schema` in `mode`.

    Only without `response_format` is the schema stated in the prompt: a server that takes
    the schema holds the model to it with a grammar, and the extra prompt only distracts a
    small model (SmolLM2 on llama-cpp-python's server wrote invalid JSON more often with
    it). A server that ignores `json_object`'s `schema` is shown it by `complete`'s repair
    turn.
    """
    if mode == "json_schema":
        return {
            "messages": messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema},
            },
        }
    if mode == "json_object":
        return {"messages": messages, "response_format": {"type": "json_object", "schema": schema}}
    return {"messages": _state_schema(messages, schema)}


def schema_instruction(schema: dict[str, Any]) -> str:
    return f"Answer with only JSON that matches this JSON schema: {json.dumps(schema)}"


def _state_schema(messages: list[dict[str, str]], schema: dict[str, Any]) -> list[dict[str, str]]:
    """The messages with the schema instruction added to the first user message (once,
    at the start: repair turns from `complete` repeat the schema themselves)."""
    stated = [dict(m) for m in messages]
    first = next((m for m in stated if m.get("role") == "user"), None)
    if first is None:
        stated.append({"role": "user", "content": schema_instruction(schema)})
    else:
        first["content"] = f"{first['content']}\n\n{schema_instruction(schema)}"
    return stated


class ModeMemory:
    """Which mode each server took, for this process.

    While a server's mode is unknown, one call at a time (per event loop) finds it out:
    concurrent first calls wait and then use what it found, instead of each paying for
    the refusal. The map itself is shared by every loop and thread of the process.
    """

    def __init__(self) -> None:
        self._modes: dict[Server, Mode] = {}
        self._guard = threading.Lock()
        self._locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Server, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def known(self, server: Server) -> Mode | None:
        with self._guard:
            return self._modes.get(server)

    def forget(self) -> None:
        """Drop what is known: another server may answer at a known address now (tests
        start a fake server per test, and ports are reused)."""
        with self._guard:
            self._modes.clear()

    def remember(self, server: Server, mode: Mode) -> bool:
        """Record that `mode` worked; True when that changed what was known."""
        with self._guard:
            changed = self._modes.get(server) != mode
            self._modes[server] = mode
            return changed

    @contextlib.asynccontextmanager
    async def finding(self, server: Server) -> AsyncIterator[Mode | None]:
        """Yields the known mode; while there is none, holds the server's detection lock.

        A call that waited while another found the mode out asks without the lock: held
        across every waiting call, it made a burst of first calls ask one after another
        (40 outlines at 200 ms each took 8 s)."""
        if (mode := self.known(server)) is not None:
            yield mode
            return
        with self._guard:
            per_loop = self._locks.setdefault(asyncio.get_running_loop(), {})
            lock = per_loop.setdefault(server, asyncio.Lock())
        async with lock:
            mode = self.known(server)
            if mode is None:  # this call finds it out; the others wait for it
                yield None
                return
        yield mode


MODES = ModeMemory()
