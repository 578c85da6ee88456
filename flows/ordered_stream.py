"""Streamed text of a parallel batch, in item order.

A watcher (web chat, Slack, the CLI) appends streamed text in the order it arrives, so
the items of a parallel batch node must not stream into one another. Each item gets a
*lane*: the earliest lane that has not ended streams straight through, later lanes are
held, and when a lane ends (a try succeeds, or the fallback answers or raises) the held
text of the lanes after it follows in order and the next unended lane goes live.

A lane that never starts (the runner skips items finished before a crash) does not hold
the others up: it is passed over as soon as a later lane starts, since items start in
order (the runner's concurrency limit is first come, first served; PocketFlow starts them
all at once). `close()` sends whatever is still held, in lane order.

Retries: an item's text belongs to its tries. A held lane's failed try was seen by
nobody, so its retry starts the lane afresh, and it is not sent meanwhile even if the lane
goes live (a retry may wait `wait` seconds first: it would come after the retry); a live
lane's text is already out, and its retry follows it, as in a sequential batch. The
fallback adds to the last try's text.
Text goes out under its lane's number (`stream(text, lane)`), so lane i is item i of
the batch: a watcher drops what it shows of item i's text when item i is tried again.

Everything here runs on the event loop's thread (as the model backends call
`flows.context.stream`); nothing awaits, so no lock is needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flows import context
from flows.context import JobContext


@dataclass
class _Lane:
    started: bool = False
    ended: bool = False
    failed: bool = False  # its last try failed unseen: not sent until a fallback follows
    held: list[str] = field(default_factory=list)


class OrderedStream:
    """The lanes of one batch run; make it in `prep_async`, close it in `post_async`."""

    def __init__(self, lanes: int, target: JobContext | None = None) -> None:
        self.target = target or context.current()
        self._lanes = [_Lane() for _ in range(lanes)]
        self._live = 0  # the lane that streams straight through; past the end once closed

    @contextlib.contextmanager
    def attempt(self, lane: int) -> Iterator[None]:
        """One try of item `lane` (wrap `exec_async` in it). The lane ends when the try
        succeeds; after a failure a retry or the fallback follows, so it stays open."""
        state = self._lanes[lane]
        if state.failed or (state.started and lane != self._live):
            state.held.clear()  # a retry replaces a held try nobody saw
        state.failed = False
        self._start(lane)
        with context.bind(_LaneContext(self, lane)):
            try:
                yield
            except BaseException:
                state.failed = lane != self._live  # held until a retry drops it or a fallback
                raise
        self._end(lane)

    @contextlib.contextmanager
    def fallback(self, lane: int) -> Iterator[None]:
        """Item `lane`'s fallback (wrap `exec_fallback_async` in it): the lane ends
        whether the fallback answers or raises."""
        self._lanes[lane].failed = False  # the last try's text goes out before the fallback's
        self._start(lane)
        try:
            with context.bind(_LaneContext(self, lane)):
                yield
        finally:
            self._end(lane)

    def close(self) -> None:
        """The batch is over: send what is still held (lanes passed over, or started
        out of order), in lane order; anything written later goes straight through."""
        for lane in range(len(self._lanes)):
            self._release(lane)
        self._live = len(self._lanes)

    def write(self, lane: int, text: str) -> None:
        if lane == self._live or self._live >= len(self._lanes):
            self.target.stream(text, lane)
        else:
            self._lanes[lane].held.append(text)

    def _start(self, lane: int) -> None:
        self._lanes[lane].started = True
        self._advance()

    def _end(self, lane: int) -> None:
        self._lanes[lane].ended = True
        self._advance()

    def _advance(self) -> None:
        """Move the live lane past ended lanes (sending their held text) and past lanes
        that will not start, and send what the new live lane held so far."""
        while self._live < len(self._lanes):
            state = self._lanes[self._live]
            if state.started:
                self._release(self._live)
                if not state.ended:
                    return
            elif not any(later.started for later in self._lanes[self._live + 1 :]):
                return  # not started yet, and nothing after it has: it comes next
            self._live += 1

    def _release(self, lane: int) -> None:
        state = self._lanes[lane]
        if state.held and not state.failed:
            text, state.held = "".join(state.held), []
            self.target.stream(text, lane)


class _LaneContext:
    """The job's context as one lane sees it: only `stream` is ordered."""

    def __init__(self, order: OrderedStream, lane: int) -> None:
        self.order, self.lane = order, lane

    def report(self, message: str, fraction: float | None, data: dict[str, Any]) -> None:
        self.order.target.report(message, fraction, data)

    def stream(self, text: str, item: int | None = None) -> None:
        self.order.write(self.lane, text)

    async def save_artifact(self, data: bytes, *, mime: str, kind: str, name: str) -> str:
        return await self.order.target.save_artifact(data, mime=mime, kind=kind, name=name)

    def record_usage(self, model: str, tokens_in: int, tokens_out: int) -> None:
        self.order.target.record_usage(model, tokens_in, tokens_out)

    async def decide(self, node: str, request: dict[str, Any]) -> dict[str, Any]:
        return await self.order.target.decide(node, request)
