"""Model failures: timeouts, 429s and 5xx from the model server, and the server vanishing.

A real `genflow serve` with the `openai` backend talks to the fake OpenAI server (a
subprocess scripted over POST /_fake/control). Transient failures are retried - by the
SDK with exponential backoff (honouring Retry-After), then by the node's own
`max_retries` - and the job goes on; a permanent failure ends the job with `job.failed`
and a message a person can act on; nothing is left running.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.server import ROOT, GenFlowServer, free_port, write_script
from tests.reliability.invariants import UNLIMITED, assert_sound

pytestmark = pytest.mark.timeout(120)

TIMEOUT = 0.5  # GENFLOW_LLM_TIMEOUT: seconds a model call may take


class FakeModel:
    """`python -m tests.fakes.openai_server` on a fixed port, so it can die and come back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and int(self.proc.stdout.readline()) == self.port

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def control(self, **body: Any) -> None:
        httpx.post(f"{self.url}/_fake/control", json={"reset": True, **body}).raise_for_status()

    def prompts(self) -> list[str]:
        requests = httpx.get(f"{self.url}/_fake/requests").json()["requests"]
        return [r["body"]["messages"][-1]["content"] for r in requests if r["body"]]


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModel]:
    fake = FakeModel()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model: FakeModel) -> Iterator[GenFlowServer]:
    tmp = tmp_path_factory.mktemp("model-failures")
    env = {
        **UNLIMITED,
        "GENFLOW_LLM": "openai",
        "OPENAI_BASE_URL": f"{model.url}/v1",
        "OPENAI_API_KEY": "test",
        "GENFLOW_LLM_TIMEOUT": str(TIMEOUT),
    }
    proc = GenFlowServer(
        data_dir=tmp / "data", script=write_script(tmp / "unused.json", []), extra_env=env
    )
    try:
        yield proc.start()
    finally:
        proc.stop()


async def run_task(server: GenFlowServer, task: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A `review` job: returns it when it waits for review (its model call worked, then it
    is approved and finishes) or when it failed; with its events."""
    async with server.client(timeout=10) as http:
        job_id = (
            await http.post("/api/jobs", json={"flow": "review", "input": {"task": task}})
        ).json()["id"]
        deadline = time.monotonic() + 60
        while (job := (await http.get(f"/api/jobs/{job_id}")).json())["status"] in (
            "pending",
            "running",
        ):
            assert time.monotonic() < deadline, "the job kept running"
            await asyncio.sleep(0.1)
        if job["status"] == "waiting_for_review":
            decision = {"review_id": job["review"]["id"], "decision": "approve"}
            assert (await http.post(f"/api/jobs/{job_id}/review", json=decision)).status_code == 200
            while (job := (await http.get(f"/api/jobs/{job_id}")).json())["status"] == "running":
                await asyncio.sleep(0.05)
        events = (
            await http.get(f"/api/jobs/{job_id}/events", headers={"Accept": "application/json"})
        ).json()["events"]
        health = (await http.get("/api/health")).json()
    assert health["queue"]["active_jobs"] == 0, "nothing stays running"
    assert_sound(events)
    return job, events


def retries(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["error"] for e in events if e["type"] == "node.retry"]


async def test_429s_and_5xx_are_retried_and_the_job_goes_on(
    server: GenFlowServer, model: FakeModel
) -> None:
    model.control(fail=[[429, 2], [503, 1]])
    job, events = await run_task(server, "transient errors")
    assert job["status"] == "completed", job
    assert model.prompts().count("Task: transient errors") == 4, "3 failures, then the answer"
    assert retries(events) == [], "the SDK's own retries absorbed them"


async def test_a_timeout_is_retried(server: GenFlowServer, model: FakeModel) -> None:
    model.control(stall=[[5 * TIMEOUT, 1]])
    job, _ = await run_task(server, "one slow answer")
    assert job["status"] == "completed", job
    assert model.prompts().count("Task: one slow answer") == 2


async def test_a_failure_that_outlasts_the_sdk_is_retried_by_the_node(
    server: GenFlowServer, model: FakeModel
) -> None:
    model.control(fail=[[500, 5]])  # the SDK gives up after 5 tries; the node tries again
    job, events = await run_task(server, "retry the node")
    assert job["status"] == "completed", job
    assert retries(events) == ["LLMError: the model server answered 500: injected failure"]


async def test_a_permanent_5xx_fails_the_job_with_a_clear_message(
    server: GenFlowServer, model: FakeModel
) -> None:
    model.control(fail=[[500, 100]])
    job, events = await run_task(server, "always 500")
    assert job["status"] == "failed"
    assert job["error"] == {
        "type": "LLMError",
        "message": "the model server answered 500: injected failure",
    }
    assert events[-1]["type"] == "job.failed" and len(retries(events)) == 1


async def test_a_rejected_key_fails_without_hammering_the_server(
    server: GenFlowServer, model: FakeModel
) -> None:
    model.control(fail=[[401, 100]])
    job, _ = await run_task(server, "bad key")
    assert job["status"] == "failed"
    assert "rejected the API key" in job["error"]["message"]
    assert model.prompts().count("Task: bad key") == 2, "no SDK retries on 401: one per node try"


async def test_a_model_that_never_answers_fails_the_job(
    server: GenFlowServer, model: FakeModel
) -> None:
    model.control(stall=[[60.0, 100]])
    job, _ = await run_task(server, "never answered")
    model.control()
    assert job["status"] == "failed"
    assert job["error"]["message"] == "the model server timed out (after retries)"


async def test_a_model_that_trickles_forever_fails_the_job_at_the_timeout(
    server: GenFlowServer, model: FakeModel
) -> None:
    """A token every 0.1 s never trips the SDK's per-read timeout; GENFLOW_LLM_TIMEOUT
    bounds the whole answer."""
    model.control(trickle=0.1)
    job, _ = await run_task(server, "never finished")
    tries = model.prompts().count("Task: never finished")
    model.control()
    assert job["status"] == "failed"
    assert job["error"] == {
        "type": "LLMError",
        "message": f"the model server did not finish its answer within {TIMEOUT:g} s "
        "(GENFLOW_LLM_TIMEOUT)",
    }
    assert tries == 2, "one cut-off call per node try (no SDK retry once a stream runs)"


async def test_a_vanished_model_server_fails_the_job(
    server: GenFlowServer, model: FakeModel
) -> None:
    model.stop()
    try:
        job, _ = await run_task(server, "nobody home")
    finally:
        model.start()
    assert job["status"] == "failed"
    assert job["error"]["message"].startswith("cannot reach the model server")
    model.control()
    again, _ = await run_task(server, "back again")
    assert again["status"] == "completed", "the server recovers with the model"
