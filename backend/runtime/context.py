"""The runner's side of `flows.context.JobContext`: one per node execution.

Progress and artifacts become durable events (through the job's EventWriter); streamed
model text becomes live-only `llm.delta` events, coalesced to about ten per second, each
naming the batch item whose text it is (so a watcher drops only that item's text when it
is tried again). Text still held back goes out before any durable event the node records
after it (a report, a retry, an artifact): a follower reads an answer's last words before
what came next, not up to 100 ms after it.
An artifact's id is derived from the job, node, visit and name, and it is stored with its
`artifact.created` in one transaction, idempotently: a node that runs again after a
crash leaves one artifact and one event behind, not two.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import Counter
from itertools import groupby
from operator import itemgetter
from typing import Any

from backend.domain import Artifact, utcnow
from backend.events import Event, EventType, NewEvent
from backend.metrics import Metrics
from backend.runtime.bus import EventBus
from backend.runtime.execute import batch_item
from backend.runtime.states import JobLost
from backend.runtime.writer import EventWriter
from backend.store.base import Store

DELTA_INTERVAL = 0.1


def price_of(prices: dict[str, tuple[float, float]], model: str) -> tuple[float, float]:
    """Exact name first, then the longest known prefix ("gpt-4o-mini-2024-07-18")."""
    if model in prices:
        return prices[model]
    known = [name for name in prices if model.startswith(name)]
    return prices[max(known, key=len)] if known else (0.0, 0.0)


class NodeContext:
    def __init__(
        self,
        *,
        job_id: str,
        fence: int,
        owner: str,
        node: str,
        visit: int,
        store: Store,
        bus: EventBus,
        writer: EventWriter,
        metrics: Metrics,
        prices: dict[str, tuple[float, float]],
    ) -> None:
        self.job_id, self.fence, self.owner = job_id, fence, owner
        self.node, self.visit = node, visit
        self._names: Counter[str] = Counter()  # artifacts saved so far, by name
        self.store, self.bus, self.writer, self.metrics = store, bus, writer, metrics
        self.prices = prices
        self.tokens_in = self.tokens_out = 0
        self.cost = 0.0
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._pending: list[tuple[int | None, str]] = []  # (batch item, text)
        self._flush_handle: asyncio.TimerHandle | None = None

    # -- flows.context.JobContext ----------------------------------------------------

    def report(self, message: str, fraction: float | None, data: dict[str, Any]) -> None:
        payload = {**data, "node": self.node, "message": str(message), "fraction": fraction}
        self.deltas_first()
        self.writer.append(NewEvent(EventType.NODE_PROGRESS, payload))

    def stream(self, text: str, item: int | None = None) -> None:
        if item is None:
            item = batch_item.get()
        if threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self.stream, text, item)
            return
        self._pending.append((item, text))
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_later(DELTA_INTERVAL, self._publish_deltas)

    async def save_artifact(self, data: bytes, *, mime: str, kind: str, name: str) -> str:
        self._names[name] += 1
        artifact = Artifact(
            id=self.artifact_id(name, self._names[name]),
            job_id=self.job_id,
            owner=self.owner,
            kind=kind,
            mime=mime,
            name=name,
            size=len(data),
            created_at=utcnow(),
            data=data,
        )
        created = NewEvent(
            EventType.ARTIFACT_CREATED,
            {
                "artifact_id": artifact.id,
                "kind": kind,
                "mime": mime,
                "url": artifact.url,
                "name": name,
                "node": self.node,
            },
        )
        self.deltas_first()
        await self.writer.flush()  # the node's earlier reports come first
        stored = await self.store.save_artifact(artifact, created, fence=self.fence)
        if stored is None:
            raise JobLost(self.job_id)
        self.bus.publish(stored)
        return artifact.id

    def artifact_id(self, name: str, nth: int) -> str:
        """The same on every run of this node visit: job, node, visit, name (and how
        many of that name came before)."""
        key = f"{self.job_id}\0{self.node}\0{self.visit}\0{name}\0{nth}"
        return "art_" + hashlib.sha256(key.encode()).hexdigest()[:32]

    def record_usage(self, model: str, tokens_in: int, tokens_out: int) -> None:
        price_in, price_out = price_of(self.prices, model)
        cost = (tokens_in * price_in + tokens_out * price_out) / 1_000_000
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out
        self.cost += cost
        self.metrics.record_llm(model, tokens_in, tokens_out, cost)

    async def decide(self, node: str, request: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the runner handles review gates itself")  # never reached

    # -- runner side -----------------------------------------------------------------

    def deltas_first(self) -> None:
        """Publish the text held back now, ahead of a durable event the caller is about
        to record (from a worker thread: queued behind that thread's own `stream` calls,
        and ahead of its `append`, which the writer queues the same way)."""
        if threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self.deltas_first)
            return
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._publish_deltas()

    def _publish_deltas(self) -> None:
        self._flush_handle = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        now, progress = utcnow(), self.writer.progress or 0
        self.writer.append_live(
            [  # one event per run of one item's text
                Event(
                    job_id=self.job_id,
                    type=EventType.LLM_DELTA,
                    data=_delta(self.node, item, "".join(text for _, text in run)),
                    ts=now,
                    progress=progress,
                )
                for item, run in groupby(pending, key=itemgetter(0))
            ]
        )

    def close(self) -> None:
        self.deltas_first()

    def usage(self) -> dict[str, Any] | None:
        if not (self.tokens_in or self.tokens_out):
            return None
        return {
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost, 6),
        }


def _delta(node: str, item: int | None, text: str) -> dict[str, Any]:
    return (
        {"node": node, "text": text} if item is None else {"node": node, "item": item, "text": text}
    )
