"""waiting_jobs_memory: the server's resident memory with 0 and with N jobs parked at a review.

A GenFlow job waiting for a person is a row in the database: no task, queue or event is
held. The seed baseline keeps each waiting job in memory (a suspended coroutine, its
asyncio.Event and queue, the buffered messages). Both servers first run a few jobs end
to end (so code paths and caches are warm), then N `review` jobs are started and left
waiting; RSS is read (psutil) once they all wait and the process has settled.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import get_json, post_json, session, wait_until
from bench.report import table
from bench.servers import BaselineProcess, GenFlowProcess, metric, rss_bytes

NAME = "waiting_jobs_memory"
IN_FLIGHT = 64  # job creations at once
WARM_UP = 50
SETTLE = 2.0  # seconds before reading RSS


async def _start_all(n: int, start: Any) -> list[str]:
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(index: int) -> str:
        async with slots:
            return await start(index)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _genflow(jobs: int, latency: float, tmp: Path) -> dict[str, Any]:
    server = GenFlowProcess.make(tmp / "memory-genflow", latency, max_concurrent_jobs=64)
    await server.start_async()
    base = server.base_url
    try:
        async with session(server.token) as http:

            async def start(index: int) -> str:
                body = {"flow": "review", "input": {"task": f"task {index}"}}
                return (await post_json(http, f"{base}/api/jobs", body))["id"]

            async def count(status: str) -> int:
                gauge = await metric(http, base, "genflow_jobs")
                return int(gauge.get(f'{{status="{status}"}}', 0))

            async def all_waiting(n: int) -> None:
                async def done() -> bool:
                    return await count("waiting_for_review") >= n

                await wait_until(done, within=3600, every=0.5, what="jobs to park")

            warm = await _start_all(WARM_UP, start)
            await all_waiting(WARM_UP)
            for job_id in warm:
                review = (await get_json(http, f"{base}/api/jobs/{job_id}"))["review"]
                await post_json(
                    http,
                    f"{base}/api/jobs/{job_id}/review",
                    {"review_id": review["id"], "decision": "approve"},
                )

            async def warm_done() -> bool:
                return await count("completed") >= WARM_UP

            await wait_until(warm_done, within=120, what="warm-up jobs to finish")
            await asyncio.sleep(SETTLE)
            rss_0 = rss_bytes(server.pid)
            await _start_all(jobs, start)
            await all_waiting(jobs)
            await asyncio.sleep(SETTLE)
            rss_n = rss_bytes(server.pid)
            health = await get_json(http, f"{base}/api/health")
        return _result(jobs, rss_0, rss_n, {"tasks_held": health["queue"]["active_jobs"]})
    finally:
        server.stop()


async def _baseline(jobs: int, latency: float) -> dict[str, Any]:
    server = await BaselineProcess(latency).start()
    base = server.base_url
    try:
        async with session() as http:

            async def start(index: int) -> str:
                return (await post_json(http, f"{base}/submit", {"task": f"task {index}"}))[
                    "job_id"
                ]

            async def all_waiting(n: int) -> None:
                async def done() -> bool:
                    return (await get_json(http, f"{base}/health"))["waiting"] >= n

                await wait_until(done, within=3600, every=0.5, what="jobs to park")

            warm = await _start_all(WARM_UP, start)
            await all_waiting(WARM_UP)
            for job_id in warm:
                await _drain_baseline(http, base, job_id)
            await asyncio.sleep(SETTLE)
            rss_0 = rss_bytes(server.pid)
            await _start_all(jobs, start)
            await all_waiting(jobs)
            await asyncio.sleep(SETTLE)
            rss_n = rss_bytes(server.pid)
        return _result(jobs, rss_0, rss_n, {"tasks_held": jobs})
    finally:
        server.stop()


async def _drain_baseline(http: aiohttp.ClientSession, base: str, job_id: str) -> None:
    """Approve a warm-up job and read its stream to the end (the seed forgets it then)."""
    await post_json(http, f"{base}/feedback/{job_id}", {"decision": "approve"})
    async with http.get(f"{base}/progress/{job_id}") as response:
        async for line in response.content:
            if b'"complete"' in line:
                break


def _result(jobs: int, rss_0: int, rss_n: int, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "rss_0_mb": round(rss_0 / 2**20, 1),
        f"rss_{jobs}_mb": round(rss_n / 2**20, 1),
        "bytes_per_waiting_job": round((rss_n - rss_0) / jobs),
        **extra,
    }


async def run(*, jobs: int, latency_ms: float, tmp: Path) -> dict[str, Any]:
    genflow = await _genflow(jobs, latency_ms / 1000, tmp)
    baseline = await _baseline(jobs, latency_ms / 1000)
    return {
        "params": {
            "waiting_jobs": jobs,
            "llm_latency_ms": latency_ms,
            "flow": "review",
            "warm_up_jobs": WARM_UP,
        },
        "genflow": genflow,
        "baseline": baseline,
    }


def render(result: dict[str, Any]) -> str:
    n = result["params"]["waiting_jobs"]
    rows = [
        (label, r["rss_0_mb"], r[f"rss_{n}_mb"], r["bytes_per_waiting_job"], r["tasks_held"])
        for label, r in (("GenFlow", result["genflow"]), ("seed baseline", result["baseline"]))
    ]
    header = ["", "RSS 0 MB", f"RSS {n:,} MB", "bytes/waiting job", "tasks held"]
    return table(f"waiting_jobs_memory: {n:,} jobs waiting for review", header, rows)


if __name__ == "__main__":
    import json
    import sys
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(jobs=n, latency_ms=50, tmp=Path(tmp))), indent=1))
