"""Review deadlines scaled out: two API replicas and two workers on PostgreSQL and Redis.

Every worker defers the periodic sweep, every sweep may see the same due reviews, and a
person may decide on any replica at the same moment: still each review gets one
reminder and one decision, and the job moves on (or is cancelled) once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.scaleout.cluster import Cluster, client
from tests.scaleout.test_cluster import TERMINAL, assert_one_clean_history, events, types

pytestmark = pytest.mark.timeout(240)
SWEEP = {"GENFLOW_REVIEW_SWEEP_SECONDS": "1"}
TIMEOUT = 8  # seconds: the reminder at 4, the deadline at 8, sweeps every second


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def create(http: httpx.AsyncClient, **terms: Any) -> dict[str, Any]:
    body = {"flow": "review", "input": {"task": "Write a haiku about tea"}, **terms}
    response = await http.post("/api/jobs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def of_type(stored: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e["data"] for e in stored if e["type"] == type_]


async def until_ended(http: httpx.AsyncClient, job_id: str, within: float) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        stored = await events(http, job_id)
        if stored and stored[-1]["type"] in TERMINAL:
            return stored
        assert asyncio.get_running_loop().time() < deadline, types(stored)
        await asyncio.sleep(0.2)


async def waiting_review(http: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        job = (await http.get(f"/api/jobs/{job_id}")).json()
        if job["status"] == "waiting_for_review":
            return job["review"]
        assert asyncio.get_running_loop().time() < deadline, job["status"]
        await asyncio.sleep(0.1)


async def test_deadlines_fire_exactly_once_across_replicas_and_workers(cluster: Cluster) -> None:
    a, b = cluster.add_replica(**SWEEP), cluster.add_replica(**SWEEP)
    cluster.add_worker(**SWEEP)
    cluster.add_worker(**SWEEP)
    async with client(a) as on_a, client(b) as on_b:
        approving = [
            await create(on_a, review_timeout=TIMEOUT, on_timeout="approve") for _ in range(3)
        ]
        cancelling = await create(on_b, review_timeout=TIMEOUT, on_timeout="cancel")
        decided_first = await create(on_b, review_timeout=TIMEOUT)
        reviews = {
            job["id"]: await waiting_review(on_a, job["id"])
            for job in [*approving, cancelling, decided_first]
        }

        # a person decides one of them on replica B just before its deadline
        early = reviews[decided_first["id"]]
        moment = at(early["deadline"]) - timedelta(seconds=1.5)
        while datetime.now(UTC) < moment:
            await asyncio.sleep(0.05)
        answer = await on_b.post(
            f"/api/jobs/{decided_first['id']}/review",
            json={"review_id": early["id"], "decision": "approve", "via": "web"},
        )
        assert answer.status_code == 200, answer.text

        for job in approving:
            stored = await until_ended(on_b, job["id"], within=60)
            assert_one_clean_history(stored)
            (reminder,) = of_type(stored, "review.reminder")
            (decided,) = of_type(stored, "review.decided")
            assert reminder["review_id"] == decided["review_id"] == reviews[job["id"]]["id"]
            assert (decided["decision"], decided["by"], decided["via"]) == (
                "approve",
                "genflow",
                "timeout",
            )
            assert (await on_a.get(f"/api/jobs/{job['id']}")).json()["status"] == "completed"

        stored = await until_ended(on_a, cancelling["id"], within=60)
        assert_one_clean_history(stored, end="job.cancelled")
        (decided,) = of_type(stored, "review.decided")
        assert (decided["decision"], decided["via"]) == ("cancel", "timeout")
        assert of_type(stored, "job.cancelled") == [{"by": "genflow"}]

        stored = await until_ended(on_a, decided_first["id"], within=60)
        assert_one_clean_history(stored)
        person = (await on_b.get("/api/auth/me")).json()["principal"]
        assert [(d["by"], d["via"]) for d in of_type(stored, "review.decided")] == [(person, "web")]

        # and nothing fires later: every timer was used up or dropped
        audit = (await on_b.get(f"/api/jobs/{approving[0]['id']}/reviews")).json()
        assert [r["state"] for r in audit["reviews"]] == ["timed_out"]
    assert "review deadlines:" in "".join(w.log() for w in cluster.workers)
