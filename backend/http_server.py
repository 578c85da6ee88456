"""The API's HTTP server: uvicorn, with httptools' C parser.

Quart runs on any ASGI server. Under a burst the API process is bound by its one GIL,
and Hypercorn (Quart's own server) spends it in pure Python per connection and per
chunk: h11's parser and framing, a task per connection, one for its idle timeout, an
event object per body chunk. uvicorn's httptools protocol parses in C and writes each
chunk straight to its transport; a 1,000-job burst used less CPU per job on it
(docs/performance.md, "The HTTP server").
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

# Connections the kernel holds for us before we accept them. A backlog of 100 made a burst
# of 1,000 clients wait for SYN retransmits (1 s, 3 s, 7 s...) or be reset; Linux caps
# the figure at net.core.somaxconn (4096 by default since 5.4), so asking for more costs
# nothing where the kernel allows less.
LISTEN_BACKLOG = 4096
# Seconds open requests get to finish once asked to stop; streams end at once (`on_stop`).
GRACEFUL_SECONDS = 3


class _Server(uvicorn.Server):
    """uvicorn's server, leaving signals to `serve`: uvicorn's own handlers re-raise a
    SIGTERM after shutting down, so a clean stop would exit as killed (-15), not 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(app: Any, host: str, port: int, *, on_stop: Callable[[], None]) -> None:
    """Serve `app` until SIGINT or SIGTERM; `on_stop` runs first (it ends the live
    streams, which would otherwise hold the graceful shutdown to its limit)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        backlog=LISTEN_BACKLOG,
        http="httptools",
        ws="wsproto",  # websockets' legacy protocol is deprecated; wsproto comes with Quart
        lifespan="on",
        # The peer stays the peer: the API trusts X-Forwarded-For itself, only from
        # GENFLOW_FORWARDED_ALLOW_IPS (backend/api/accounts.py), not from uvicorn's list.
        proxy_headers=False,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        on_stop()
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await server.serve()
