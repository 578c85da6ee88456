"""The API's HTTP server: uvicorn, with httptools' C parser.

Quart runs on any ASGI server. Under a burst the API process is bound by its one GIL,
and Hypercorn (Quart's own server) spends it in pure Python per connection and per
chunk: h11's parser and framing, a task per connection, one for its idle timeout, an
event object per body chunk. uvicorn's httptools protocol parses in C and writes each
chunk straight to its transport; a 1,000-job burst used less CPU per job on it
(docs/performance.md, "The HTTP server and JSON").
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Connections the kernel holds for us before we accept them. A backlog of 100 made a burst
# of 1,000 clients wait for SYN retransmits (1 s, 3 s, 7 s...) or be reset; Linux caps
# the figure at net.core.somaxconn (4096 by default since 5.4), so asking for more costs
# nothing where the kernel allows less.
LISTEN_BACKLOG = 4096
# Seconds open requests get to finish once asked to stop; streams end at once (`on_stop`).
GRACEFUL_SECONDS = 3
# A request's head (its request line and headers) must arrive within HEAD_SECONDS of the
# connection opening, or of the request's first byte, and within HEAD_BYTES (give or take
# one read). Hypercorn had both (its idle timeout ran until a head was read; h11 answered
# 431 past 16 KiB); uvicorn's httptools protocol has neither.
HEAD_SECONDS = 10
HEAD_BYTES = 64 * 1024
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


class _BoundedHead(HttpToolsProtocol):
    """httptools' protocol with a bounded request head. Without the bound, a connection
    that sends nothing, or a header line every few seconds, stays open for good (enough of
    them use up the process's file descriptors, and no one else gets in), and one endless
    header is buffered whole (200 MB sent cost the process 330 MB)."""

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes: int | None = None  # read of the current head so far; None: not in a head
    _head_began = False  # the head began in the read being parsed (that read is not counted)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes, self._head_began = 0, True
        self._start_head_timer()

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        self._stop_head_timer()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        # Counted after parsing, so that a read ending one head and starting a body (or
        # the next request) counts only while a head is still incomplete.
        self._head_began = False
        super().data_received(data)
        if self._head_bytes is None or self._head_began or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > HEAD_BYTES:
            self._head_bytes = None
            self._stop_head_timer()
            self.transport.write(_TOO_LARGE)
            self.transport.close()

    def _start_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


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
        http=_BoundedHead,  # httptools, with a bounded request head
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
