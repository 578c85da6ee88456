"""GenFlow scaled out: API replicas and workers as real processes on PostgreSQL and Redis.

Every test here is what an operator of a scaled deployment relies on: a follower on any
replica sees every event once, a review has one winner, a crashed, paused or cancelled
worker never leaves a job stuck or writes after it lost the job, and an outage of
Redis or PostgreSQL delays jobs without failing or duplicating anything.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import websockets

from tests.e2e.server import GenFlowServer, read_sse
from tests.fakes.openai_server import FakeOpenAIProcess
from tests.scaleout.cluster import Cluster, client, token
from tests.services import PrivatePostgres, PrivateRedis

TERMINAL = {"job.completed", "job.failed", "job.cancelled"}
pytestmark = pytest.mark.timeout(240)


async def create(http: httpx.AsyncClient, flow: str, input_: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/api/jobs", json={"flow": flow, "input": input_})
    assert response.status_code == 201, response.text
    return response.json()


async def events(http: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/api/jobs/{job_id}/events", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()["events"]


async def wait_for(
    http: httpx.AsyncClient, job_id: str, condition: Any, *, within: float, what: str
) -> list[dict[str, Any]]:
    """Poll the job's stored events until `condition(events)` holds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            stored = await events(http, job_id)
            if condition(stored):
                return stored
        except (httpx.TransportError, AssertionError):
            stored = []  # a replica may answer 503 while the database restarts
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never saw {what}; events: {[e['type'] for e in stored]}")
        await asyncio.sleep(0.1)


def types(stored: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in stored]


def started(node: str):
    return lambda stored: any(
        e["type"] == "node.started" and e["data"]["node"] == node for e in stored
    )


def ended(stored: list[dict[str, Any]]) -> bool:
    return bool(stored) and stored[-1]["type"] in TERMINAL


def assert_one_clean_history(stored: list[dict[str, Any]], end: str = "job.completed") -> None:
    """Contiguous seq from 1, one terminal event (the last), every node finished once."""
    assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
    assert [t for t in types(stored) if t in TERMINAL] == [end]
    assert stored[-1]["type"] == end
    finished = Counter(e["data"]["node"] for e in stored if e["type"] == "node.finished")
    assert all(count == 1 for count in finished.values()), finished


async def test_a_job_made_on_one_replica_streams_live_on_another(
    cluster: Cluster, model: FakeOpenAIProcess
) -> None:
    a, b = cluster.add_replica(), cluster.add_replica()
    cluster.add_worker()
    cluster.add_worker()
    model.control(chunk_delay=0.03)  # streamed text arrives in pieces
    async with client(a) as on_a, client(b) as on_b:
        job = await create(on_a, "article", {"topic": "The history of coffee"})
        read = await asyncio.wait_for(read_sse(on_b, job["id"]), 60)
        assert read.status == 200
        stored = await events(on_a, job["id"])
        assert read.durable == stored, "B streamed exactly what is stored, once each"
        assert_one_clean_history(stored)
        deltas = [b.data for b in read.events if b.fields("event") == ["llm.delta"]]
        assert deltas, "llm.delta crossed from the worker to replica B live"
        assert "coffee" in "".join(d["data"]["text"] for d in deltas).lower()
        artifact = next(e["data"] for e in stored if e["type"] == "artifact.created")
        article = await on_b.get(artifact["url"])  # stored by the worker, served by B
        assert article.status_code == 200 and "friendly history" in article.text

        middle = len(stored) // 2
        again = await asyncio.wait_for(
            read_sse(on_a, job["id"], headers={"Last-Event-ID": str(middle)}), 30
        )
        assert [e["seq"] for e in again.durable] == list(range(middle + 1, len(stored) + 1))


async def test_a_review_is_decided_once_whichever_replica_people_use(cluster: Cluster) -> None:
    a, b = cluster.add_replica(), cluster.add_replica()
    cluster.add_worker()
    cluster.add_worker()
    async with client(a) as on_a, client(b) as on_b:
        job = await create(on_b, "review", {"task": "Write a haiku about tea"})
        follower = asyncio.create_task(read_sse(on_a, job["id"]))
        stored = await wait_for(
            on_b,
            job["id"],
            lambda s: "review.requested" in types(s),
            within=30,
            what="the review opening",
        )
        review_id = stored[-1]["data"]["id"]
        decisions = await asyncio.gather(
            *(
                (on_a if i % 2 else on_b).post(
                    f"/api/jobs/{job['id']}/review",
                    json={"review_id": review_id, "decision": "approve", "comment": f"#{i}"},
                )
                for i in range(50)
            )
        )
        codes = Counter(r.status_code for r in decisions)
        assert codes == {200: 1, 409: 49}, codes
        winner = next(i for i, r in enumerate(decisions) if r.status_code == 200)
        loser = next(r for r in decisions if r.status_code == 409).json()
        assert loser["error"]["details"]["comment"] == f"#{winner}", "409 names the winner"
        read = await asyncio.wait_for(follower, 60)
        decided = [e for e in read.durable if e["type"] == "review.decided"]
        assert [d["data"]["comment"] for d in decided] == [f"#{winner}"]
        assert_one_clean_history(read.durable)


async def model_reached(model: FakeOpenAIProcess, count: int, *, within: float) -> None:
    """Until the fake model has received `count` chat requests."""
    deadline = asyncio.get_running_loop().time() + within
    while await asyncio.to_thread(model.chat_requests) < count:
        assert asyncio.get_running_loop().time() < deadline, "the model was never asked"
        await asyncio.sleep(0.05)


async def test_a_worker_killed_mid_node_is_replaced_and_finished_nodes_never_rerun(
    cluster: Cluster, model: FakeOpenAIProcess
) -> None:
    a = cluster.add_replica()
    doomed = cluster.add_worker()
    # The outline answers at once; the three sections hang on the doomed worker.
    model.control(stall=[[0.01, 1], [120, 3]])
    async with client(a) as http:
        job = await create(http, "article", {"topic": "The history of coffee"})
        await wait_for(http, job["id"], started("WriteContent"), within=30, what="sections")
        # All three sections must be asking (and hanging) before the kill, or the new
        # worker's own request would be one of the three that hang.
        await model_reached(model, 4, within=30)
        doomed.kill()
        cluster.add_worker()
        stored = await wait_for(http, job["id"], ended, within=60, what="the end")
    assert_one_clean_history(stored)
    outline_runs = [e for e in stored if e["type"] == "node.started" and e["data"]["node"]
                    == "GenerateOutline"]  # fmt: skip
    assert len(outline_runs) == 1, "the finished outline was not written again"
    assert [e["data"]["attempt"] for e in stored if e["type"] == "job.started"] == [1, 2]


async def test_a_paused_worker_that_lost_its_lease_writes_nothing(
    cluster: Cluster, model: FakeOpenAIProcess
) -> None:
    a = cluster.add_replica()
    paused = cluster.add_worker()
    model.control(stall=[[0.01, 1], [5, 3]])  # sections take 5 s on the first worker
    async with client(a) as http:
        job = await create(http, "article", {"topic": "The history of coffee"})
        await wait_for(http, job["id"], started("WriteContent"), within=30, what="sections")
        paused.signal(signal.SIGSTOP)
        cluster.add_worker()
        done = await wait_for(http, job["id"], ended, within=60, what="the take-over")
        paused.signal(signal.SIGCONT)
        await paused.wait_for_log(f"job {job['id']}: stopped", within=30)
        after = await events(http, job["id"])
    assert after == done, "the stale worker wrote after another took its job over"
    assert_one_clean_history(after)
    assert [e["data"]["attempt"] for e in after if e["type"] == "job.started"] == [1, 2]


async def test_cancel_on_any_replica_stops_the_model_call_on_the_worker(
    cluster: Cluster, model: FakeOpenAIProcess
) -> None:
    a, b = cluster.add_replica(), cluster.add_replica()
    workers = [cluster.add_worker(), cluster.add_worker()]
    model.control(stall=[[60, 1]])  # the outline call hangs until cancelled
    async with client(a) as on_a, client(b) as on_b:
        job = await create(on_a, "article", {"topic": "The history of coffee"})
        await wait_for(on_a, job["id"], started("GenerateOutline"), within=30, what="outline")
        while model.chat_requests() < 1:  # the call is in flight on a worker
            await asyncio.sleep(0.05)
        response = await on_b.post(f"/api/jobs/{job['id']}/cancel")
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        stopped = [
            asyncio.create_task(w.wait_for_log(f"job {job['id']}: stopped", within=2.0))
            for w in workers
        ]
        done, pending = await asyncio.wait(stopped, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        assert any(task.exception() is None for task in done), "no worker stopped within 2 s"
        stored = await events(on_b, job["id"])
    assert stored[-1]["type"] == "job.cancelled"
    assert_one_clean_history(stored, end="job.cancelled")


async def test_followers_get_every_event_when_redis_drops_its_subscribers(
    cluster: Cluster, model: FakeOpenAIProcess, private_redis: PrivateRedis
) -> None:
    cluster.redis_url = redis_url = private_redis.url  # its clients alone are killed
    a, b = cluster.add_replica(), cluster.add_replica()
    cluster.add_worker()
    model.control(chunk_delay=0.05, latency=0.3)  # a job of a few seconds
    async with client(a) as on_a, client(b) as on_b:
        job = await create(on_a, "article", {"topic": "The history of coffee"})
        follower = asyncio.create_task(read_sse(on_b, job["id"]))
        await wait_for(on_a, job["id"], started("WriteContent"), within=30, what="sections")
        admin = aioredis.Redis.from_url(redis_url)
        killed = await admin.client_kill_filter(_type="pubsub")
        await admin.aclose()
        assert killed >= 1
        read = await asyncio.wait_for(follower, 60)
        assert read.durable == await events(on_a, job["id"])
    assert_one_clean_history(read.durable)


async def test_jobs_survive_a_postgresql_restart_without_failing_or_duplicating(
    cluster: Cluster, model: FakeOpenAIProcess, private_postgres: PrivatePostgres
) -> None:
    cluster.move_to(private_postgres.url)  # its own database: restarted under it alone
    a = cluster.add_replica()
    cluster.add_worker()
    cluster.add_worker()
    model.control(latency=0.5)
    async with client(a) as http:
        jobs = [await create(http, "article", {"topic": f"Coffee {i}"}) for i in range(4)]
        await wait_for(http, jobs[0]["id"], started("WriteContent"), within=30, what="work")
        private_postgres.restart()
        for job in jobs:
            stored = await wait_for(http, job["id"], ended, within=120, what="the end")
            assert_one_clean_history(stored)


async def test_the_rate_limit_holds_across_replicas(cluster: Cluster) -> None:
    limit = {"GENFLOW_RATE_LIMIT_BURST": "5", "GENFLOW_RATE_LIMIT_PER_MINUTE": "0.01"}
    replicas: list[GenFlowServer] = [cluster.add_replica(**limit), cluster.add_replica(**limit)]
    headers = {"Authorization": f"Bearer {token('alice', admin=False)}"}
    async with httpx.AsyncClient(headers=headers, timeout=10.0) as http:
        responses = [
            await http.post(
                f"{replicas[i % 2].base_url}/api/jobs",
                json={"flow": "review", "input": {"task": f"task {i}"}},
            )
            for i in range(10)
        ]
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 5, 429: 5}, codes
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1


async def test_a_sessions_frames_reach_a_socket_on_another_replica(cluster: Cluster) -> None:
    """The worker that runs a session's action folds its result; replica B's socket,
    rung through Redis, sends the frames that replica A's actions and the worker made."""
    a, b = cluster.add_replica(), cluster.add_replica()
    cluster.add_worker()
    realtime = b.base_url.replace("http://", "ws://")
    async with client(a) as on_a:
        made = await on_a.post(
            "/api/genflow/sessions", json={"articleId": "a1", "context": {"category": "coffee"}}
        )
        assert made.status_code == 201, made.text
        sid = made.json()["sessionId"]
        async with websockets.connect(f"{realtime}/api/genflow/sessions/{sid}/realtime") as ws:
            await ws.send(json.dumps({"type": "auth", "token": f"Bearer {token()}"}))

            async def next_frame(kind: str) -> dict[str, Any]:
                async with asyncio.timeout(60):
                    while True:
                        frame = json.loads(await ws.recv())
                        if frame["type"] == kind:
                            return frame

            assert (await next_frame("session.state"))["data"]["sessionId"] == sid
            started = await on_a.post(
                f"/api/genflow/sessions/{sid}/actions",
                json={"action": "discover_topics", "parameters": {"count": 2}},
            )
            assert started.status_code == 202, started.text
            topics = (await next_frame("topics.discovered"))["data"]["topics"]
            assert len(topics) == 2
            chosen = await on_a.post(
                f"/api/genflow/sessions/{sid}/actions",
                json={"action": "select_topic", "parameters": {"topicId": topics[0]["id"]}},
            )
            assert chosen.status_code == 200, chosen.text
            changed = await next_frame("stage.change")
            assert changed["data"]["to"] == "research"
            assert changed["metadata"]["eventId"] > 1
