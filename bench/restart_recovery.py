"""restart_recovery: from process start to every interrupted job running again.

N article jobs are started against a model that never answers (so every one of them is
mid-node), the server is SIGKILLed, and a new process is started on the same data dir.
The clock starts when the new process is spawned; a job runs again when the new process
has claimed it (`job.started`, attempt 2) and when it is back inside its node
(`node.started`). Times come from the events' own timestamps, read from the database
afterwards, so polling does not blur them. GENFLOW_MAX_CONCURRENT_JOBS is set above N:
with the default limit, "all running again" would only measure the limit.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import post_json, session, wait_until
from bench.report import table
from bench.servers import GenFlowProcess

NAME = "restart_recovery"
IN_FLIGHT = 64
STALL = 3600.0  # the fake model's latency: nobody finishes


def _query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(sql, args).fetchall()


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).replace(tzinfo=UTC).timestamp()


async def run(*, jobs: int, tmp: Path) -> dict[str, Any]:
    server = GenFlowProcess.make(tmp / "restart", STALL, max_concurrent_jobs=jobs + 100)
    db = server.data_dir / "genflow.db"
    await server.start_async()
    try:
        async with session(server.token) as http:
            slots = asyncio.Semaphore(IN_FLIGHT)

            async def start(index: int) -> None:
                async with slots:
                    body = {"flow": "article", "input": {"topic": f"topic {index}"}}
                    await post_json(http, f"{server.base_url}/api/jobs", body)

            await asyncio.gather(*(start(i) for i in range(jobs)))

        async def all_inside_a_node() -> bool:
            sql = "SELECT count(DISTINCT job_id) FROM events WHERE type = 'node.started'"
            return _query(db, sql)[0][0] >= jobs

        await wait_until(all_inside_a_node, within=600, every=0.2, what="jobs to start")
        server.kill()
        spawned = time.time()
        server.spawn()
        await server.wait_ready_async(within=300)
        ready = time.time() - spawned

        async def all_claimed() -> bool:
            return _query(db, "SELECT count(*) FROM jobs WHERE attempts >= 2")[0][0] >= jobs

        await wait_until(all_claimed, within=600, every=0.2, what="jobs to be resumed")
        await asyncio.sleep(1.0)
        claims = [
            _epoch(ts) - spawned
            for ts, data in _query(db, "SELECT ts, data FROM events WHERE type = 'job.started'")
            if json.loads(data)["attempt"] == 2
        ]
        restarted = _query(
            db,
            "SELECT e.job_id, max(e.ts) FROM events e JOIN events s ON s.job_id = e.job_id "
            "AND s.type = 'job.started' AND s.seq < e.seq AND s.seq > 2 "
            "WHERE e.type = 'node.started' GROUP BY e.job_id",
        )
        inside = [_epoch(ts) - spawned for _, ts in restarted]
    finally:
        server.stop()
    return {
        "params": {
            "interrupted_jobs": jobs,
            "flow": "article",
            "genflow_max_concurrent_jobs": jobs + 100,
        },
        "ready_s": round(ready, 2),
        "first_resumed_s": round(min(claims), 2),
        "all_resumed_s": round(max(claims), 2),
        "all_back_in_their_node_s": round(max(inside), 2) if len(inside) == jobs else None,
        "resumed": len(claims),
    }


def render(result: dict[str, Any]) -> str:
    rows = [
        ("process start -> /api/health answers", result["ready_s"]),
        ("process start -> first job resumed", result["first_resumed_s"]),
        ("process start -> all jobs resumed (job.started)", result["all_resumed_s"]),
        ("process start -> all back in their node", result["all_back_in_their_node_s"]),
    ]
    n = result["params"]["interrupted_jobs"]
    return table(f"restart_recovery: {n:,} interrupted jobs after SIGKILL", ["", "s"], rows)


if __name__ == "__main__":
    import sys
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(jobs=n, tmp=Path(tmp))), indent=1))
