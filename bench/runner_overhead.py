"""runner_overhead: what GenFlow's durable runner adds per node.

The same chain of LLM nodes (bench.chain) runs under plain PocketFlow `AsyncFlow`
(in memory), GenFlow's `Runner` (SQLite checkpoint + durable events per node, as in the
server) and LangGraph with its SQLite checkpointer (`durability="sync"`). The fake model
answers after a fixed latency. A "floor" run does the nodes' work with no framework at
all; per-node overhead = (contender time - floor time) / nodes.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from backend.domain import Checkpoint, Job, JobStatus, utcnow
from backend.events import EventType, NewEvent
from backend.ids import new_id
from backend.metrics import Metrics
from backend.runtime.bus import LocalBus
from backend.runtime.runner import Runner
from backend.settings import Settings
from backend.store.sqlalchemy import SQLStore
from bench.chain import chain_flow, step_work
from bench.fake_llm import FixedLatencyLLM
from bench.langgraph_chain import langgraph_chain
from bench.report import table
from bench.stats import ratio
from flows import context, llm
from flows.providers.placeholder_images import PlaceholderImages
from flows.registry import FlowSpec

NAME = "runner_overhead"


async def _floor(nodes: int, runs: int) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        with context.bind(context.DetachedContext()):
            for index in range(nodes):
                await step_work(index, "coffee")
    return time.perf_counter() - started


async def _pocketflow(nodes: int, runs: int) -> float:
    flow = chain_flow(nodes)
    started = time.perf_counter()
    for _ in range(runs):
        with context.bind(context.DetachedContext()):
            await flow.run_async({"topic": "coffee"})
    return time.perf_counter() - started


class _GenFlow:
    """A store, bus and runner as the server builds them, minus HTTP."""

    def __init__(self, data_dir: Path, nodes: int, fake: FixedLatencyLLM) -> None:
        settings = replace(Settings(data_dir=data_dir), max_events_per_job=100_000)
        spec = FlowSpec(
            "chain",
            "chain",
            "benchmark chain",
            {"type": "object"},
            lambda _input: chain_flow(nodes),
        )
        self.store = SQLStore(settings.resolved_database_url)
        self.runner = Runner(
            store=self.store,
            bus=LocalBus(),
            flows={"chain": spec},
            llm_backend=fake,
            image_backend=PlaceholderImages(),
            settings=settings,
            metrics=Metrics(),
        )

    async def create(self) -> str:
        now = utcnow()
        job = Job(
            new_id("job"),
            "chain",
            JobStatus.PENDING,
            {"topic": "coffee"},
            "bench",
            now,
            now,
            checkpoint=Checkpoint(shared={"topic": "coffee"}),
        )
        await self.store.create_job(job, [NewEvent(EventType.JOB_CREATED, {"flow": "chain"})])
        return job.id

    async def run(self, runs: int) -> float:
        ids = [await self.create() for _ in range(runs)]  # created outside the timing
        started = time.perf_counter()
        for job_id in ids:
            await self.runner.run(job_id)
        elapsed = time.perf_counter() - started
        job = await self.store.get_job(ids[-1])
        assert job is not None and job.status is JobStatus.COMPLETED, job
        return elapsed


async def _langgraph(graph: Any, runs: int, round_: int) -> float:
    started = time.perf_counter()
    for run in range(runs):
        config = {"configurable": {"thread_id": f"r{round_}-{run}"}}
        with context.bind(context.DetachedContext()):
            await graph.ainvoke({"topic": "coffee", "outputs": []}, config, durability="sync")
    return time.perf_counter() - started


async def run(*, nodes: int, runs: int, rounds: int, latency_ms: float) -> dict[str, Any]:
    """Per-node overhead in µs (median over `rounds`), and the ratios."""
    fake = FixedLatencyLLM(latency_ms / 1000)
    per_node: dict[str, list[float]] = {"pocketflow": [], "genflow": [], "langgraph": []}
    with tempfile.TemporaryDirectory(prefix="genflow-bench-") as tmp:
        genflow = _GenFlow(Path(tmp) / "genflow", nodes, fake)
        await genflow.store.initialize()
        try:
            async with langgraph_chain(nodes, Path(tmp) / "langgraph.db") as graph:
                with llm.backend.use(fake):
                    await _pocketflow(nodes, 2)  # warm up every path once
                    await genflow.run(2)
                    await _langgraph(graph, 2, -1)
                    for round_ in range(rounds):
                        floor = await _floor(nodes, runs)
                        timings = {
                            "pocketflow": await _pocketflow(nodes, runs),
                            "genflow": await genflow.run(runs),
                            "langgraph": await _langgraph(graph, runs, round_),
                        }
                        for name, seconds in timings.items():
                            per_node[name].append((seconds - floor) / (nodes * runs) * 1e6)
        finally:
            await genflow.store.close()
    overhead = {name: round(statistics.median(v), 1) for name, v in per_node.items()}
    return {
        "params": {
            "nodes": nodes,
            "runs_per_round": runs,
            "rounds": rounds,
            "llm_latency_ms": latency_ms,
        },
        "per_node_overhead_us": overhead,
        "vs_pocketflow": ratio(overhead["genflow"], overhead["pocketflow"], 1),
        "vs_langgraph": ratio(overhead["genflow"], overhead["langgraph"]),
    }


def render(result: dict[str, Any]) -> str:
    overhead = result["per_node_overhead_us"]
    rows = [
        ("PocketFlow AsyncFlow (in memory)", overhead["pocketflow"], 1.0),
        (
            "GenFlow runner (SQLite checkpoint + events)",
            overhead["genflow"],
            result["vs_pocketflow"],
        ),
        (
            "LangGraph + AsyncSqliteSaver (durability=sync)",
            overhead["langgraph"],
            ratio(overhead["langgraph"], overhead["pocketflow"], 1),
        ),
    ]
    text = table("runner_overhead: added time per node", ["", "us/node", "x PocketFlow"], rows)
    return text + f"\nGenFlow / LangGraph: {result['vs_langgraph']}"


if __name__ == "__main__":
    print(asyncio.run(run(nodes=20, runs=5, rounds=3, latency_ms=0)))
