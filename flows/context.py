"""How a node talks to whoever runs it, without knowing who that is.

The GenFlow runner binds a `JobContext` (through a contextvar) around every node it runs;
nodes call the module functions `report`, `stream`, `save_artifact`. Run under plain
PocketFlow, the `DetachedContext` default drops reports and keeps artifacts in memory,
and review gates take their decisions from a list given to it.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Protocol


class ReviewRequired(RuntimeError):
    """A review gate ran with nobody to decide (plain PocketFlow, no decisions given)."""


class JobContext(Protocol):
    def report(self, message: str, fraction: float | None, data: dict[str, Any]) -> None: ...

    # `item`: the batch item whose text it is, where the runner cannot tell by itself
    # (text one item's task sends for another: `OrderedStream`)
    def stream(self, text: str, item: int | None = None) -> None: ...

    async def save_artifact(self, data: bytes, *, mime: str, kind: str, name: str) -> str: ...

    def record_usage(self, model: str, tokens_in: int, tokens_out: int) -> None: ...

    async def decide(self, node: str, request: dict[str, Any]) -> dict[str, Any]: ...


class DetachedContext:
    """The context of a flow run without the server (tests, notebooks, scripts)."""

    def __init__(self, decisions: list[dict[str, Any]] | None = None) -> None:
        self.decisions = list(decisions or [])
        self.reports: list[tuple[str, float | None, dict[str, Any]]] = []
        self.streamed: list[str] = []
        self.artifacts: dict[str, tuple[bytes, str]] = {}
        self.usage: list[tuple[str, int, int]] = []
        self._ids = itertools.count(1)

    def report(self, message: str, fraction: float | None, data: dict[str, Any]) -> None:
        self.reports.append((message, fraction, data))

    def stream(self, text: str, item: int | None = None) -> None:
        self.streamed.append(text)

    async def save_artifact(self, data: bytes, *, mime: str, kind: str, name: str) -> str:
        artifact_id = f"local-{next(self._ids)}"
        self.artifacts[artifact_id] = (data, mime)
        return artifact_id

    def record_usage(self, model: str, tokens_in: int, tokens_out: int) -> None:
        self.usage.append((model, tokens_in, tokens_out))

    async def decide(self, node: str, request: dict[str, Any]) -> dict[str, Any]:
        if not self.decisions:
            raise ReviewRequired(
                f"{node} needs a human decision: run the flow under the GenFlow runner, "
                "or bind DetachedContext(decisions=[...])"
            )
        return self.decisions.pop(0)


_current: ContextVar[JobContext | None] = ContextVar("genflow_job_context", default=None)
_fallback = DetachedContext()


def current() -> JobContext:
    return _current.get() or _fallback


@contextlib.contextmanager
def bind(context: JobContext) -> Iterator[JobContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def report(message: str, fraction: float | None = None, **data: Any) -> None:
    """Tell the watchers what the node is doing; `fraction` is 0-1 within the node."""
    if fraction is not None:
        fraction = max(0.0, min(1.0, float(fraction)))
    current().report(message, fraction, data)


def stream(text: str) -> None:
    """A chunk of model output as it is written (live only, never stored)."""
    if text:
        current().stream(text)


async def save_artifact(data: bytes, *, mime: str, kind: str, name: str = "artifact") -> str:
    """Store bytes once (an image, an article) and get the id to reference them by."""
    return await current().save_artifact(data, mime=mime, kind=kind, name=name)
