"""burst: N article jobs created at the same instant, default settings, a slow model.

Issue 12's scenario: every job is created by its own simultaneous `POST /api/jobs` (no
pacing: a real burst) and followed over SSE until its terminal event, against a server
with default settings and a fake model that takes `latency` seconds per call. The
article's critical path is `CRITICAL_CALLS` model calls (the outline, the three sections
in parallel, then the style pass's three calls in parallel, streamed in section order),
so a server that only waits on its model finishes them all in a little over
`CRITICAL_CALLS * latency`; `wall / critical_path` says how far from that it is. (Issue 12
counted 3 calls too, for a one-call style pass; `issue_critical_path_s` keeps that
figure, the same now.) The model is `bench.fake_llm.ArticleLLM`, whose answers pass the
flow's checks first time. Connection-level failures (refused, reset, dropped) are
counted apart from HTTP errors, for the POSTs and for the streams. GenFlow's client asks
the POST for the stream (`Accept: text/event-stream`: one request a job, as a client
that starts and follows a job would); `genflow_two_requests` runs the same burst with a
POST and then a `GET /api/jobs/<id>/events` a job, as the client did before.

A second part opens `connections` connections at once, each doing one cheap request
(`GET /api/health`), and counts the ones refused or reset.

The seed baseline (`bench/baseline`, 40 threads as in the seed) runs the same load in
the same run. The only non-default GenFlow setting is the per-principal job creation
rate limit, lifted: it would refuse 980 of 1,000 jobs from one token by design.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.load import session
from bench.report import table
from bench.servers import BaselineProcess, GenFlowProcess
from bench.sse import Received, genflow_done, read_sse
from bench.stats import ratio, summary

NAME = "burst"
CRITICAL_CALLS = 3  # outline, the sections (in parallel), the style pass (in parallel)
ISSUE_CRITICAL_CALLS = 3  # issue 12's count: a one-call style pass (the same figure)
BASELINE_THREADS = 40  # the seed's thread pool

# What a refused, reset or dropped connection raises in aiohttp (TimeoutError: the
# connect timed out, e.g. a SYN the kernel kept dropping).
CONNECTION_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError)


@dataclass
class Tally:
    """What the client saw of one burst."""

    finished: list[tuple[float, float]] = field(default_factory=list)  # (sent, ended)
    created: list[float] = field(default_factory=list)  # seconds each accepted POST took
    failed: int = 0  # an HTTP error, or a job that did not complete
    refused_create: int = 0
    refused_stream: int = 0
    errors: list[str] = field(default_factory=list)

    def note(self, exc: BaseException) -> None:
        if len(self.errors) < 3:
            self.errors.append(repr(exc)[:200])


@dataclass(frozen=True)
class Target:
    """How to start and follow a job on one server."""

    base_url: str
    token: str | None
    create: Callable[[aiohttp.ClientSession, int], Awaitable[str | None]]
    events_url: Callable[[str], str]
    done: Callable[[dict[str, Any]], bool]
    ok: Callable[[dict[str, Any]], bool]
    health: str
    # Create and follow in one request (the stream answers the POST), where the server can.
    open_stream: Callable[[aiohttp.ClientSession, int, Received], Awaitable[Received]] | None = None


async def job_burst(n: int, target: Target, pid: int) -> dict[str, Any]:
    """`n` jobs created at once, each followed to its end."""
    tally = Tally()
    gate = asyncio.Event()
    cpu, client = psutil.Process(pid), psutil.Process()
    cpu_before, client_before = sum(cpu.cpu_times()[:2]), sum(client.cpu_times()[:2])
    loop_before = _main_thread_cpu(cpu)

    async def one(http: aiohttp.ClientSession, index: int) -> None:
        await gate.wait()
        sent = time.time()
        try:
            received = await _start(http, index, target, tally, sent)
        except CONNECTION_ERRORS as exc:
            tally.refused_stream += 1
            tally.note(exc)
            return
        if received is None:
            return
        if not received.ended or not received.events or not target.ok(received.events[-1][1]):
            tally.failed += 1
            tally.note(RuntimeError(f"{received.status} {received.events[-1:]}"))
            return
        tally.finished.append((sent, received.events[-1][0]))

    async with session(target.token) as http:
        tasks = [asyncio.create_task(one(http, i)) for i in range(n)]
        await asyncio.sleep(0)  # every task is parked at the gate: release them together
        started = time.time()
        gate.set()
        await asyncio.gather(*tasks)
    cpu_seconds = sum(cpu.cpu_times()[:2]) - cpu_before
    client_seconds = sum(client.cpu_times()[:2]) - client_before
    loop_seconds = _main_thread_cpu(cpu) - loop_before
    finishes = [ended - sent for sent, ended in tally.finished]
    wall = max((ended for _, ended in tally.finished), default=started) - started
    return {
        "jobs": n,
        "completed": len(tally.finished),
        "failed": tally.failed,
        "refused_create": tally.refused_create,
        "refused_stream": tally.refused_stream,
        "errors": tally.errors,
        "wall_s": round(wall, 2),
        "jobs_per_s": round(len(tally.finished) / wall, 1) if wall else None,
        "finish_s": summary(finishes, digits=2),
        "create_s": summary(tally.created, digits=2),  # POST sent -> job id received
        "server_cpu_ms_per_job": round(cpu_seconds / n * 1000, 1),
        "server_loop_cpu_ms_per_job": round(loop_seconds / n * 1000, 1),  # its event loop
        # The client shares the machine: its CPU is what the server could not have.
        "client_cpu_ms_per_job": round(client_seconds / n * 1000, 1),
    }


async def _start(
    http: aiohttp.ClientSession, index: int, target: Target, tally: Tally, sent: float
) -> Received | None:
    """Create job `index` and follow it (None: its creation failed, as tallied)."""
    if target.open_stream is not None:
        received = Received()
        try:
            await target.open_stream(http, index, received)
        except CONNECTION_ERRORS as exc:
            if received.status:  # the stream broke after its answer began
                raise
            tally.refused_create += 1
            tally.note(exc)
            return None
        if received.status >= 300:
            tally.failed += 1
            return None
        tally.created.append(received.opened - sent)
        return received
    try:
        job_id = await target.create(http, index)
    except CONNECTION_ERRORS as exc:
        tally.refused_create += 1
        tally.note(exc)
        return None
    if job_id is None:
        tally.failed += 1
        return None
    tally.created.append(time.time() - sent)
    return await read_sse(http, target.events_url(job_id), done=target.done)


def _main_thread_cpu(process: psutil.Process) -> float:
    """CPU seconds of a process's main thread: a GenFlow server's event loop."""
    main = next(t for t in process.threads() if t.id == process.pid)
    return main.user_time + main.system_time


async def connection_burst(n: int, url: str) -> dict[str, Any]:
    """`n` connections opened at once, one `GET url` each (no reuse: one per request)."""
    ok = refused = rejected = 0
    errors: list[str] = []
    took: list[float] = []  # seconds each answered request took, connecting included
    gate = asyncio.Event()

    async def one(http: aiohttp.ClientSession) -> None:
        nonlocal ok, refused, rejected
        await gate.wait()
        sent = time.monotonic()
        try:
            async with http.get(url) as response:
                await response.read()
                took.append(time.monotonic() - sent)
                if response.status == 200:
                    ok += 1
                else:
                    rejected += 1
        except CONNECTION_ERRORS as exc:
            refused += 1
            if len(errors) < 3:
                errors.append(repr(exc)[:200])

    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        tasks = [asyncio.create_task(one(http)) for _ in range(n)]
        await asyncio.sleep(0)
        started = time.monotonic()
        gate.set()
        await asyncio.gather(*tasks)
    return {
        "connections": n,
        "ok": ok,
        "refused": refused,
        "rejected": rejected,
        "errors": errors,
        "seconds": round(time.monotonic() - started, 2),
        "request_s": summary(took, digits=2),
    }


async def alone(target: Target) -> float:
    """One job on an idle server, POST to its end: the floor a burst is measured against."""
    async with session(target.token) as http:
        sent = time.time()
        received = await _start(http, -1, target, Tally(), sent)
        assert received is not None, "the warm-up job was refused"
        assert received.events and target.ok(received.events[-1][1]), received.events[-1:]
        return round(received.events[-1][0] - sent, 2)


async def measure(target: Target, pid: int, *, jobs: int, connections: int) -> dict[str, Any]:
    single = await alone(target)
    burst = await job_burst(jobs, target, pid)
    return {
        "alone_s": single,
        **burst,
        "connection_burst": await connection_burst(connections, target.base_url + target.health),
    }


def _created(key: str) -> Callable[[aiohttp.ClientResponse], Awaitable[str | None]]:
    async def read(response: aiohttp.ClientResponse) -> str | None:
        if response.status >= 300:
            await response.read()
            return None
        return (await response.json())[key]

    return read


def genflow_target(server: GenFlowProcess, *, one_request: bool = True) -> Target:
    """GenFlow's jobs: created and followed in one request (`POST /api/jobs` answering
    with the event stream), or with `one_request=False` in two (the POST, then `GET
    /api/jobs/<id>/events`), as before that answer existed."""
    base, read = server.base_url, _created("id")

    def body(index: int) -> dict[str, Any]:
        return {"flow": "article", "input": {"topic": f"topic {index}"}}

    async def create(http: aiohttp.ClientSession, index: int) -> str | None:
        async with http.post(f"{base}/api/jobs", json=body(index)) as response:
            return await read(response)

    async def open_stream(http: aiohttp.ClientSession, index: int, received: Received) -> Received:
        url = f"{base}/api/jobs"
        return await read_sse(http, url, create=body(index), received=received)

    return Target(
        open_stream=open_stream if one_request else None,
        base_url=base,
        token=server.token,
        create=create,
        events_url=lambda job_id: f"{base}/api/jobs/{job_id}/events",
        done=genflow_done,
        ok=lambda e: e["type"] == "job.completed",
        health="/api/health",
    )


def baseline_target(server: BaselineProcess) -> Target:
    base, read = server.base_url, _created("job_id")

    async def create(http: aiohttp.ClientSession, index: int) -> str | None:
        async with http.post(f"{base}/start-job", json={"topic": f"topic {index}"}) as response:
            return await read(response)

    return Target(
        base_url=base,
        token=None,
        create=create,
        events_url=lambda job_id: f"{base}/progress/{job_id}",
        done=lambda e: e.get("step") in ("complete", "error"),
        ok=lambda e: e.get("step") == "complete",
        health="/health",
    )


async def run(
    *, jobs: int, latency_ms: float, connections: int, tmp: Path, baseline: bool = True
) -> dict[str, Any]:
    latency = latency_ms / 1000
    critical = CRITICAL_CALLS * latency
    issue_critical = ISSUE_CRITICAL_CALLS * latency
    results: dict[str, Any] = {}
    for key, one_request in (("genflow", True), ("genflow_two_requests", False)):
        server = GenFlowProcess.make(tmp / f"burst-{key}", latency, bench_llm_answers="article")
        await server.start_async()
        try:
            target = genflow_target(server, one_request=one_request)
            results[key] = await measure(target, server.pid, jobs=jobs, connections=connections)
        finally:
            server.stop()
    genflow = results["genflow"]
    if baseline:
        seed = await BaselineProcess(latency, threads=BASELINE_THREADS).start()
        try:
            results["baseline"] = await measure(
                baseline_target(seed), seed.pid, jobs=jobs, connections=connections
            )
        finally:
            seed.stop()
    for result in results.values():
        result["wall_vs_critical_path"] = ratio(result["wall_s"], critical)
        result["wall_vs_issue_critical_path"] = ratio(result["wall_s"], issue_critical)
    return {
        "params": {
            "jobs": jobs,
            "llm_latency_ms": latency_ms,
            "connections": connections,
            "critical_path_s": round(critical, 2),
            "issue_critical_path_s": round(issue_critical, 2),
            "settings": "defaults (job creation rate limit lifted)",
            "baseline_threads": BASELINE_THREADS,
        },
        **results,
        "speedup_vs_baseline": (
            ratio(results["baseline"]["wall_s"], genflow["wall_s"]) if baseline else None
        ),
    }


def render(result: dict[str, Any]) -> str:
    params = result["params"]
    rows = []
    for label, key in (
        ("GenFlow", "genflow"),
        ("GenFlow, POST then GET", "genflow_two_requests"),
        ("seed baseline", "baseline"),
    ):
        if key not in result:
            continue
        r, c = result[key], result[key]["connection_burst"]
        rows.append(
            (
                label,
                r["completed"],
                r["failed"],
                r["refused_create"],
                r["refused_stream"],
                r["wall_s"],
                r["wall_vs_critical_path"],
                r["finish_s"]["p50"],
                r["finish_s"]["p99"],
                r["alone_s"],
                f"{c['refused']} / {c['connections']}",
                c["seconds"],
            )
        )
    title = (
        f"burst: {params['jobs']} article jobs at once, default settings, model "
        f"{params['llm_latency_ms']:.0f} ms/call (critical path {params['critical_path_s']} s)"
    )
    header = [
        "",
        "done",
        "failed",
        "refused POST",
        "refused SSE",
        "wall s",
        "x crit. path",
        "finish p50 s",
        "p99 s",
        "alone s",
        "refused conns",
        "conn burst s",
    ]
    return (
        table(title, header, rows)
        + f"\nwall time: baseline ÷ GenFlow = {result['speedup_vs_baseline']}"
    )


if __name__ == "__main__":
    import json
    import sys
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    latency_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 200
    with tempfile.TemporaryDirectory() as tmp:
        out = asyncio.run(
            run(jobs=n, latency_ms=latency_ms, connections=2 * n, tmp=Path(tmp), baseline=False)
        )
    print(render(out))
    print(json.dumps(out, indent=1))
