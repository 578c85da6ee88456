"""Many SSE followers on bare asyncio protocols, for a client that keeps up with the server.

`event_latency` follows one job from 1,000 streams in the benchmark process, which shares
the machine's two cores with the server. Through aiohttp each read cost the client about
80 µs (a task woken, aiohttp's stream buffer, its read timeout re-armed), so after the
server's fan-out got cheaper the client fell tens of ms behind it, and the latencies counted
that. Here a read is timestamped and parsed where it lands (`data_received`): no task, no
timer, no buffer per read. It measures the same thing, the bytes' arrival at the client.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bench.sse import Received, SSEBlocks, genflow_done


async def follow_sse(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    done: Callable[[dict[str, Any]], bool] = genflow_done,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> Received:
    """Read `url` until `done(event)` or the end of the stream, like `sse.read_sse`."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    protocol = SSEProtocol(request, done, on_event)
    transport, _ = await loop.create_connection(lambda: protocol, parts.hostname, parts.port)
    try:
        return await protocol.finished
    finally:
        transport.close()


class SSEProtocol(asyncio.Protocol):
    """One HTTP/1.1 GET of an event stream; `finished` resolves to what was received."""

    def __init__(
        self,
        request: bytes,
        done: Callable[[dict[str, Any]], bool],
        on_event: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        self.request = request
        self.done, self.on_event = done, on_event
        self.received = Received()
        self.finished: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        self._head: bytearray | None = bytearray()  # None once the response head is read
        self._body: Dechunker | None = None  # None: the body runs to the end of the connection
        self._blocks = SSEBlocks()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self.finished.done():
            return
        if self._head is not None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = bytes(self._head[:end]), bytes(self._head[end + 4 :])
            self._head = None
            if not self._start(head, now):
                return
        if self._body is not None:
            data = self._body.feed(data)
        for raw in self._blocks.feed(data):
            event = json.loads(raw)
            self.received.events.append((now, event))
            if self.on_event is not None:
                self.on_event(event)
            if self.done(event):
                self._finish(ended=True)
                return
        if self._body is not None and self._body.ended:
            self._finish(ended=True)

    def _start(self, head: bytes, now: float) -> bool:
        """Read the response head; False when there is no stream to read."""
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.received.status = int(status_line.split()[1])
        self.received.opened = now
        if self.received.status != 200:
            self._finish(ended=False)
            return False
        fields = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip().lower()
        if "chunked" in fields.get("transfer-encoding", ""):
            self._body = Dechunker()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.finished.done():
            return
        if exc is None and self._head is None and self._body is None:
            self._finish(ended=True)  # a body that runs to the end of the connection
        else:
            self.finished.set_exception(exc or ConnectionError("the stream was cut short"))

    def _finish(self, *, ended: bool) -> None:
        self.received.ended = ended
        self.finished.set_result(self.received)


class Dechunker:
    """HTTP/1.1 chunked transfer coding, undone as the bytes come."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._left = 0  # bytes of the current chunk still to come
        self._crlf = False  # the CRLF after a chunk's data is still to come
        self.ended = False  # the last (empty) chunk came

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        buffer, out, at = self._buffer, [], 0
        while not self.ended:
            if self._left:
                piece = buffer[at : at + self._left]
                out.append(bytes(piece))
                at += len(piece)
                self._left -= len(piece)
                if self._left:
                    break
                self._crlf = True
            if self._crlf:
                if len(buffer) - at < 2:
                    break
                at, self._crlf = at + 2, False
            end = buffer.find(b"\r\n", at)
            if end < 0:
                break
            size = int(bytes(buffer[at:end]).split(b";")[0], 16)
            at = end + 2
            if size == 0:
                self.ended = True
            self._left = size
        del buffer[:at]
        return b"".join(out)
