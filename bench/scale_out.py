"""scale_out: N article jobs through 2 API replicas, run by 1 and by 2 workers.

GenFlow scaled out on PostgreSQL (store and procrastinate queue) and Redis (live events):
two `genflow serve` replicas only queue jobs, `genflow worker` processes run them with a
fixed-latency fake model (`bench.genflow_worker`). Every process of the cluster answers
with `bench.fake_llm.ArticleLLM`, so an article takes its shortest path (7 model calls,
3 on its critical path: the outline, the sections in parallel, the style pass in
parallel) rather than repairing answers that fail its checks. Jobs are created round-robin over the
replicas and each is followed over SSE on the *other* replica, so every live event crosses
processes twice (worker -> Redis -> replica -> client). Time to finish = POST sent ->
terminal event received; event latency = arrival at the client - the event's `ts` (set by
the worker), for events emitted after the stream opened. Every follower's history is
checked (seq contiguous from 1, each once, ends `job.completed`), and the CPU of every
process involved is read with psutil, so the 2-worker / 1-worker ratio can be explained
by what was measured rather than guessed. The comparison runs twice: with many jobs per
worker (the machine's CPU runs out first) and model-bound (issue 12: each worker's
`--concurrency` is the bound and the model is slow, 1 s per call in full sizes, so a
worker's pace is its concurrency / a job's duration, and a second worker should double
jobs/s as long as the machine has the CPU for it).

Each worker count gets a fresh PostgreSQL database (created, then dropped) and Redis
database REDIS_DB (flushed before and after). Without PostgreSQL and Redis URLs in the
environment the benchmark reports itself skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import psutil
import psycopg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from backend.store.migrate import conninfo
from bench.load import get_json, post_json, session
from bench.report import table
from bench.servers import GenFlowProcess
from bench.sse import Received, emitted_at, live_latencies, read_sse
from bench.stats import ratio, summary
from tests.scaleout.cluster import SECRET, Worker, token, use_database
from tests.services import with_database

NAME = "scale_out"
POSTGRES_ENV = ("GENFLOW_BENCH_POSTGRES_URL", "GENFLOW_TEST_POSTGRES_URL")
REDIS_ENV = ("GENFLOW_BENCH_REDIS_URL", "GENFLOW_TEST_REDIS_URL")
REDIS_DB = 5  # the bench's own Redis database: flushed, so never one a deployment uses
REPLICAS = 2
CONNECTS = 64  # POSTs in flight at once, over both replicas (Hypercorn's backlog is 100)
LLM_ANSWERS = "article"  # GENFLOW_BENCH_LLM_ANSWERS: bench.fake_llm.ArticleLLM everywhere
WARMUP_JOBS = 10  # run before measuring: connection pools, imports, the first flow run
JOB_DEADLINE = 300.0  # a job not finished this long after its POST is reported stuck
WORKER_READY = "Starting worker on"  # procrastinate's log line once it fetches jobs
RUN_STARTED = re.compile(r"Starting job genflow\.run_job\[\d+\]\(job_id='([^']+)'\)")
SAMPLE_EVERY = 0.1  # seconds between pg_stat_activity samples
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


# -- services -----------------------------------------------------------------------------


def service_urls() -> tuple[str, str] | str:
    """(PostgreSQL URL, Redis URL) from the environment, or why the bench is skipped."""
    postgres = next((os.environ[v] for v in POSTGRES_ENV if os.environ.get(v)), None)
    redis = next((os.environ[v] for v in REDIS_ENV if os.environ.get(v)), None)
    if postgres and redis:
        return postgres, redis
    pairs = (("PostgreSQL", POSTGRES_ENV, postgres), ("Redis", REDIS_ENV, redis))
    missing = [f"no {name} ({' or '.join(names)})" for name, names, url in pairs if not url]
    return f"{', '.join(missing)}; ./scripts/services starts both and prints their URLs"


def redis_db(url: str, db: int = REDIS_DB) -> str:
    """The same Redis server, database `db`: the bench flushes it, so it must be its own."""
    return urlsplit(url)._replace(path=f"/{db}").geturl()


@contextlib.asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the server (dropped afterwards): no run sees another's rows."""
    name = f"genflow_bench_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(conninfo(server_url), autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        async with await psycopg.AsyncConnection.connect(
            conninfo(server_url), autocommit=True
        ) as conn:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def flush_redis(url: str) -> None:
    """FLUSHDB on a connection of its own (a long-lived one may have been killed meanwhile:
    tests of the Redis bus kill every client of the server they share)."""
    client = aioredis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def empty_redis(url: str) -> AsyncIterator[str]:
    """The bench's Redis database, empty before and after (nothing else is touched)."""
    await flush_redis(url)
    try:
        yield url
    finally:
        with contextlib.suppress(RedisError):  # left over keys are flushed by the next run
            await flush_redis(url)


# -- the cluster --------------------------------------------------------------------------


def bench_worker(root: Path, env: dict[str, str], name: str, concurrency: int) -> Worker:
    """tests' `Worker`, running `bench.genflow_worker` (the fake model lives in workers)."""
    command = [sys.executable, "-m", "bench.genflow_worker", "--concurrency", str(concurrency)]
    return Worker(root, env, name, command=command)


@dataclass
class Cluster:
    """2 replicas and N workers on one database and one Redis, all sharing SECRET."""

    root: Path
    database_url: str
    redis_url: str
    latency: float
    concurrency: int
    replicas: list[GenFlowProcess] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)

    def settings(self) -> dict[str, str]:
        return {
            "database_url": self.database_url,
            "queue": "procrastinate",
            "redis_url": self.redis_url,
            "secret": SECRET,
        }

    async def start(self, workers: int) -> None:
        """The first replica migrates alone; then the others and the workers start."""
        self.replicas = [
            GenFlowProcess.make(
                self.root / f"replica-{i}",
                self.latency,
                bench_llm_answers=LLM_ANSWERS,
                **self.settings(),
            )
            for i in range(REPLICAS)
        ]
        await self.replicas[0].start_async()
        use_database(self.database_url)  # where `token()` records the bench's token
        env = {f"GENFLOW_{k.upper()}": v for k, v in self.settings().items()}
        env |= {
            "GENFLOW_BENCH_LLM_LATENCY": str(self.latency),
            "GENFLOW_BENCH_LLM_ANSWERS": LLM_ANSWERS,
            **{k: v for k, v in self.replicas[0].extra_env.items() if "RATE_LIMIT" in k},
        }
        self.workers = [
            bench_worker(self.root / "workers", env, f"worker-{i}", self.concurrency)
            for i in range(workers)
        ]
        for worker in self.workers:
            worker.start()
        await asyncio.gather(
            *(r.start_async() for r in self.replicas[1:]),
            *(w.wait_for_log(WORKER_READY, within=60) for w in self.workers),
        )

    def pids(self, group: Sequence[GenFlowProcess | Worker]) -> list[int]:
        return [p.proc.pid for p in group if p.proc is not None]

    def stop(self) -> None:
        for process in [*self.workers, *self.replicas]:
            with contextlib.suppress(Exception):
                process.stop()

    def log_problems(self) -> list[str]:
        """Warnings, errors and tracebacks the processes logged (what went wrong, not noise)."""
        logs = [(w.name, w.log_path) for w in self.workers]
        logs += [(f"replica-{i}", r.log_path) for i, r in enumerate(self.replicas)]
        found = []
        for name, path in logs:
            with contextlib.suppress(OSError):
                for line in path.read_text().splitlines():
                    if any(mark in line for mark in ("WARNING", "ERROR", "Traceback", "CRITICAL")):
                        found.append(f"{name}: {line[:300]}")
        return found

    def runs(self) -> list[Counter[str]]:
        """Per worker, how often it started each job (procrastinate logs every start)."""
        return [Counter(RUN_STARTED.findall(worker.log())) for worker in self.workers]

    def lines_about(self, job_ids: set[str], jobs: int = 3) -> list[str]:
        """The workers' log lines about a few of `job_ids`, in time order: why they ran
        more than once."""
        picked = sorted(job_ids)[:jobs]
        lines = [
            (line, f"{worker.name}: {line[:300]}")
            for worker in self.workers
            for line in worker.log().splitlines()
            if any(job_id in line for job_id in picked)
        ]
        return [labelled for _, labelled in sorted(lines)]


# -- CPU ----------------------------------------------------------------------------------


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants and its reaped children (PostgreSQL
    backends come and go: the ones that exited are in the postmaster's children times)."""
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        times = root.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += sum(child.cpu_times()[:2])
        return total
    return 0.0


def listening_pid(url: str, default_port: int) -> int | None:
    """The local process that listens on the service URL's port (the postmaster, Redis),
    or None when the service is elsewhere (its CPU cannot be read from here)."""
    parts = urlsplit(conninfo(url))
    if (parts.hostname or "") not in LOCAL_HOSTS:
        return None
    port = parts.port or default_port
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


def machine_busy() -> float:
    """CPU seconds all cores spent working for this machine, since boot."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)


def machine_steal() -> float:
    """CPU seconds the hypervisor gave other guests while this one wanted to run: a noisy
    neighbour that no process here shows."""
    return getattr(psutil.cpu_times(), "steal", 0.0)


@dataclass
class CpuMeter:
    """CPU seconds per group of processes, between `start()` and `stop()`."""

    groups: dict[str, Callable[[], list[int]]]
    before: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        totals = {name: sum(tree_cpu(pid) for pid in pids()) for name, pids in self.groups.items()}
        totals["client"] = sum(psutil.Process().cpu_times()[:2])
        totals["machine"] = machine_busy()
        totals["steal"] = machine_steal()
        return totals

    def start(self) -> None:
        self.before = self.read()

    def stop(self) -> None:
        after = self.read()
        self.used = {name: after[name] - self.before[name] for name in after}


def cpu_groups(cluster: Cluster, postgres_url: str, redis_url: str) -> dict[str, Any]:
    """The processes whose CPU is read: GenFlow's, and the services' when they are local
    (`postgres`: the whole server, every database and its background processes)."""
    groups: dict[str, Callable[[], list[int]]] = {
        "replicas": lambda: cluster.pids(cluster.replicas),
        "workers": lambda: cluster.pids(cluster.workers),
    }
    for name, url, port in (("postgres", postgres_url, 5432), ("redis", redis_url, 6379)):
        if (pid := listening_pid(url, port)) is not None:
            groups[name] = lambda pid=pid: [pid]
    return groups


# -- PostgreSQL ---------------------------------------------------------------------------


@dataclass
class Activity:
    """What the benchmark database's backends did, sampled from pg_stat_activity.

    `states` counts backends per state over all samples; `cpu` holds each backend's CPU
    seconds when first and last seen, so the CPU PostgreSQL spent on this database is
    told apart from what other databases on the same server cost meanwhile. The sampler
    connects to the server's own database: its queries are not counted in the benchmark
    database's statistics."""

    states: Counter[str] = field(default_factory=Counter)
    cpu: dict[int, list[float]] = field(default_factory=dict)
    samples: int = 0
    reconnects: int = 0  # the sampler lost its connection: PostgreSQL went away meanwhile

    def see(self, rows: list[tuple[int, str | None, str | None, str | None]]) -> None:
        self.samples += 1
        for pid, *state in rows:
            self.states[activity_state(*state)] += 1
            with contextlib.suppress(psutil.Error):
                used = sum(psutil.Process(pid).cpu_times()[:2])
                first = used if self.samples == 1 else 0.0  # a new backend: all of it counts
                self.cpu.setdefault(pid, [first, used])[1] = used

    def summary(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "reconnects": self.reconnects,
            "backends": len(self.cpu),
            "backend_cpu_s": round(sum(last - first for first, last in self.cpu.values()), 2),
            "mean_backends": {
                k: round(v / max(1, self.samples), 2) for k, v in self.states.most_common()
            },
        }


async def sample_activity(
    server_url: str, database: str, ready: asyncio.Event, stop: asyncio.Event
) -> Activity:
    """Sample the benchmark database's client backends every SAMPLE_EVERY s until `stop`;
    `ready` is set once the first sample (the CPU baseline) is taken."""
    query = (
        "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
        "WHERE datname = %s AND backend_type = 'client backend'"
    )
    activity = Activity()
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo(server_url), autocommit=True
            ) as conn:
                while True:
                    activity.see(await (await conn.execute(query, (database,))).fetchall())
                    ready.set()
                    if stop.is_set():
                        return activity
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
        except psycopg.OperationalError:  # the server restarted: GenFlow rides it out, so do we
            activity.reconnects += 1
            if stop.is_set():
                return activity
            await asyncio.sleep(0.5)


def activity_state(state: str | None, wait_type: str | None, wait: str | None) -> str:
    if state == "active":
        return f"active, waiting {wait_type}:{wait}" if wait_type else "active, on CPU"
    return state or "unknown"


async def database_stats(server_url: str, database: str) -> dict[str, int]:
    """pg_stat_database's counters for the benchmark database (read after its backends
    exited, so every backend has flushed its statistics)."""
    query = (
        "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, deadlocks, "
        "sessions "
        "FROM pg_stat_database WHERE datname = %s"
    )
    async with await psycopg.AsyncConnection.connect(conninfo(server_url), autocommit=True) as conn:
        row = await (await conn.execute(query, (database,))).fetchone()
    names = ("commits", "rollbacks", "inserted", "updated", "deleted", "deadlocks", "sessions")
    return dict(zip(names, row or (0,) * len(names), strict=True))


# -- the load -----------------------------------------------------------------------------


@dataclass
class Outcome:
    """One job as its follower on the other replica saw it."""

    job_id: str
    sent: float
    received: Received | None = None  # None: not finished within JOB_DEADLINE
    status: str = ""  # the job's status when it was found stuck


def history_problems(received: Received) -> Counter[str]:
    """Lost, duplicated or misordered durable events, and a wrong or missing end."""
    seqs = [e["seq"] for e in received.durable]
    problems: Counter[str] = Counter()
    if seqs:
        problems["lost_events"] = max(seqs) - len(set(seqs))
        problems["duplicate_events"] = len(seqs) - len(set(seqs))
        problems["out_of_order"] = sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
        problems["not_from_seq_1"] = int(min(seqs) != 1)
    end = received.events[-1][1].get("type") if received.events else None
    problems["not_completed"] = int(end != "job.completed")
    return +problems


def reruns(received: Received) -> Counter[str]:
    """A job started again (a worker lost it and another resumed it), and nodes run again."""
    types = Counter(e["type"] for e in received.durable)
    nodes = {e["data"].get("node") for e in received.durable if e["type"] == "node.started"}
    return +Counter(
        jobs_restarted=int(types["job.started"] > 1),
        nodes_rerun=types["node.started"] - len(nodes),
    )


def latency_of(seen: list[Outcome], *, stored: bool) -> dict[str, float]:
    """Live latency of stored events (written to PostgreSQL, then published) or of
    `llm.delta` (never stored, published at once): where a delay comes from."""
    samples = []
    for outcome in seen:
        assert outcome.received is not None
        kept = [(t, e) for t, e in outcome.received.events if (e.get("seq") is not None) == stored]
        samples += live_latencies(Received(events=kept, opened=outcome.received.opened))
    return summary(samples, 1000)


async def one_job(
    http: aiohttp.ClientSession, index: int, bases: list[str], slots: asyncio.Semaphore
) -> Outcome:
    """Create job `index` on replica index % 2 and follow it on the other one."""
    create_on, follow_on = bases[index % len(bases)], bases[(index + 1) % len(bases)]
    async with slots:
        sent = time.time()
        body = {"flow": "article", "input": {"topic": f"topic {index}"}}
        job_id = (await post_json(http, f"{create_on}/api/jobs", body))["id"]
    outcome = Outcome(job_id, sent)
    try:
        left = JOB_DEADLINE - (time.time() - sent)
        outcome.received = await asyncio.wait_for(
            read_sse(http, f"{follow_on}/api/jobs/{job_id}/events"), left
        )
    except TimeoutError:
        outcome.status = (await get_json(http, f"{follow_on}/api/jobs/{job_id}"))["status"]
    return outcome


async def load(bases: list[str], jobs: int, *, first: int = 0) -> list[Outcome | BaseException]:
    slots = asyncio.Semaphore(CONNECTS)
    async with session(token()) as http:
        return await asyncio.gather(
            *(one_job(http, first + i, bases, slots) for i in range(jobs)),
            return_exceptions=True,
        )


def tally(outcomes: list[Outcome | BaseException]) -> dict[str, Any]:
    """Throughput, times to finish, cross-replica event latency, and every problem seen."""
    errors = [repr(o)[:200] for o in outcomes if isinstance(o, BaseException)]
    followed = [o for o in outcomes if isinstance(o, Outcome)]
    stuck = [{"id": o.job_id, "status": o.status} for o in followed if o.received is None]
    seen = [o for o in followed if o.received is not None]
    problems: Counter[str] = sum((history_problems(o.received) for o in seen), Counter())
    good = [o for o in seen if not history_problems(o.received)]
    if not good:
        raise RuntimeError(f"no job finished cleanly: {errors[:3]} {stuck[:3]} {problems}")
    finished = [o.received.events[-1][0] for o in good]
    elapsed = max(finished) - min(o.sent for o in good)
    deltas = sum(1 for o in seen for _, e in o.received.events if e.get("type") == "llm.delta")
    return {
        "completed": len(good),
        "failed": len(followed) - len(good) - len(stuck) + len(errors),
        "stuck": stuck[:10],
        "stuck_count": len(stuck),
        "errors": errors[:3],
        "history_problems": dict(problems),
        "reruns": dict(sum((reruns(o.received) for o in seen), Counter())),
        "seconds": round(elapsed, 2),
        "jobs_per_s": round(len(good) / elapsed, 1),
        "finish_s": summary([f - o.sent for o, f in zip(good, finished, strict=True)], digits=2),
        "event_latency_ms": summary([x for o in seen for x in live_latencies(o.received)], 1000),
        "stored_event_latency_ms": latency_of(seen, stored=True),
        "llm_delta_latency_ms": latency_of(seen, stored=False),
        "llm_deltas_per_job": round(deltas / max(1, len(seen)), 2),
        **phases(good),
        **run_times(good, elapsed),
    }


def run_times(good: list[Outcome], elapsed: float) -> dict[str, Any]:
    """How long each job's last run took on its worker (its last `job.started` to its end,
    as the server stamped them), and those runs' sum over the elapsed time: the worker
    slots kept busy on average. A model-bound worker is at its pace when the runs are as
    short as alone and its slots are full; `run_s` says which of the two a shortfall is."""
    runs = []
    for o in good:
        durable = o.received.durable
        started = [e for e in durable if e.get("type") == "job.started"]
        if started:
            runs.append(emitted_at(durable[-1]) - emitted_at(started[-1]))
    return {
        "run_s": summary(runs, digits=2),
        "busy_slots": round(sum(runs) / elapsed, 1),
    }


def phases(good: list[Outcome]) -> dict[str, Any]:
    """How long creating the load took, and the rate once it was all created.

    Every job is POSTed at the start, so for `creating_s` (first POST to last) the
    replicas create jobs and open their streams while the workers run the first ones.
    `drained_jobs_per_s` counts the jobs that finished between the last POST and the
    last job's start, while the queue alone fed every worker slot: an upper bound on a
    steady rate, since those jobs' creation was paid for before (None if that window is
    under a second)."""
    last_post = max(o.sent for o in good)
    starts = [t for o in good for t, e in o.received.events if e.get("type") == "job.started"]
    last_start = max(starts, default=last_post)
    window = last_start - last_post
    drained = sum(1 for o in good if last_post <= o.received.events[-1][0] <= last_start)
    return {
        "creating_s": round(last_post - min(o.sent for o in good), 2),
        "drained_jobs_per_s": round(drained / window, 1) if window >= 1 else None,
    }


# -- one cluster, one measurement ---------------------------------------------------------


async def measure(cluster: Cluster, jobs: int, postgres_url: str, redis_url: str) -> dict[str, Any]:
    """Warm up, then the measured load with CPU and pg_stat_activity sampled around it."""
    bases = [r.base_url for r in cluster.replicas]
    await load(bases, WARMUP_JOBS, first=-WARMUP_JOBS)
    meter = CpuMeter(cpu_groups(cluster, postgres_url, redis_url))
    database = cluster.database_url.rpartition("/")[2]
    ready, stop = asyncio.Event(), asyncio.Event()
    sampler = asyncio.create_task(sample_activity(postgres_url, database, ready, stop))
    await ready.wait()
    meter.start()
    began = time.monotonic()
    outcomes = await load(bases, jobs)
    wall = time.monotonic() - began
    meter.stop()
    stop.set()
    activity = (await sampler).summary()
    used = {**meter.used, "postgres_this_db": activity["backend_cpu_s"]}
    ours = ("replicas", "workers", "postgres_this_db", "redis", "client")  # not "steal"
    used["rest_of_machine"] = used["machine"] - sum(used.get(k, 0.0) for k in ours)
    return {
        **tally(outcomes),
        "cpu_ms_per_job": {k: round(v / jobs * 1000, 1) for k, v in used.items()},
        "cpu_cores": {k: round(v / wall, 2) for k, v in used.items()},
        "pg_activity": activity,
        **worker_starts(cluster, {o.job_id for o in outcomes if isinstance(o, Outcome)}),
    }


def worker_starts(cluster: Cluster, ids: set[str]) -> dict[str, Any]:
    """How the queue spread the measured jobs over the workers, and which it started twice."""
    runs = [Counter({k: v for k, v in c.items() if k in ids}) for c in cluster.runs()]
    starts = sum(runs, Counter())
    again = {k for k, v in starts.items() if v > 1}
    return {
        "jobs_per_worker": [len(c) for c in runs],
        "job_runs": starts.total(),  # more than the jobs: some were started again
        "jobs_started_again": len(again),
        "started_again_log": cluster.lines_about(again),
    }


async def run_cluster(
    *, workers: int, concurrency: int, jobs: int, latency: float, tmp: Path, urls: tuple[str, str]
) -> dict[str, Any]:
    """One fresh cluster (database, Redis db, processes) measured, then torn down."""
    postgres_url, redis_url = urls
    async with fresh_database(postgres_url) as database_url, empty_redis(redis_db(redis_url)):
        root = tmp / f"scale-out-{concurrency}x{workers}"
        cluster = Cluster(root, database_url, redis_db(redis_url), latency, concurrency)
        try:
            await cluster.start(workers)
            result = await measure(cluster, jobs, postgres_url, redis_url)
        finally:
            cluster.stop()
        result["log_problems"] = cluster.log_problems()[:20]
        await asyncio.sleep(0.5)  # exited backends have flushed their statistics
        stats = await database_stats(postgres_url, database_url.rpartition("/")[2])
    per_job = jobs + WARMUP_JOBS  # the counters cover the cluster's whole life
    result["postgres"] = {
        **stats,
        "commits_per_job": round(stats["commits"] / per_job, 1),
        "sessions_per_job": round(stats["sessions"] / per_job, 2),
    }
    return {"workers": workers, "concurrency": concurrency, "jobs": jobs, **result}


async def compare(
    *, jobs: int, workers: list[int], concurrency: int, latency: float, tmp: Path, urls: Any
) -> dict[str, Any]:
    """The same load with each worker count; the ratio of the last count's jobs/s to the
    first's."""
    runs = {}
    for count in workers:
        r = await run_cluster(
            workers=count, concurrency=concurrency, jobs=jobs, latency=latency, tmp=tmp, urls=urls
        )
        print(f"  {count} x --concurrency {concurrency}: {r['jobs_per_s']} jobs/s", flush=True)
        runs[f"workers_{count}"] = r
    first, last = runs[f"workers_{workers[0]}"], runs[f"workers_{workers[-1]}"]
    drained = (first["drained_jobs_per_s"], last["drained_jobs_per_s"])
    return {
        **runs,
        "ratio": ratio(last["jobs_per_s"], first["jobs_per_s"]),
        "drained_ratio": ratio(drained[1], drained[0]) if None not in drained else None,
    }


async def run(
    *,
    jobs: int,
    workers: list[int],
    concurrency: int,
    bound_jobs: int,
    bound_concurrency: int,
    bound_latency_ms: float,
    latency_ms: float,
    tmp: Path,
) -> dict[str, Any]:
    """`open`: workers take every job at once (--concurrency `concurrency`, model at
    `latency_ms`), so the machine's CPU is what runs out. `model_bound`: each worker runs
    `bound_concurrency` jobs at once with the model at `bound_latency_ms` per call, so a
    worker's throughput is its concurrency / a job's duration; there a second worker
    should double jobs/s as long as the machine has CPU to spare."""
    params = {
        "jobs": jobs,
        "replicas": REPLICAS,
        "workers": workers,
        "worker_concurrency": concurrency,
        "model_bound_jobs": bound_jobs,
        "model_bound_concurrency": bound_concurrency,
        "llm_latency_ms": latency_ms,  # the open comparison's
        "model_bound_llm_latency_ms": bound_latency_ms,
        "llm_answers": f"{LLM_ANSWERS} (bench.fake_llm.ArticleLLM, replicas and workers)",
        "flow": "article",
        "follow": "SSE on the other replica than the job was created on",
        "redis_db": REDIS_DB,
    }
    urls = service_urls()
    if isinstance(urls, str):
        return {"params": params, "skipped": urls}
    shared = {"workers": workers, "tmp": tmp, "urls": urls}
    return {
        "params": params,
        "open": await compare(
            jobs=jobs, concurrency=concurrency, latency=latency_ms / 1000, **shared
        ),
        "model_bound": await compare(
            jobs=bound_jobs,
            concurrency=bound_concurrency,
            latency=bound_latency_ms / 1000,
            **shared,
        ),
    }


def measured(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every cluster's result, open runs first."""
    return [
        r
        for variant in ("open", "model_bound")
        for key, r in result[variant].items()
        if key.startswith("workers_")
    ]


def rows(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    found = []
    for r in measured(result):
        cpu = r["cpu_ms_per_job"]
        found.append(
            (
                f"{r['workers']} x --concurrency {r['concurrency']}",
                r["jobs"],
                r["completed"],
                r["failed"] + r["stuck_count"],
                r["jobs_per_s"],
                r["finish_s"]["p50"],
                r["finish_s"]["p99"],
                r["run_s"]["p50"],
                r["busy_slots"],
                r["event_latency_ms"]["p50"],
                r["event_latency_ms"]["p99"],
                cpu["workers"],
                cpu["replicas"],
                cpu.get("postgres_this_db"),
                r["cpu_cores"]["machine"],
                r["cpu_cores"]["rest_of_machine"],
            )
        )
    return found


def render(result: dict[str, Any]) -> str:
    params = result["params"]
    title = (
        f"scale_out: article jobs through {params['replicas']} replicas (SSE on the other), "
        f"model {params['llm_latency_ms']:.0f} ms (model-bound: "
        f"{params.get('model_bound_llm_latency_ms', params['llm_latency_ms']):.0f} ms), "
        "PostgreSQL + Redis"
    )
    if "skipped" in result:
        return f"\n{title}\n{'-' * len(title)}\nskipped: {result['skipped']}"
    header = [
        "workers",
        "jobs",
        "done",
        "failed",
        "jobs/s",
        "finish p50 s",
        "p99 s",
        "run p50 s",
        "busy slots",
        "event p50 ms",
        "p99 ms",
        "CPU ms/job: workers",
        "replicas",
        "PostgreSQL",
        "busy cores",
        "other cores",
    ]
    steal = max(r["cpu_cores"]["steal"] for r in measured(result))
    ratios = (
        f"\njobs/s, {params['workers'][-1]} workers / {params['workers'][0]}: "
        f"{result['open']['ratio']} open, {result['model_bound']['ratio']} model-bound"
        f" ({result['model_bound'].get('drained_ratio')} once every job was created)"
        "\n(other cores: CPU the machine spent outside the benchmark's processes, its "
        f"database's backends, Redis and the client; hypervisor steal up to {steal} cores)"
    )
    return table(title, header, rows(result)) + ratios


if __name__ == "__main__":
    import json
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        out = asyncio.run(
            run(
                jobs=n,
                workers=[1, 2],
                concurrency=200,
                bound_jobs=max(1, n // 2),
                bound_concurrency=25,
                bound_latency_ms=1000,
                latency_ms=200,
                tmp=Path(tmp),
            )
        )
    print(json.dumps(out, indent=1))
