"""`POST /api/jobs` asking for `text/event-stream`: the job is created and its events
stream in the answer, reviews included, for whoever may follow it."""

from __future__ import annotations

import asyncio
import json

from tests.harness import Harness

STREAM = {"Accept": "text/event-stream"}


def sse_events(body: str) -> list[dict]:
    return [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]


async def test_a_review_job_started_in_one_request_streams_its_review_and_its_end(
    harness: Harness,
) -> None:
    posted = asyncio.create_task(
        harness.client.post(
            "/api/jobs",
            json={"flow": "review", "input": {"task": "name a cat"}},
            headers={**harness.headers(), **STREAM},
        )
    )
    [job] = await _eventually_one_job(harness)
    await harness.decide(job["id"], "approve", comment="good name")
    response = await asyncio.wait_for(posted, 10)

    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/jobs/{job['id']}"
    assert response.content_type.startswith("text/event-stream")
    events = sse_events(await response.get_data(as_text=True))
    types = [e["type"] for e in events]
    assert types[0] == "job.created" and types[-1] == "job.completed"
    assert types.index("review.requested") < types.index("review.decided")
    decided = next(e for e in events if e["type"] == "review.decided")
    assert decided["data"]["by"] == "alice" and decided["data"]["comment"] == "good name"
    assert [e for e in events if e["seq"] is not None] == await harness.events(job["id"])


async def test_plain_clients_still_get_the_job_as_json(harness: Harness) -> None:
    for accept in (None, "*/*", "application/json", "application/json, text/event-stream"):
        headers = harness.headers() | ({"Accept": accept} if accept else {})
        response = await harness.client.post(
            "/api/jobs", json={"flow": "article", "input": {"topic": "tea"}}, headers=headers
        )
        assert response.status_code == 201, accept
        assert (await response.get_json())["status"] in ("pending", "running"), accept


async def test_a_refused_stream_request_is_json_and_creates_nothing(harness: Harness) -> None:
    response = await harness.client.post(
        "/api/jobs",
        json={"flow": "no-such-flow", "input": {}},
        headers={**harness.headers(), **STREAM},
    )
    assert response.status_code == 422
    assert (await response.get_json())["error"]["code"] == "invalid_input"
    unauthorized = await harness.client.post(
        "/api/jobs", json={"flow": "article", "input": {"topic": "tea"}}, headers=STREAM
    )
    assert unauthorized.status_code == 401
    assert (await unauthorized.get_json())["error"]["code"] == "unauthorized"
    listed = await harness.client.get("/api/jobs", headers=harness.headers())
    assert (await listed.get_json())["jobs"] == []


async def _eventually_one_job(harness: Harness) -> list[dict]:
    async with asyncio.timeout(10):
        while True:
            listed = await harness.client.get("/api/jobs", headers=harness.headers())
            jobs = (await listed.get_json())["jobs"]
            if jobs:
                return jobs
            await asyncio.sleep(0.01)
