"""event_latency: from an event's emission to its arrival at SSE clients, 1 and many.

One `review` job parks at its review gate; F followers connect and replay its history.
Once every follower is caught up, the job is rejected (it works again and asks again)
for a number of rounds, then approved. Each live event's latency is its arrival time at
a follower minus its `ts` (set when the server emitted it); every follower contributes a
sample per event, so the p99 includes the fan-out to the last of F followers. Followers
run in this (client) process on the other core, as bare asyncio protocols (`sse_raw`:
through aiohttp the client itself fell behind the server); the server's resident memory
is read before and after they connect. The client's garbage collector is paused while
the rounds run: a full collection over the tens of thousands of events received took up
to 280 ms here, and every event arriving meanwhile was stamped that much late.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from bench.load import get_json, post_json, session, wait_until
from bench.report import table
from bench.servers import GenFlowProcess, rss_bytes
from bench.sse import Received, emitted_at
from bench.sse_raw import follow_sse
from bench.stats import summary

NAME = "event_latency"
CONNECTS = 100  # SSE connections being opened at once (pacing only: the rounds start later)


async def _measure(server: GenFlowProcess, followers: int, rounds: int) -> dict[str, Any]:
    base = server.base_url
    async with session(server.token) as http:
        job = await post_json(http, f"{base}/api/jobs", {"flow": "review", "input": {"task": "t"}})
        url = f"{base}/api/jobs/{job['id']}"

        async def waiting() -> bool:
            return (await get_json(http, url))["status"] == "waiting_for_review"

        await wait_until(waiting, within=60, what="the job to park at its review")
        parked = (await get_json(http, url))["last_seq"]
        caught_up, asked = asyncio.Event(), asyncio.Event()
        behind = [followers]

        def watcher(first: bool) -> Any:
            def on_event(event: dict[str, Any]) -> None:
                if event.get("seq") == parked:
                    behind[0] -= 1
                    if behind[0] == 0:
                        caught_up.set()
                if first and event.get("type") == "review.requested" and event["seq"] > parked:
                    asked.set()

            return on_event

        gate = asyncio.Semaphore(CONNECTS)
        auth = {"Authorization": f"Bearer {server.token}"}

        async def follow(index: int) -> Received:
            async with gate:  # the semaphore only paces connecting; reading is not gated
                reading = asyncio.create_task(
                    follow_sse(f"{url}/events", headers=auth, on_event=watcher(index == 0))
                )
                await asyncio.sleep(0)
            return await reading

        rss_before = rss_bytes(server.pid)
        tasks = [asyncio.create_task(follow(i)) for i in range(followers)]
        await asyncio.wait_for(caught_up.wait(), 120)
        rss_followed = rss_bytes(server.pid)
        server_cpu, client_cpu = psutil.Process(server.pid), psutil.Process()
        with client_gc_paused():
            cpu_before = sum(server_cpu.cpu_times()[:2]), sum(client_cpu.cpu_times()[:2])
            started = time.time()
            for round_ in range(rounds):
                review = (await get_json(http, url))["review"]
                last = round_ == rounds - 1
                asked.clear()
                decision = {"review_id": review["id"], "decision": "approve" if last else "reject"}
                await post_json(http, f"{url}/review", decision)
                if not last:
                    await asyncio.wait_for(asked.wait(), 60)
            received = await asyncio.wait_for(asyncio.gather(*tasks), 300)
            elapsed = time.time() - started
            cpu = (
                sum(server_cpu.cpu_times()[:2]) - cpu_before[0],
                sum(client_cpu.cpu_times()[:2]) - cpu_before[1],
            )
    samples = [
        arrived - emitted_at(event)
        for follower in received
        for arrived, event in follower.events
        if event.get("seq") is not None and emitted_at(event) >= started
    ]
    complete = sum(1 for r in received if r.ended and r.events[-1][1]["type"] == "job.completed")
    return {
        "followers": followers,
        "rounds": rounds,
        "followers_complete": complete,
        "live_events": len(samples) // max(1, followers),
        "latency_ms": summary(samples, 1000),
        "server_rss_per_follower_kb": round((rss_followed - rss_before) / followers / 1024, 1),
        "server_cpu_share": round(cpu[0] / elapsed, 2),  # of one core, while the rounds ran
        "client_cpu_share": round(cpu[1] / elapsed, 2),
    }


@contextmanager
def client_gc_paused() -> Iterator[None]:
    """No garbage collection in this (client) process inside the block: its pauses would
    count as delivery time. What piles up meanwhile is a few MB; collected at the end."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


async def run(
    *, followers: list[int], rounds: dict[int, int], latency_ms: float, tmp: Path
) -> dict[str, Any]:
    server = GenFlowProcess.make(tmp / "event-latency", latency_ms / 1000)
    await server.start_async()
    try:
        results = [await _measure(server, n, rounds[n]) for n in followers]
    finally:
        server.stop()
    return {
        "params": {
            "followers": followers,
            "rounds": rounds,
            "llm_latency_ms": latency_ms,
            "flow": "review (reject, reject, ..., approve)",
        },
        **{f"followers_{r['followers']}": r for r in results},
    }


def render(result: dict[str, Any]) -> str:
    rows = []
    for count in result["params"]["followers"]:
        r = result[f"followers_{count}"]
        rows.append(
            (
                f"{count} follower(s)",
                r["live_events"],
                r["latency_ms"]["p50"],
                r["latency_ms"]["p99"],
                r["latency_ms"]["max"],
                r["server_rss_per_follower_kb"],
            )
        )
    header = ["", "live events", "p50 ms", "p99 ms", "max ms", "server KB/follower"]
    return table("event_latency: emission -> SSE client, one job", header, rows)


if __name__ == "__main__":
    import json
    import sys
    import tempfile

    counts = [int(a) for a in sys.argv[1:]] or [1, 1000]
    with tempfile.TemporaryDirectory() as tmp:
        out = asyncio.run(
            run(followers=counts, rounds={n: 3 for n in counts}, latency_ms=200, tmp=Path(tmp))
        )
    print(json.dumps(out, indent=1))
