"""Provider-neutral LLM calls: `await complete(prompt, system=..., schema=..., stream=...)`.

With `schema` the answer is parsed as JSON and validated; an invalid answer is sent back
to the model with the validation error (up to `STRUCTURED_ATTEMPTS` times). Streamed text
reaches the job's watchers through `flows.context.stream`; every call's tokens are
recorded through the context for cost accounting.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import jsonschema

from flows import context, schemas
from flows.slot import ProviderSlot

STRUCTURED_ATTEMPTS = 3

Message = dict[str, str]


class LLMError(RuntimeError):
    """The model could not be reached or refused the request (after transient retries)."""


class LLMOutputError(LLMError):
    """The model's structured answer stayed invalid after every repair attempt."""


@dataclass
class Completion:
    text: str
    model: str
    tokens_in: int
    tokens_out: int


@dataclass(frozen=True)
class Sampling:
    """One call's choices over the backend's defaults (a workflow's `llm` node sets them):
    `model` picks another model on the same server (openai backend; the embedded one has
    one model), `temperature` how adventurous the answer is."""

    model: str | None = None
    temperature: float | None = None

    def arguments(self) -> dict[str, Any]:
        return {k: v for k, v in (("temperature", self.temperature),) if v is not None}


DEFAULT_SAMPLING = Sampling()


class LLMBackend(Protocol):
    name: str

    async def generate(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
        sampling: Sampling = DEFAULT_SAMPLING,
    ) -> Completion: ...


def make_backend(
    kind: str, *, model: str | None = None, timeout: float = 120.0, script: str | None = None
) -> LLMBackend:
    """Build a backend by name: `openai`, `local` or `scripted`."""
    if kind == "openai":
        from flows.providers.openai_llm import OpenAILLM

        return OpenAILLM(model=model or "gpt-4o-mini", timeout=timeout)
    if kind == "local":
        from flows.providers.local_llm import LocalLLM

        return LocalLLM()
    if kind == "scripted":
        from flows.providers.scripted_llm import ScriptedLLM

        if not script:
            raise LLMError("GENFLOW_LLM=scripted needs GENFLOW_LLM_SCRIPT (a JSON file)")
        return ScriptedLLM.from_file(script)
    raise LLMError(f"unknown LLM backend {kind!r}; use openai, local or scripted")


def _backend_from_env() -> LLMBackend:
    has_openai = os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
    return make_backend(
        os.environ.get("GENFLOW_LLM") or ("openai" if has_openai else "local"),
        model=os.environ.get("GENFLOW_MODEL"),
        timeout=float(os.environ.get("GENFLOW_LLM_TIMEOUT") or 120.0),
        script=os.environ.get("GENFLOW_LLM_SCRIPT"),
    )


backend = ProviderSlot[LLMBackend]("genflow_llm", _backend_from_env)


async def complete(
    prompt: str,
    *,
    system: str | None = None,
    schema: dict[str, Any] | None = None,
    stream: bool = True,
    sampling: Sampling = DEFAULT_SAMPLING,
) -> Any:
    """Ask the current model; returns text, or validated JSON when `schema` is given."""
    messages: list[Message] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": prompt})
    llm = backend.get()
    on_delta = context.stream if stream and schema is None else None
    attempts = STRUCTURED_ATTEMPTS if schema is not None else 1
    problem = ""
    for _ in range(attempts):
        completion = await llm.generate(
            messages, schema=schema, on_delta=on_delta, sampling=sampling
        )
        context.current().record_usage(
            completion.model, completion.tokens_in, completion.tokens_out
        )
        if schema is None:
            return completion.text
        try:
            # strict=False: small models put raw newlines and tabs inside strings, which
            # llama.cpp's JSON grammar allows and a reader would accept.
            value = json.loads(_strip_fences(completion.text), strict=False)
            schemas.validate(value, schema)
            return value
        except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
            problem = exc.message if isinstance(exc, jsonschema.ValidationError) else str(exc)
            messages += [
                {"role": "assistant", "content": completion.text},
                {
                    "role": "user",
                    "content": f"That answer is invalid: {problem}. Reply again with only "
                    f"JSON that matches this schema: {json.dumps(schema)}",
                },
            ]
    raise LLMOutputError(f"the model's answer did not match the schema: {problem}")


def _strip_fences(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()
