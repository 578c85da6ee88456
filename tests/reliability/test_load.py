"""Load: 200 concurrent jobs and 500 concurrent SSE followers against one server.

Every request must succeed (201 for each job, 200 for each stream, no transport error),
every job must complete, and every follower must see every durable event of its job,
in order, exactly once, and then be let go by the server.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import GenFlowServer, read_sse, write_script
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT
from tests.reliability.invariants import UNLIMITED, assert_sound

pytestmark = pytest.mark.timeout(240)

JOBS = 200
FOLLOWERS = 500
CONNECTING = 50  # connections being opened at once (the listen backlog is 100)

SCRIPT = [
    {"answer": STYLED_TEXT, "match": "conversational", "delay": 0.07},
    {"answer": OUTLINE, "match": "outline", "delay": 0.2},
    {"answer": SECTION_TEXT, "match": "Write one paragraph", "delay": 0.2},
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GenFlowServer]:
    script = write_script(tmp_path / "llm.json", SCRIPT)
    env = {**UNLIMITED, "GENFLOW_MAX_CONCURRENT_JOBS": "64"}
    proc = GenFlowServer(data_dir=tmp_path / "data", script=script, extra_env=env)
    try:
        yield proc.start()
    finally:
        proc.stop()


async def test_500_followers_and_200_jobs_with_no_failure(server: GenFlowServer) -> None:
    rng = random.Random(7)
    # No keep-alive: a pooled connection that the server closes after its keep-alive
    # timeout, just as the client reuses it, fails that request (a race of HTTP/1.1
    # itself, not of GenFlow); every request here gets its own connection.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    gate = asyncio.Semaphore(CONNECTING)
    async with server.client(limits=limits, timeout=httpx.Timeout(30.0, read=None)) as http:

        async def create(index: int) -> str:
            async with gate:
                body = {"flow": "article", "input": {"topic": f"topic {index}"}}
                response = await http.post("/api/jobs", json=body)
            assert response.status_code == 201, response.text
            return response.json()["id"]

        async def follower(job_id: str, delay: float) -> tuple[str, Any]:
            await asyncio.sleep(delay)  # some join at once, some mid-job
            async with gate:
                stream = asyncio.create_task(read_sse(http, job_id))
                await asyncio.sleep(0.005)
            return job_id, await stream

        ids = await asyncio.gather(*(create(i) for i in range(JOBS)))
        owners = list(ids) + [rng.choice(ids) for _ in range(FOLLOWERS - JOBS)]
        reads = await asyncio.wait_for(
            asyncio.gather(*(follower(job_id, rng.uniform(0, 1.5)) for job_id in owners)), 180
        )
        stored = {
            job_id: (
                await http.get(f"/api/jobs/{job_id}/events", headers={"Accept": "application/json"})
            ).json()["events"]
            for job_id in ids
        }
        metrics = (await http.get("/metrics")).text

    assert len(reads) == FOLLOWERS
    delivered = sum(len(read.durable) for _, read in reads)
    print(f"{JOBS} jobs, {FOLLOWERS} followers, {delivered} durable events delivered")
    for job_id, read in reads:
        assert read.status == 200
        assert read.durable == stored[job_id], f"follower of {job_id} missed or repeated events"
    for events in stored.values():
        assert assert_sound(events) == "job.completed"
    assert "genflow_event_followers 0.0" in metrics, "every stream was let go"
