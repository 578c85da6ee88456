"""The embedded model stops generating when its caller is cancelled.

llama.cpp runs on the model's own thread, which asyncio cannot cancel: without a stop
signal a cancelled job's generation would run to its end, holding the model (stalling
every other job of the process) and keeping a stopping worker alive for minutes.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from flows import context, llm
from flows.providers.local_llm import LocalLLM

pytestmark = pytest.mark.slow


async def test_a_cancelled_generation_stops_and_frees_the_model() -> None:
    llm = LocalLLM()
    started = asyncio.Event()
    pieces: list[str] = []

    def on_delta(text: str) -> None:
        pieces.append(text)
        started.set()

    long_one = asyncio.create_task(
        llm.generate(
            [{"role": "user", "content": "Write a very long essay about the history of tea."}],
            on_delta=on_delta,
        )
    )
    await asyncio.wait_for(started.wait(), 120)
    long_one.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long_one
    # The thread notices at its next token and lets go of the model: the next caller,
    # queued on the same thread, gets its turn.
    freed = asyncio.wrap_future(llm._thread.submit(threading.current_thread))
    worker = await asyncio.wait_for(freed, 10)
    assert worker.name.startswith("genflow-local-llm"), "the model runs on its own thread"


async def test_calls_wait_their_turn_in_order_on_the_models_own_thread() -> None:
    llm = LocalLLM(max_tokens=8)
    finished: list[int] = []

    async def ask(n: int) -> None:
        await llm.generate([{"role": "user", "content": f"Say the number {n}."}])
        finished.append(n)

    await asyncio.gather(*(ask(n) for n in range(4)))
    assert finished == [0, 1, 2, 3], "first come, first served"


async def test_streamed_text_reaches_the_job_that_asked() -> None:
    """The model thread hands each piece back to the event loop in the caller's context,
    where the job's watchers are (`flows.context`)."""
    watcher = context.DetachedContext()
    with llm.backend.use(LocalLLM(max_tokens=16)), context.bind(watcher):
        text = await llm.complete("Say hello in five words.")
    assert text and "".join(watcher.streamed) == text
