"""The embedded model stops generating when its caller is cancelled.

llama.cpp runs in a worker thread, which asyncio cannot cancel: without a stop signal a
cancelled job's generation would run to its end, holding the model's lock (stalling
every other job of the process) and keeping a stopping worker alive for minutes.
"""

from __future__ import annotations

import asyncio

import pytest

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
    # The thread notices at its next token and lets go of the model's lock.
    acquired = await asyncio.to_thread(llm._lock.acquire, True, 10)
    assert acquired, "the cancelled generation still holds the model"
    llm._lock.release()
