"""Execution logs and figures of a workflow, read from its jobs' events.

The events are the record (durable, per job, written with each checkpoint), so the logs
need no second write path: a node's run is its `node.started` … `node.finished` (or the
job's `job.failed` while it ran), with the duration, usage and loop index the runner and
the node reported.
"""

from __future__ import annotations

from statistics import quantiles
from typing import Any

from backend.domain import isoformat
from backend.events import Event, EventType


def node_logs(events: list[Event]) -> list[dict[str, Any]]:
    """One entry per node run, in the order they ran."""
    runs: list[dict[str, Any]] = []
    open_run: dict[str, Any] | None = None
    for event in events:
        data = event.data
        if event.type is EventType.NODE_STARTED:
            open_run = {
                "node": data["node"],
                "status": "running",
                "attempt": data.get("attempt", 1),
                "started_at": isoformat(event.ts),
                "duration_ms": None,
                "tokens_in": 0,
                "tokens_out": 0,
                "cost_usd": 0.0,
                "error": None,
                "loop_index": None,
                "summary": None,
            }
            runs.append(open_run)
        elif open_run is None:
            continue
        elif event.type is EventType.NODE_PROGRESS and "loop_index" in data:
            open_run["loop_index"] = data["loop_index"]
        elif event.type is EventType.NODE_RETRY:
            open_run["error"] = data.get("error")
        elif event.type is EventType.REVIEW_REQUESTED:
            open_run["status"] = "waiting_for_review"
        elif event.type is EventType.NODE_FINISHED and data.get("node") == open_run["node"]:
            usage = data.get("usage") or {}
            open_run.update(
                status="completed",
                duration_ms=data.get("duration_ms"),
                summary=data.get("summary"),
                error=None,
                tokens_in=usage.get("tokens_in", 0),
                tokens_out=usage.get("tokens_out", 0),
                cost_usd=usage.get("cost_usd", 0.0),
            )
            open_run = None
        elif event.type is EventType.JOB_FAILED:
            open_run.update(status="failed", error=(data.get("error") or {}).get("message"))
            open_run = None
        elif event.type is EventType.JOB_CANCELLED:
            open_run.update(status="cancelled")
            open_run = None
    return runs


def _percentile(values: list[float], which: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(quantiles(values, n=100, method="inclusive")[which - 1], 1)


def stats(executions: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Per node: runs, success rate, p50/p95 duration, tokens, cost; per workflow totals.
    `executions` is (job status, its node logs) per execution."""
    nodes: dict[str, dict[str, Any]] = {}
    durations: dict[str, list[float]] = {}
    for _status, logs in executions:
        for run in logs:
            if run["status"] in ("running", "waiting_for_review"):
                continue
            entry = nodes.setdefault(
                run["node"],
                {"runs": 0, "succeeded": 0, "failed": 0, "tokens": 0, "cost_usd": 0.0},
            )
            entry["runs"] += 1
            entry["succeeded" if run["status"] == "completed" else "failed"] += 1
            entry["tokens"] += run["tokens_in"] + run["tokens_out"]
            entry["cost_usd"] += run["cost_usd"]
            if run["duration_ms"] is not None:
                durations.setdefault(run["node"], []).append(float(run["duration_ms"]))
    for name, entry in nodes.items():
        entry["success_rate"] = round(entry["succeeded"] / entry["runs"], 3)
        entry["p50_ms"] = _percentile(durations.get(name, []), 50)
        entry["p95_ms"] = _percentile(durations.get(name, []), 95)
        entry["cost_usd"] = round(entry["cost_usd"], 6)
    statuses = [status for status, _ in executions]
    return {
        "executions": len(executions),
        "completed": statuses.count("completed"),
        "failed": statuses.count("failed"),
        "cost_usd": round(sum(n["cost_usd"] for n in nodes.values()), 6),
        "tokens": sum(n["tokens"] for n in nodes.values()),
        "nodes": nodes,
    }
