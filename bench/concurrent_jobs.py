"""concurrent_jobs: N article jobs at once over HTTP, each followed over SSE.

Every job is created with POST and followed by its own SSE client until its last event.
The same load runs against GenFlow and against the seed baseline, both with the same
fixed-latency fake model in process, whose answers pass the article's checks first time
(`bench.fake_llm.ArticleLLM`: one call per step, no repairs). Time to finish = from
sending the POST to receiving the terminal event; event latency = arrival at the client -
the event's `ts`, for the events emitted after the stream opened. A third run sends
GenFlow's model calls through the `openai` SDK to the fake model server (answering the
same way), to show what a real model client adds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.load import post_json, session
from bench.report import table
from bench.servers import BaselineProcess, GenFlowProcess
from bench.sse import Received, live_latencies, read_sse
from bench.stats import ratio, summary
from tests.fakes.openai_server import FakeOpenAIProcess

NAME = "concurrent_jobs"
CONNECTS = 64  # POSTs in flight at once: Hypercorn's listen backlog is 100

# Start job `index` and follow it to its end, calling `created()` once it exists.
StartAndFollow = Callable[[aiohttp.ClientSession, int, Callable[[], None]], Awaitable[Received]]


def create_then_follow(
    create: Callable[[aiohttp.ClientSession, int], Awaitable[str]],
    follow_url: Callable[[str], str],
    done: Callable[[dict[str, Any]], bool],
) -> StartAndFollow:
    """Two requests a job: `create` answers its id, then its events are read."""

    async def start(
        http: aiohttp.ClientSession, index: int, created: Callable[[], None]
    ) -> Received:
        job_id = await create(http, index)
        created()
        return await read_sse(http, follow_url(job_id), done=done)

    return start


async def drive(
    n: int,
    start: StartAndFollow,
    *,
    token: str | None,
    ok: Callable[[dict[str, Any]], bool],
    pid: int,
) -> dict[str, Any]:
    """Start `n` jobs at once, follow each to its end; throughput, times, latencies, CPU.
    At most `CONNECTS` jobs are being created at a time."""
    slots = asyncio.Semaphore(CONNECTS)
    cpu = psutil.Process(pid)
    cpu_before = sum(cpu.cpu_times()[:2])

    async def one(http: aiohttp.ClientSession, index: int) -> tuple[float, float, Received]:
        await slots.acquire()
        held = True

        def created() -> None:
            nonlocal held
            if held:
                held = False
                slots.release()

        sent = time.time()
        try:
            received = await start(http, index, created)
        finally:
            created()
        if not (received.ended and received.events and ok(received.events[-1][1])):
            raise RuntimeError(f"job {index} did not succeed: {received.events[-1:]}")
        return sent, received.events[-1][0], received

    async with session(token) as http:
        results = await asyncio.gather(*(one(http, i) for i in range(n)), return_exceptions=True)
    cpu_seconds = sum(cpu.cpu_times()[:2]) - cpu_before
    good = [r for r in results if not isinstance(r, BaseException)]
    errors = [repr(r)[:200] for r in results if isinstance(r, BaseException)]
    if not good:
        raise RuntimeError(f"no job finished: {errors[:3]}")
    elapsed = max(f for _, f, _ in good) - min(s for s, _, _ in good)
    latencies = [latency for _, _, r in good for latency in live_latencies(r)]
    return {
        "completed": len(good),
        "failed": len(errors),
        "errors": errors[:3],
        "seconds": round(elapsed, 2),
        "jobs_per_s": round(len(good) / elapsed, 1),
        "finish_s": summary([f - s for s, f, _ in good], digits=2),
        "event_latency_ms": summary(latencies, 1000),
        "server_cpu_ms_per_job": round(cpu_seconds / n * 1000, 1),
    }


async def genflow_jobs(n: int, server: GenFlowProcess) -> dict[str, Any]:
    await server.start_async()
    try:
        url = f"{server.base_url}/api/jobs"

        async def start(
            http: aiohttp.ClientSession, index: int, created: Callable[[], None]
        ) -> Received:  # one request: the POST answers with the job's event stream
            body = {"flow": "article", "input": {"topic": f"topic {index}"}}
            return await read_sse(http, url, create=body, on_open=created)

        return await drive(
            n,
            start,
            token=server.token,
            ok=lambda e: e["type"] == "job.completed",
            pid=server.pid,
        )
    finally:
        server.stop()


async def baseline_jobs(n: int, latency: float, threads: int) -> dict[str, Any]:
    server = await BaselineProcess(latency, threads=threads).start()
    try:
        base = server.base_url

        async def create(http: aiohttp.ClientSession, index: int) -> str:
            body = {"topic": f"topic {index}"}
            return (await post_json(http, f"{base}/start-job", body))["job_id"]

        start = create_then_follow(
            create,
            lambda job_id: f"{base}/progress/{job_id}",
            done=lambda e: e.get("step") in ("complete", "error"),
        )
        return await drive(
            n, start, token=None, ok=lambda e: e.get("step") == "complete", pid=server.pid
        )
    finally:
        server.stop()


async def run(
    *, jobs: int, latency_ms: float, tmp: Path, genflow_max_jobs: int, baseline_threads: int
) -> dict[str, Any]:
    latency = latency_ms / 1000
    genflow = await genflow_jobs(
        jobs,
        GenFlowProcess.make(
            tmp / "cj-genflow",
            latency,
            max_concurrent_jobs=genflow_max_jobs,
            bench_llm_answers="article",
        ),
    )
    baseline = await baseline_jobs(jobs, latency, baseline_threads)
    # Its log (Hypercorn's, asyncio's notes on streams the SDK closed) goes to a file, not
    # into the benchmark's report.
    fake = FakeOpenAIProcess(
        latency=latency, answers="article", log_path=tmp / "fake-openai.log"
    ).start()
    try:
        sdk = await genflow_jobs(
            jobs,
            GenFlowProcess.with_sdk(tmp / "cj-sdk", fake, max_concurrent_jobs=genflow_max_jobs),
        )
    finally:
        fake.stop()
    return {
        "params": {
            "jobs": jobs,
            "llm_latency_ms": latency_ms,
            "sse_followers_per_job": 1,
            "genflow_max_concurrent_jobs": genflow_max_jobs,
            "baseline_threads": baseline_threads,
            "model_answers": "article: each step passes its checks first time",
        },
        "genflow": genflow,
        "baseline": baseline,
        "genflow_openai_sdk": sdk,
        "speedup_vs_baseline": ratio(genflow["jobs_per_s"], baseline["jobs_per_s"]),
    }


def render(result: dict[str, Any]) -> str:
    rows = []
    for label, key in (
        ("GenFlow", "genflow"),
        ("seed baseline", "baseline"),
        ("GenFlow via openai SDK", "genflow_openai_sdk"),
    ):
        r = result[key]
        rows.append(
            (
                label,
                r["completed"],
                r["failed"],
                r["jobs_per_s"],
                r["finish_s"]["p50"],
                r["finish_s"]["p99"],
                r["event_latency_ms"]["p50"],
                r["event_latency_ms"]["p99"],
                r["server_cpu_ms_per_job"],
            )
        )
    params = result["params"]
    title = (
        f"concurrent_jobs: {params['jobs']} article jobs, SSE each, model "
        f"{params['llm_latency_ms']:.0f} ms"
    )
    header = [
        "",
        "done",
        "failed",
        "jobs/s",
        "finish p50 s",
        "p99 s",
        "event p50 ms",
        "p99 ms",
        "CPU ms/job",
    ]
    return table(title, header, rows) + f"\nspeedup vs baseline: {result['speedup_vs_baseline']}"


if __name__ == "__main__":
    import json
    import sys
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    c = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    with tempfile.TemporaryDirectory() as tmp:
        out = asyncio.run(
            run(jobs=n, latency_ms=200, tmp=Path(tmp), genflow_max_jobs=c, baseline_threads=40)
        )
    print(json.dumps(out, indent=1))
