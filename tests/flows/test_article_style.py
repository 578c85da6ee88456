"""The article's style pass rewrites its sections at once (a critical path of three model
calls: outline, sections, style), and the text it streams still reads in section order,
heading before body, whichever rewrite finishes first."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from backend.runtime.execute import execute_node
from flows import article, context
from flows.llm import backend
from flows.providers.scripted_llm import Reply, ScriptedLLM
from tests.fakes.gated_llm import GatedLLM, streamed
from tests.harness import OUTLINE, SECTION_TEXT, running_app

TITLES = [section["title"] for section in OUTLINE["sections"]]
# Each section's draft opens with its own sentence, so its rewrite prompt says which it is.
OPENINGS = {title: f"{title} opens this part." for title in TITLES}
STYLED = {title: f"So, {OPENINGS[title].lower()} {SECTION_TEXT}" for title in TITLES}
WAIT = 10  # seconds: a wait that times out is a failure, not a hang


def article_llm() -> GatedLLM:
    """Outline and sections answer at once; the three rewrites are held until released."""
    inner = ScriptedLLM(
        [
            Reply(OUTLINE, match="Write an outline"),
            *(
                Reply(f"{OPENINGS[title]} {SECTION_TEXT}", match=f"the section '{title}'")
                for title in TITLES
            ),
        ]
    )
    return GatedLLM(inner, {OPENINGS[title]: STYLED[title] for title in TITLES})


def expected_stream() -> str:
    return "".join(f"\n\n## {title}\n\n{streamed(STYLED[title])}" for title in TITLES)


def first_half(title: str) -> str:
    """What GatedLLM streams of a rewrite before it is released."""
    words = [word + " " for word in STYLED[title].split(" ")]
    return "".join(words[: len(words) // 2])


async def finish_in_reverse(llm: GatedLLM) -> None:
    """Wait until all three rewrites are in flight at once, then let the last section's
    finish first and the first section's last."""
    await asyncio.wait_for(llm.all_in_flight.wait(), WAIT)
    for title in reversed(TITLES):
        llm.release(OPENINGS[title])
        await asyncio.wait_for(llm.returned(OPENINGS[title]), WAIT)


async def test_the_rewrites_overlap_and_stream_in_order_under_plain_pocketflow() -> None:
    llm = article_llm()
    llm.opened.set()
    detached = context.DetachedContext()
    shared: dict[str, Any] = {"topic": "coffee"}
    with backend.use(llm), context.bind(detached):
        run = asyncio.create_task(article.build({"topic": "coffee"}).run_async(shared))
        await asyncio.wait_for(llm.all_in_flight.wait(), WAIT)
        # all three are in flight; only the first section is live, the others are held
        assert "".join(detached.streamed) == f"\n\n## {TITLES[0]}\n\n{first_half(TITLES[0])}"
        for title in reversed(TITLES[1:]):
            llm.release(OPENINGS[title])
            await asyncio.wait_for(llm.returned(OPENINGS[title]), WAIT)
        assert "".join(detached.streamed).count("## ") == 1  # still held behind section 1
        llm.release(OPENINGS[TITLES[0]])
        await asyncio.wait_for(run, WAIT)
    assert "".join(detached.streamed) == expected_stream()
    markdown = shared["result"]["markdown"]
    positions = [markdown.index(f"## {title}\n\n{STYLED[title]}") for title in TITLES]
    assert positions == sorted(positions)
    styling = [m for m, _, _ in detached.reports if m.startswith("Rewriting in")]
    assert styling == [f"Rewriting in {article.STYLE}"]


async def test_the_runner_runs_the_rewrites_at_once_and_streams_them_in_order(
    tmp_path: Path,
) -> None:
    llm = article_llm()
    async with running_app(tmp_path, llm) as h:
        job = await h.create("article", {"topic": "coffee"})
        subscription = h.services.bus.subscribe(job["id"])
        llm.opened.set()  # nothing has been streamed before the subscription
        releasing = asyncio.create_task(finish_in_reverse(llm))
        deltas: list[str] = []
        try:
            while True:
                item = await subscription.get(WAIT)
                assert item is not None, f"no events; streamed so far: {''.join(deltas)!r}"
                kind = getattr(item, "type", None)  # LAGGED and CLOSED have none
                if kind == "llm.delta":
                    assert item.data["node"] == "ApplyStyle"
                    deltas.append(item.data["text"])
                if kind == "job.completed":
                    break
            await releasing  # all three were in flight at once (or this times out)
        finally:
            releasing.cancel()
            subscription.close()
        done = await h.job(job["id"])
        events = await h.events(job["id"])
    assert done["status"] == "completed"
    assert "".join(deltas) == expected_stream()
    markdown = done["result"]["markdown"]
    assert [line for line in markdown.splitlines() if line.startswith("## ")] == [
        f"## {title}" for title in TITLES
    ]
    progress = [e["data"]["message"] for e in events if e["type"] == "node.progress"]
    assert progress.count(f"Rewriting in {article.STYLE}") == 1
    assert not any(e["type"] == "node.retry" for e in events)


class Checkpoints:
    """The runner's batch-item checkpoints, in memory: what `load` returns, what `save` got."""

    def __init__(self, saved: dict[int, Any] | None = None) -> None:
        self.saved: dict[int, Any] = dict(saved or {})

    async def load(self) -> dict[int, Any]:
        return dict(self.saved)

    async def save(self, index: int, value: Any) -> None:
        self.saved[index] = value

    def item_done(self, done: int, total: int) -> None:
        pass


async def style(shared: dict[str, Any], llm: Any, batch: Checkpoints) -> list[str]:
    """Run ApplyStyle the way the runner does (its item checkpoints and concurrency)."""
    detached = context.DetachedContext()

    async def on_retry(attempt: int, exc: BaseException, index: int | None) -> None:
        raise AssertionError(f"no retry expected: {exc}")

    with backend.use(llm), context.bind(detached):
        await execute_node(
            article.ApplyStyle(max_retries=2, wait=1),
            shared,
            on_retry=on_retry,
            batch=batch,
            concurrency=3,
        )
    return detached.streamed


async def test_a_resumed_style_pass_streams_the_sections_it_reruns_live_and_in_order() -> None:
    """The first section was checkpointed before a crash, so the runner does not run it
    again: its lane must not hold the other two back."""
    drafts = [f"{OPENINGS[title]} {SECTION_TEXT}" for title in TITLES]
    shared = {"topic": "coffee", "title": "Coffee", "outline": OUTLINE["sections"]}
    answers = ScriptedLLM([Reply(STYLED[t], match=OPENINGS[t]) for t in TITLES])
    before_the_crash = Checkpoints()
    await style({**shared, "sections": drafts}, answers, before_the_crash)
    resumed: dict[str, Any] = {**shared, "sections": drafts}
    llm = GatedLLM(answers, {OPENINGS[t]: STYLED[t] for t in TITLES[1:]})
    llm.opened.set()
    run = asyncio.create_task(style(resumed, llm, Checkpoints({0: before_the_crash.saved[0]})))
    await asyncio.wait_for(llm.all_in_flight.wait(), WAIT)
    llm.release(OPENINGS[TITLES[2]])
    await asyncio.wait_for(llm.returned(OPENINGS[TITLES[2]]), WAIT)
    llm.release(OPENINGS[TITLES[1]])
    seen = await asyncio.wait_for(run, WAIT)
    assert seen[0] == f"\n\n## {TITLES[1]}\n\n"  # live at once, not held behind section 1
    assert "".join(seen) == "".join(
        f"\n\n## {title}\n\n{streamed(STYLED[title])}" for title in TITLES[1:]
    )
    first = [p for p in answers.prompts() if OPENINGS[TITLES[0]] in p]
    assert len(first) == 1  # section 1 was not rewritten again
    body = resumed["article"]
    positions = [body.index(f"## {title}\n\n{STYLED[title]}") for title in TITLES]
    assert positions == sorted(positions)
