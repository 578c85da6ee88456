"""The event loop the long-running processes (`serve`, `up`, `worker`) run on.

uvloop (libuv, written in C) where it is installed: a server process is bound by its one
GIL under load, and asyncio's own loop spends part of it in Python per callback, timer and
socket write. On a 1,000-job burst the API used about a tenth less CPU a job on uvloop
(docs/performance.md, "The event loop"). `GENFLOW_EVENT_LOOP=asyncio` picks the standard
library's loop (asyncio's debug mode, a platform without uvloop); `auto`, the default,
takes uvloop when it is installed. Tests and the CLI's one-shot commands keep asyncio's.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHOICES = ("auto", "uvloop", "asyncio")


def problem(kind: str) -> str | None:
    """Why `kind` cannot be used here (a message naming the fix), or None."""
    if kind not in CHOICES:
        return f"GENFLOW_EVENT_LOOP must be one of {', '.join(CHOICES)}, not {kind!r}"
    if kind == "uvloop" and not _has_uvloop():
        return "GENFLOW_EVENT_LOOP=uvloop, but uvloop is not installed (pip install uvloop)"
    return None


def factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the loop `kind` names (checked by `problem`); None: asyncio's own."""
    if kind == "asyncio" or not _has_uvloop():
        return None
    import uvloop

    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], kind: str) -> T:
    """`asyncio.run(main)` on the loop `kind` names."""
    with asyncio.Runner(loop_factory=factory(kind)) as runner:
        return runner.run(main)


def _has_uvloop() -> bool:
    return importlib.util.find_spec("uvloop") is not None
