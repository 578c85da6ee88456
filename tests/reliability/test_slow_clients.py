"""Slow and vanished clients: SSE readers that stall or disconnect mid-stream.

Per round, two article jobs with a final review (each streams over 5 MB: a long styled
article as it is written, in the review request and in the result - more than the
kernel buffers between the server and a client that does not read) are followed by
stalled clients (they send the request, read the headers and never read again, with a
4 KB receive window), by clients that vanish after the first bytes, and by healthy
followers. The healthy followers must get every event and reach the end while the
stalled ones still hang; once the bad clients are gone, the server's follower count is
back to 0; and the server's memory does not grow round after round.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.server import GenFlowServer, read_sse, write_script
from tests.harness import OUTLINE, SECTION_TEXT
from tests.reliability.invariants import UNLIMITED, assert_sound

pytestmark = pytest.mark.timeout(240)

WARM_UP, ROUNDS = 2, 4  # RSS is compared after the warm-up rounds and after the others
STALLED, VANISHING, HEALTHY = 10, 20, 10  # per job
RSS_GROWTH_LIMIT = 96 * 2**20  # 20 leaked stalled streams per round would hold 120 MB+
WORDS = "beans cups roasts mills ports ships farms hills markets houses kettles pots".split()
# One styled section (of 3; the article is over 2 MB), in sentences a reader (and the
# flow's repeat check) would not call repeats.
ARTICLE = " ".join(
    f"Sentence {i} tells of {WORDS[i % 12]}, {WORDS[i // 12 % 12]} and {WORDS[i // 144 % 12]}."
    for i in range(16_000)
)

SCRIPT = [
    {"answer": ARTICLE, "match": "conversational", "delay": 0.1},
    {"answer": OUTLINE, "match": "outline", "delay": 0.3},
    {"answer": SECTION_TEXT, "match": "Write one paragraph", "delay": 0.5},
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GenFlowServer]:
    script = write_script(tmp_path / "llm.json", SCRIPT)
    proc = GenFlowServer(data_dir=tmp_path / "data", script=script, extra_env=UNLIMITED)
    try:
        yield proc.start()
    finally:
        proc.stop()


class RawClient:
    """A bare HTTP/1.1 client over a socket with a tiny receive window."""

    def __init__(self, server: GenFlowServer, job_id: str) -> None:
        self.request = (
            f"GET /api/jobs/{job_id}/events?access_token={server.token} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        self.port = server.port
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> asyncio.StreamReader:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        reader, self.writer = await asyncio.open_connection(sock=sock, limit=4096)
        self.writer.write(self.request)
        await self.writer.drain()
        status = await reader.readline()
        assert b" 200 " in status, status
        return reader

    async def stall(self) -> None:
        """Read the headers, then never read again (the connection stays open)."""
        await self.open()
        assert self.writer is not None
        self.writer.transport.pause_reading()  # type: ignore[attr-defined]

    async def vanish(self) -> None:
        """Read a little of the stream, then drop the connection without a goodbye."""
        reader = await self.open()
        await reader.read(2048)
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()


async def approve(http: httpx.AsyncClient, job_id: str) -> None:
    deadline = time.monotonic() + 30
    while (job := (await http.get(f"/api/jobs/{job_id}")).json())["review"] is None:
        assert time.monotonic() < deadline, f"no review: {job['status']}"
        await asyncio.sleep(0.05)
    decision = {"review_id": job["review"]["id"], "decision": "approve"}
    response = await http.post(f"/api/jobs/{job_id}/review", json=decision)
    assert response.status_code == 200, response.text


async def followers(http: httpx.AsyncClient) -> float:
    metrics = (await http.get("/metrics")).text
    line = next(x for x in metrics.splitlines() if x.startswith("genflow_event_followers "))
    return float(line.split()[1])


async def one_round(server: GenFlowServer, http: httpx.AsyncClient) -> None:
    ids = []
    for _ in range(2):
        body = {"flow": "article", "input": {"topic": "c", "review": True}}
        response = await http.post("/api/jobs", json=body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    stalled = [RawClient(server, job_id) for job_id in ids for _ in range(STALLED)]
    await asyncio.gather(*(client.stall() for client in stalled))
    vanishing = [RawClient(server, job_id) for job_id in ids for _ in range(VANISHING)]
    reading = asyncio.gather(*(read_sse(http, job_id) for job_id in ids for _ in range(HEALTHY)))
    await asyncio.wait_for(asyncio.gather(*(client.vanish() for client in vanishing)), 30)
    for job_id in ids:
        await approve(http, job_id)
    reads = await asyncio.wait_for(reading, 60)
    # the healthy followers are done while every stalled client still hangs on
    assert await followers(http) >= len(stalled), "stalled clients were dropped early"
    for index, read in enumerate(reads):
        job_id = ids[index // HEALTHY]
        stored = await http.get(
            f"/api/jobs/{job_id}/events", headers={"Accept": "application/json"}
        )
        assert read.durable == stored.json()["events"], "a healthy follower missed events"
        assert assert_sound(read.durable) == "job.completed"
    for client in stalled:
        client.close()
    deadline = time.monotonic() + 20
    while await followers(http) > 0:
        assert time.monotonic() < deadline, "streams of gone clients were never let go"
        await asyncio.sleep(0.1)


async def test_stalled_and_vanished_clients_cost_nothing_lasting(server: GenFlowServer) -> None:
    process = psutil.Process(server.proc.pid)  # type: ignore[union-attr]
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with server.client(limits=limits, timeout=httpx.Timeout(30.0, read=None)) as http:
        for _ in range(WARM_UP):  # the allocator reaches its high-water mark
            await one_round(server, http)
        warm = process.memory_info().rss
        for _ in range(ROUNDS):
            await one_round(server, http)
        growth = process.memory_info().rss - warm
        health = (await http.get("/api/health")).json()
    print(
        f"RSS after {WARM_UP} rounds: {warm / 2**20:.0f} MB; growth over "
        f"{ROUNDS} more rounds: {growth / 2**20:.1f} MB"
    )
    assert growth < RSS_GROWTH_LIMIT
    assert health["queue"]["active_jobs"] == 0
