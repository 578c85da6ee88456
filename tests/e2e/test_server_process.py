"""End to end against a real `genflow serve` process (uvicorn), over real sockets.

What a user of the HTTP API would check: the SSE wire format, reconnecting with
`Last-Event-ID` / `?after=`, several followers of one job, and that a job survives the
server being SIGKILLed while it runs or while it waits for a review.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.client import GenFlowClient
from tests.e2e.server import GenFlowServer, SSEBlock, read_sse, write_script
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT

pytestmark = pytest.mark.timeout(90)

TERMINAL_EVENTS = {"job.completed", "job.failed", "job.cancelled"}
STREAM_TIMEOUT = 30.0  # an article takes ~3.5 s here; a stream that never ends fails

# First matching rule wins. The style prompt contains the draft, so it comes first.
# Section "Origins" is written fast and the other two slowly, so a crash can land
# after one batch item is checkpointed and before the node finishes.
SCRIPT: list[dict[str, Any]] = [
    {"answer": STYLED_TEXT, "match": "conversational", "delay": 0.2},
    {"answer": OUTLINE, "match": "outline", "delay": 0.6},
    {"answer": SECTION_TEXT, "match": "section 'Origins'", "delay": 0.2},
    {"answer": SECTION_TEXT, "match": "Write one paragraph", "delay": 2.0},
    {"answer": "An answer to the task.", "match": "Task:", "delay": 0.4},
]  # fmt: skip


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_script(tmp_path_factory.mktemp("script") / "llm.json", SCRIPT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, script: Path) -> Iterator[GenFlowServer]:
    """One server shared by the tests that do not kill it."""
    proc = GenFlowServer(data_dir=tmp_path_factory.mktemp("data"), script=script)
    try:
        yield proc.start()
    finally:
        proc.stop()


@pytest.fixture
def crashable(tmp_path: Path, script: Path) -> Iterator[GenFlowServer]:
    """A server of the test's own, on its own data dir; the test starts and kills it."""
    proc = GenFlowServer(data_dir=tmp_path / "data", script=script)
    try:
        yield proc
    finally:
        proc.kill()
        proc.stop()


# -- helpers -----------------------------------------------------------------------------


async def create_job(http: httpx.AsyncClient, flow: str, input_: dict[str, Any]) -> str:
    response = await http.post("/api/jobs", json={"flow": flow, "input": input_})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def get_job(http: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def wait_status(
    http: httpx.AsyncClient, job_id: str, *statuses: str, within: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        job = await get_job(http, job_id)
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job stayed {job['status']}, wanted {statuses}"
        await asyncio.sleep(0.05)


async def stored_events(http: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/api/jobs/{job_id}/events", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["events"]


def assert_contiguous(events: list[dict[str, Any]]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), f"seq not contiguous from 1: {seqs}"


def assert_one_terminal(events: list[dict[str, Any]], expected: str = "job.completed") -> None:
    terminal = [e["type"] for e in events if e["type"] in TERMINAL_EVENTS]
    assert terminal == [expected], f"terminal events: {terminal}"
    assert events[-1]["type"] == expected, "the terminal event must be the last one"


def nodes_of(events: list[dict[str, Any]], type_: str) -> list[str]:
    return [e["data"]["node"] for e in events if e["type"] == type_]


def assert_well_formed(block: SSEBlock, job_id: str) -> None:
    """`id:` (durable events only), one `event:`, `data:` holding the same event as JSON."""
    names = [line.split(":", 1)[0] for line in block.lines]
    assert set(names) <= {"id", "event", "data"}, f"unexpected SSE fields: {block.lines}"
    (type_,) = block.fields("event")
    data = block.data
    assert data["type"] == type_
    assert data["job_id"] == job_id
    assert {"seq", "job_id", "type", "ts", "progress", "data"} <= data.keys()
    if type_ == "llm.delta":  # live-only: no seq, so no id to resume from
        assert block.fields("id") == [] and data["seq"] is None
    else:
        (id_,) = block.fields("id")
        assert int(id_) == data["seq"], block.lines


# -- 1. the SSE wire format --------------------------------------------------------------


async def test_sse_stream_format_heartbeats_and_end(server: GenFlowServer) -> None:
    async with server.client() as http:
        job_id = await create_job(http, "article", {"topic": "coffee"})
        read = await asyncio.wait_for(read_sse(http, job_id), STREAM_TIMEOUT)
        # read_sse returned: the server ended the stream by itself after the terminal event

        assert read.status == 200
        assert read.headers["content-type"].startswith("text/event-stream")
        assert read.headers["cache-control"] == "no-cache"
        assert read.blocks[0].lines == ["retry: 2000"], read.blocks[0].lines
        assert sum(1 for b in read.blocks if b.fields("retry")) == 1, "retry is sent once"

        for block in read.events:
            assert_well_formed(block, job_id)
        durable = read.durable
        assert_contiguous(durable)
        assert durable[0]["type"] == "job.created"
        assert_one_terminal(durable)
        assert read.blocks[-1].fields("event") == ["job.completed"], "nothing after the end"
        assert read.pings >= 2, "`: ping` heartbeats while the model was busy"
        # a ping arrived between two events, i.e. while the client was waiting
        first_event = next(i for i, b in enumerate(read.blocks) if b.fields("event"))
        assert any(b.lines == [": ping"] for b in read.blocks[first_event:-1])

        job = await get_job(http, job_id)
        assert job["status"] == "completed"
        assert job["last_seq"] == len(durable)
        assert durable == await stored_events(http, job_id), "SSE and the stored list agree"


async def test_a_post_asking_for_the_stream_creates_the_job_and_follows_it(
    server: GenFlowServer,
) -> None:
    """`POST /api/jobs` with `Accept: text/event-stream`: one request starts the job and
    streams it, the same stream `GET .../events` gives, and the job is an ordinary one."""
    async with server.client() as http:
        body = {"flow": "article", "input": {"topic": "coffee"}}
        read = await asyncio.wait_for(read_sse(http, None, create=body), STREAM_TIMEOUT)

        assert read.status == 201
        assert read.headers["content-type"].startswith("text/event-stream")
        job_id = read.headers["location"].removeprefix("/api/jobs/")
        for block in read.events:
            assert_well_formed(block, job_id)
        durable = read.durable
        assert_contiguous(durable)
        assert durable[0]["type"] == "job.created"
        assert durable[0]["data"]["input"] == {"topic": "coffee"}
        assert_one_terminal(durable)
        article = durable[-1]["data"]["result"]["markdown"]
        assert "## " in article and "coffee" in article.lower()
        assert durable == await stored_events(http, job_id), "the stream and the stored list agree"
        assert (await get_job(http, job_id))["status"] == "completed"

        # the job's own stream, reconnected from the middle, goes on where it left off
        middle = durable[len(durable) // 2]["seq"]
        rest = await asyncio.wait_for(
            read_sse(http, job_id, headers={"Last-Event-ID": str(middle)}), STREAM_TIMEOUT
        )
        assert rest.durable == durable[middle:]


async def test_a_refused_post_asking_for_the_stream_answers_json(server: GenFlowServer) -> None:
    """A mistake is a JSON error saying what to fix, not a stream, and starts nothing."""
    async with server.client() as http:
        before = (await http.get("/api/jobs", params={"limit": 100})).json()["jobs"]
        response = await http.post(
            "/api/jobs",
            json={"flow": "article", "input": {}},
            headers={"Accept": "text/event-stream"},
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/json")
        (problem,) = response.json()["error"]["details"]
        assert problem["field"] == "input" and "'topic' is a required" in problem["message"]
        after = (await http.get("/api/jobs", params={"limit": 100})).json()["jobs"]
        assert after == before


# -- 2. reconnecting ---------------------------------------------------------------------


async def test_reconnect_with_last_event_id_and_after(server: GenFlowServer) -> None:
    k = 3
    async with server.client() as http:
        job_id = await create_job(http, "article", {"topic": "tea"})
        # a first connection that drops after k events, while the job is still running
        first = await asyncio.wait_for(read_sse(http, job_id, stop_after=k), STREAM_TIMEOUT)
        assert [e["seq"] for e in first.durable] == [1, 2, 3]
        assert (await get_job(http, job_id))["status"] == "running"

        live = await asyncio.wait_for(
            read_sse(http, job_id, headers={"Last-Event-ID": str(k)}), STREAM_TIMEOUT
        )
        stored = await stored_events(http, job_id)
        n = len(stored)
        assert_contiguous(stored)
        assert_one_terminal(stored)
        assert [e["seq"] for e in live.durable] == list(range(k + 1, n + 1))
        assert first.durable + live.durable == stored, "no gap and no duplicate"

        # after completion, both ways of resuming still replay (no "job not found")
        for how in ({"headers": {"Last-Event-ID": str(k)}}, {"params": {"after": k}}):
            replay = await asyncio.wait_for(read_sse(http, job_id, **how), STREAM_TIMEOUT)
            assert replay.status == 200, how
            assert replay.durable == stored[k:], how
            assert replay.blocks[0].lines == ["retry: 2000"]

        # a browser's EventSource cannot set headers: the token goes in the query string
        async with httpx.AsyncClient(base_url=server.base_url) as browser:
            replay = await asyncio.wait_for(
                read_sse(browser, job_id, params={"after": k, "access_token": server.token}),
                STREAM_TIMEOUT,
            )
            assert replay.durable == stored[k:]
            anonymous = await asyncio.wait_for(read_sse(browser, job_id), 5.0)
            assert anonymous.status == 401

        # resuming after the last event: an empty stream that ends at once (no hang)
        done = await asyncio.wait_for(
            read_sse(http, job_id, headers={"Last-Event-ID": str(n)}), 5.0
        )
        assert done.status == 200 and done.events == []


# -- 3. several followers ----------------------------------------------------------------


async def test_two_followers_get_the_same_full_sequence(server: GenFlowServer) -> None:
    async with server.client() as http, GenFlowClient(server.base_url, server.token) as api:
        job_id = await create_job(http, "article", {"topic": "chocolate"})
        first_tab = asyncio.create_task(read_sse(http, job_id))

        async def second_tab() -> list[dict[str, Any]]:
            await asyncio.sleep(0.8)  # opened a little later, mid-job
            return [e async for e in api.follow(job_id) if e["seq"] is not None]

        raw, followed = await asyncio.wait_for(
            asyncio.gather(first_tab, second_tab()), STREAM_TIMEOUT
        )
        stored = await stored_events(http, job_id)
        assert_contiguous(stored)
        assert_one_terminal(stored)
        assert raw.durable == stored
        assert followed == stored
        assert (await get_job(http, job_id))["status"] == "completed"


# -- 4. crash while running --------------------------------------------------------------


@pytest.mark.parametrize("one_request", [False, True], ids=["create-then-follow", "start"])
async def test_sigkill_while_running_resumes_from_checkpoint(
    crashable: GenFlowServer, one_request: bool
) -> None:
    """Followed with `follow` after `create_job`, or started and followed in one request
    (`start`): either way the client sees every durable event once, across the crash."""
    await crashable.start_async()
    async with GenFlowClient(crashable.base_url, crashable.token) as api:
        if one_request:
            stream = api.start("article", {"topic": "coffee"}, reconnect_delay=0.2)
        else:
            created = await api.create_job("article", {"topic": "coffee"})
            stream = api.follow(created["id"], reconnect_delay=0.2)
        seen: list[dict[str, Any]] = []

        async def follow_across_the_crash() -> None:
            async for event in stream:
                seen.append(event)

        follower = asyncio.create_task(follow_across_the_crash())
        try:
            deadline = time.monotonic() + 15
            while not any(
                e["type"] == "node.progress" and e["data"].get("section") == "Origins" for e in seen
            ):
                assert not follower.done(), "the follower ended before the crash point"
                assert time.monotonic() < deadline, f"no section written: {seen}"
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.4)  # let the finished batch item be checkpointed
            job_id = seen[0]["job_id"]
            assert (await api.job(job_id))["status"] == "running"
            crashable.kill()
            assert crashable.proc.returncode == -signal.SIGKILL  # type: ignore[union-attr]

            await crashable.start_async()  # same data dir, same port
            await asyncio.wait_for(follower, STREAM_TIMEOUT)
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower

        job = await api.job(job_id)
        assert job["status"] == "completed", job
        assert job["result"]["markdown"].startswith("# Coffee, a history")
        stored = await api.events(job_id)

    assert_contiguous(stored)
    assert_one_terminal(stored)
    # the follower spanned the crash and saw every durable event exactly once
    assert [e for e in seen if e["seq"] is not None] == stored

    started = [e for e in stored if e["type"] == "job.started"]
    assert [e["data"]["attempt"] for e in started] == [1, 2], started
    restart = stored.index(started[1])
    before, after = stored[:restart], stored[restart:]
    finished_before = set(nodes_of(before, "node.finished"))
    assert "GenerateOutline" in finished_before, "the crash came after a node finished"
    assert "ApplyStyle" not in finished_before, "the crash came before the job finished"
    rerun = finished_before & set(nodes_of(after, "node.started"))
    assert not rerun, f"checkpointed nodes ran again after the restart: {rerun}"
    assert nodes_of(after, "node.started")[0] == "WriteContent", "resumed where it stopped"
    # the section written before the crash was checkpointed: only the others are rewritten
    sections_after = [e["data"].get("section") for e in after if e["type"] == "node.progress"]
    assert "Origins" not in sections_after
    assert {"Coffeehouses", "Today"} <= set(sections_after)
    assert Counter(nodes_of(stored, "node.finished")) == {
        "GenerateOutline": 1,
        "WriteContent": 1,
        "ApplyStyle": 1,
        "Finish": 1,
    }


# -- 5. crash while waiting for a review -------------------------------------------------


async def test_sigkill_while_waiting_for_review(crashable: GenFlowServer) -> None:
    await crashable.start_async()
    async with crashable.client() as http:
        job_id = await create_job(http, "review", {"task": "Name three coffee drinks"})
        parked = await wait_status(http, job_id, "waiting_for_review")
        review_id = parked["review"]["id"]
        assert parked["review"]["options"] == ["approve", "reject", "edit"]

    crashable.kill()
    await crashable.start_async()

    api = GenFlowClient(crashable.base_url, crashable.token)
    async with crashable.client() as http, api:
        job = await get_job(http, job_id)
        assert job["status"] == "waiting_for_review"
        assert job["review"]["id"] == review_id
        assert job["review"] == parked["review"]
        health = (await http.get("/api/health")).json()
        assert health["queue"]["active_jobs"] == 0, "a waiting job holds no task"

        response = await http.post(
            f"/api/jobs/{job_id}/review", json={"review_id": review_id, "decision": "approve"}
        )
        assert response.status_code == 200, response.text
        events = await asyncio.wait_for(_collect(api.follow(job_id)), STREAM_TIMEOUT)
        job = await get_job(http, job_id)
        stored = await stored_events(http, job_id)

    assert job["status"] == "completed", job
    assert job["result"] == {"output": "An answer to the task.", "attempts": 1}
    assert [e for e in events if e["seq"] is not None] == stored
    assert_contiguous(stored)
    assert_one_terminal(stored)
    types = [e["type"] for e in stored]
    assert types.count("review.requested") == 1
    decided = [e for e in stored if e["type"] == "review.decided"]
    assert len(decided) == 1
    assert decided[0]["data"]["review_id"] == review_id
    assert decided[0]["data"]["decision"] == "approve"
    assert nodes_of(stored, "node.started").count("Process") == 1, "Process did not re-run"


async def _collect(events: Any) -> list[dict[str, Any]]:
    return [e async for e in events]


# -- 6. a decision sent twice ------------------------------------------------------------


def loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


async def test_the_server_runs_on_uvloop_unless_told_otherwise(
    server: GenFlowServer, tmp_path: Path, script: Path
) -> None:
    assert server.proc is not None
    assert "uvloop/loop." in loaded_libraries(server.proc.pid)  # the default: auto
    plain = GenFlowServer(
        data_dir=tmp_path / "data", script=script, extra_env={"GENFLOW_EVENT_LOOP": "asyncio"}
    )
    try:
        await plain.start_async()
        assert plain.proc is not None
        assert "uvloop/loop." not in loaded_libraries(plain.proc.pid)
        async with plain.client() as http:
            job_id = await create_job(http, "article", {"topic": "tea"})
            read = await asyncio.wait_for(read_sse(http, job_id), STREAM_TIMEOUT)
        assert read.durable[-1]["type"] == "job.completed"
    finally:
        plain.stop()


async def test_second_decision_gets_409_with_the_winner(server: GenFlowServer) -> None:
    async with server.client() as http:
        job_id = await create_job(http, "review", {"task": "Name a tea"})
        review_id = (await wait_status(http, job_id, "waiting_for_review"))["review"]["id"]
        url = f"/api/jobs/{job_id}/review"

        # two people click at the same moment: exactly one wins
        a, b = await asyncio.gather(
            http.post(url, json={"review_id": review_id, "decision": "approve"}),
            http.post(url, json={"review_id": review_id, "decision": "reject", "comment": "no"}),
        )
        assert sorted([a.status_code, b.status_code]) == [200, 409], (a.text, b.text)
        won, lost = (a, b) if a.status_code == 200 else (b, a)
        winner = "approve" if won is a else "reject"
        error = lost.json()["error"]
        assert error["code"] == "conflict"
        assert error["details"]["decision"] == winner
        assert error["details"]["via"] == "api"

        # the same decision sent again later (a double click, a retry): 409, same winner
        again = await http.post(url, json={"review_id": review_id, "decision": "approve"})
        assert again.status_code == 409
        assert again.json()["error"]["details"]["decision"] == winner

        if winner == "reject":  # the task is redone and asked again; approve that one
            job = await wait_status(http, job_id, "waiting_for_review")
            assert job["review"]["id"] != review_id
            stale = await http.post(url, json={"review_id": review_id, "decision": "approve"})
            assert stale.status_code == 409
            second = {"review_id": job["review"]["id"], "decision": "approve"}
            ok = await http.post(url, json=second)
            assert ok.status_code == 200, ok.text
        job = await wait_status(http, job_id, "completed", "failed", "cancelled")
        assert job["status"] == "completed"
        stored = await stored_events(http, job_id)

    assert_contiguous(stored)
    assert_one_terminal(stored)
    decided = [e["data"] for e in stored if e["type"] == "review.decided"]
    assert [d["decision"] for d in decided if d["review_id"] == review_id] == [winner]
