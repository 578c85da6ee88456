"""Benchmark sizes: `--quick` for CI, full for docs/performance.md.

The full sizes are what the issue asks for; they finish in about ten minutes on a
2-core machine. Quick sizes keep every code path but cut the counts so CI takes a
few minutes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    mode: str
    runner_nodes: int = 20
    runner_runs: int = 20  # jobs per contender per round
    runner_rounds: int = 5  # the median over rounds is reported
    runner_latency_ms: float = 0.0  # the fake model answers at once: all time is overhead
    llm_latency_ms: float = 200.0  # the HTTP benchmarks' fake model
    concurrent_jobs: int = 1000
    concurrency: int = 40  # GenFlow's GENFLOW_MAX_CONCURRENT_JOBS = the baseline's threads
    followers: tuple[int, ...] = (1, 1000)
    latency_rounds: tuple[int, ...] = (30, 5)  # review rounds for each follower count
    waiting_jobs: int = 10_000
    waiting_latency_ms: float = 50.0  # only makes the jobs park sooner
    restart_jobs: int = 1000
    scale_out_jobs: int = 1000  # through 2 replicas, with each worker count
    scale_out_workers: tuple[int, ...] = (1, 2)
    scale_out_concurrency: int = 200  # per worker: more than CPU can feed, never the cap
    # The model-bound comparison (issue 12, see bench/scale_out.py): each worker's
    # concurrency is the bound, the model slow enough that a job mostly waits on it.
    scale_out_bound_jobs: int = 600  # 12 rounds of 50 for one worker, 6 for two
    scale_out_bound_concurrency: int = 50  # per worker: `genflow worker --concurrency 50`
    scale_out_bound_latency_ms: float = 1000.0  # per model call
    burst_jobs: int = 1000  # created at the same instant, default settings (issue 12)
    burst_latency_ms: float = 1000.0  # per model call: the jobs mostly wait on the model
    burst_connections: int = 2000  # opened at once, one cheap request each


FULL = Sizes(mode="full")
QUICK = Sizes(
    mode="quick",
    runner_runs=5,
    runner_rounds=3,
    concurrent_jobs=100,
    latency_rounds=(10, 3),
    waiting_jobs=1000,
    restart_jobs=200,
    scale_out_jobs=100,
    scale_out_bound_jobs=160,  # 8 rounds of 20 for one worker, 4 for two
    scale_out_bound_concurrency=20,
    scale_out_bound_latency_ms=500.0,
    burst_jobs=100,
    burst_latency_ms=200.0,
    burst_connections=400,
)
