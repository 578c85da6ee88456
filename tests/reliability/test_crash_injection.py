"""Crash injection: SIGKILL the server at random moments while jobs run and wait.

Twenty times: start the server on the same data dir, add jobs, answer some reviews, let
it work for a random while, SIGKILL it. Then let everything finish. Every job must
complete; per job the events are contiguous, there is exactly one terminal event, and no
checkpointed node runs twice. Two followers span every crash and must see each durable
event of their job exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.client import GenFlowClient, one_click_options
from tests.e2e.server import GenFlowServer, write_script
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT
from tests.reliability.invariants import UNLIMITED, assert_sound

pytestmark = pytest.mark.timeout(280)

CRASHES = 20
SEED = int(os.environ.get("GENFLOW_RELIABILITY_SEED", "20251121"))

SCRIPT: list[dict[str, Any]] = [
    {"answer": "# Coffee\n\nA revised article.", "match": "Revise this article", "delay": 0.3},
    {"answer": STYLED_TEXT, "match": "conversational", "delay": 0.15},
    {"answer": OUTLINE, "match": "outline", "delay": 0.3},
    {"answer": SECTION_TEXT, "match": "section 'Origins'", "delay": 0.1},
    {"answer": SECTION_TEXT, "match": "Write one paragraph", "delay": 0.6},
    {"answer": "An answer to the task.", "match": "Task:", "delay": 0.25},
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GenFlowServer]:
    script = write_script(tmp_path / "llm.json", SCRIPT)
    proc = GenFlowServer(data_dir=tmp_path / "data", script=script, extra_env=UNLIMITED)
    try:
        yield proc
    finally:
        proc.kill()
        proc.stop()


async def _add_jobs(http: httpx.AsyncClient, rng: random.Random, jobs: dict[str, str]) -> None:
    for flow, body in rng.sample(
        [
            ("article", {"topic": "coffee"}),
            ("article", {"topic": "tea", "review": True}),
            ("review", {"task": "name a drink"}),
            ("review", {"task": "name a bean"}),
        ],
        k=2,
    ):
        response = await http.post("/api/jobs", json={"flow": flow, "input": body})
        assert response.status_code == 201, response.text
        jobs[response.json()["id"]] = flow


async def _decide_some(http: httpx.AsyncClient, rng: random.Random, final: bool) -> int:
    """Answer open reviews (all of them, approving, when `final`); returns how many."""
    waiting = await http.get("/api/jobs", params={"status": "waiting_for_review", "limit": 100})
    decided = 0
    for job in waiting.json()["jobs"]:
        if not final and rng.random() < 0.5:
            continue
        options = one_click_options(job["review"])  # an `edit` would need its fields
        decision = "approve" if final or rng.random() < 0.5 else options[-1]
        body = {"review_id": job["review"]["id"], "decision": decision, "comment": "more"}
        response = await http.post(f"/api/jobs/{job['id']}/review", json=body)
        assert response.status_code in (200, 409), response.text  # 409: a decision won already
        decided += response.status_code == 200
    return decided


async def _follow(api: GenFlowClient, job_id: str, seen: list[dict[str, Any]]) -> None:
    async for event in api.follow(job_id, reconnect_delay=0.1):
        if event["seq"] is not None:
            seen.append(event)


def _interrupted_nodes(events: list[dict[str, Any]]) -> int:
    """Node visits started more than once (a crash came while they ran)."""
    starts = [
        (e["data"]["node"], e["data"]["attempt"]) for e in events if e["type"] == "node.started"
    ]
    return len(starts) - len(set(starts))


async def test_jobs_survive_twenty_sigkills(server: GenFlowServer) -> None:
    rng = random.Random(SEED)
    print(f"crash injection seed: {SEED} (GENFLOW_RELIABILITY_SEED)")
    jobs: dict[str, str] = {}
    followed: dict[str, list[dict[str, Any]]] = {}
    followers: list[asyncio.Task[None]] = []
    api: GenFlowClient | None = None
    try:
        for crash in range(CRASHES):
            await server.start_async()
            async with server.client(timeout=10) as http:
                await _add_jobs(http, rng, jobs)
                if api is None:  # two followers that live across every crash
                    api = GenFlowClient(server.base_url, server.token)
                    for job_id in list(jobs)[:2]:
                        followed[job_id] = []
                        followers.append(
                            asyncio.create_task(_follow(api, job_id, followed[job_id]))
                        )
                await asyncio.sleep(rng.uniform(0.0, 0.8))
                await _decide_some(http, rng, final=False)
                await asyncio.sleep(rng.uniform(0.0, 1.2))
            server.kill()
            print(f"crash {crash + 1}: killed with {len(jobs)} jobs")

        await server.start_async()
        async with server.client(timeout=10) as http:
            deadline = time.monotonic() + 90
            while True:
                await _decide_some(http, rng, final=True)
                states = [
                    (await http.get(f"/api/jobs/{job_id}")).json()["status"] for job_id in jobs
                ]
                if all(s in ("completed", "failed", "cancelled") for s in states):
                    break
                assert time.monotonic() < deadline, f"jobs never finished: {states}"
                await asyncio.sleep(0.2)
            assert api is not None
            await asyncio.wait_for(asyncio.gather(*followers), 30)
            logs = {
                job_id: (
                    await http.get(
                        f"/api/jobs/{job_id}/events", headers={"Accept": "application/json"}
                    )
                ).json()["events"]
                for job_id in jobs
            }
            health = (await http.get("/api/health")).json()
    finally:
        for task in followers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if api is not None:
            await api.close()

    assert len(jobs) == 2 * CRASHES
    for job_id, events in logs.items():
        assert assert_sound(events) == "job.completed", (job_id, events[-3:])
    resumed = [sum(e["type"] == "job.started" for e in events) - 1 for events in logs.values()]
    reruns = sum(_interrupted_nodes(events) for events in logs.values())
    print(
        f"{len(jobs)} jobs: {sum(r > 0 for r in resumed)} resumed after a crash (up to "
        f"{max(resumed)} times), {reruns} interrupted node runs redone"
    )
    assert sum(resumed) > 0, "no job was ever interrupted: the crashes missed"
    for job_id, seen in followed.items():
        assert seen == logs[job_id], "a follower across the crashes missed or repeated events"
    assert health["queue"]["active_jobs"] == 0, "nothing is left running"
