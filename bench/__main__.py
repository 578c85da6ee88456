"""`python -m bench [--quick] [--only NAME,...]`: run the benchmarks, print tables, write JSON.

Results go to bench/results/latest.json (git-ignored): every number with the parameters
it was measured with, the machine, and how long each benchmark took.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    burst,
    concurrent_jobs,
    event_latency,
    report,
    restart_recovery,
    runner_overhead,
    scale_out,
    waiting_memory,
)
from bench.baseline import DESIGN
from bench.config import FULL, QUICK, Sizes

Runner = Callable[[Sizes, Path], Awaitable[dict[str, Any]]]

BENCHES: dict[str, tuple[Any, Runner]] = {
    runner_overhead.NAME: (
        runner_overhead,
        lambda s, _tmp: runner_overhead.run(
            nodes=s.runner_nodes,
            runs=s.runner_runs,
            rounds=s.runner_rounds,
            latency_ms=s.runner_latency_ms,
        ),
    ),
    concurrent_jobs.NAME: (
        concurrent_jobs,
        lambda s, tmp: concurrent_jobs.run(
            jobs=s.concurrent_jobs,
            latency_ms=s.llm_latency_ms,
            tmp=tmp,
            genflow_max_jobs=s.concurrency,
            baseline_threads=s.concurrency,
        ),
    ),
    event_latency.NAME: (
        event_latency,
        lambda s, tmp: event_latency.run(
            followers=list(s.followers),
            rounds=dict(zip(s.followers, s.latency_rounds, strict=True)),
            latency_ms=s.llm_latency_ms,
            tmp=tmp,
        ),
    ),
    waiting_memory.NAME: (
        waiting_memory,
        lambda s, tmp: waiting_memory.run(
            jobs=s.waiting_jobs, latency_ms=s.waiting_latency_ms, tmp=tmp
        ),
    ),
    restart_recovery.NAME: (
        restart_recovery,
        lambda s, tmp: restart_recovery.run(jobs=s.restart_jobs, tmp=tmp),
    ),
    scale_out.NAME: (
        scale_out,
        lambda s, tmp: scale_out.run(
            jobs=s.scale_out_jobs,
            workers=list(s.scale_out_workers),
            concurrency=s.scale_out_concurrency,
            bound_jobs=s.scale_out_bound_jobs,
            bound_concurrency=s.scale_out_bound_concurrency,
            bound_latency_ms=s.scale_out_bound_latency_ms,
            latency_ms=s.llm_latency_ms,
            tmp=tmp,
        ),
    ),
    burst.NAME: (
        burst,
        lambda s, tmp: burst.run(
            jobs=s.burst_jobs,
            latency_ms=s.burst_latency_ms,
            connections=s.burst_connections,
            tmp=tmp,
        ),
    ),
}


async def main(sizes: Sizes, only: list[str], out: Path | None) -> dict[str, Any]:
    results: dict[str, Any] = {
        "mode": sizes.mode,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
    }
    started = time.monotonic()
    print(
        f"GenFlow benchmarks ({sizes.mode}) on {results['machine']['cpu']}, "
        f"{results['machine']['cores']} cores",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="genflow-bench-") as tmp:
        for name in only:
            module, run = BENCHES[name]
            began = time.monotonic()
            result = await run(sizes, Path(tmp))
            result["seconds"] = round(time.monotonic() - began, 1)
            results[name] = result
            print(module.render(result), f"\n({result['seconds']} s)", flush=True)
    results["baseline"] = {
        "design": DESIGN,
        "threads": sizes.concurrency,
        **{
            name: results[name]["baseline"]
            for name in (concurrent_jobs.NAME, waiting_memory.NAME, burst.NAME)
            if name in results
        },
    }
    results["total_seconds"] = round(time.monotonic() - started, 1)
    path = report.write(results, out)
    print(f"\nwrote {path} ({results['total_seconds']} s in all)")
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI sizes (a few minutes)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHES)}")
    parser.add_argument("--out", type=Path, help="JSON path (default bench/results/latest.json)")
    args = parser.parse_args()
    only = args.only.split(",") if args.only else list(BENCHES)
    unknown = [name for name in only if name not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    asyncio.run(main(QUICK if args.quick else FULL, only, args.out))


if __name__ == "__main__":
    cli()
