"""A pilot workflow against a real server process: generated, run, paused at its review,
SIGKILLed while it waits, resumed by a decision after the restart, followed over SSE.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.pilot.library import TEMPLATES
from tests.e2e.server import ROOT, GenFlowServer, read_sse, write_script
from tests.fakes.workflow_answers import INTENT, TEA, TEA_RULES

pytestmark = pytest.mark.timeout(120)

DRAFT, SCRIPT = TEA, TEA_RULES


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GenFlowServer]:
    proc = GenFlowServer(data_dir=tmp_path / "data", script=write_script(tmp_path / "s", SCRIPT))
    try:
        yield proc.start()
    finally:
        proc.kill()
        proc.stop()


async def test_a_generated_workflow_waits_for_review_through_a_crash(
    server: GenFlowServer,
) -> None:
    async with server.client() as http:
        made = await http.post(
            "/api/workflows/generate", json={"prompt": "An article about tea, approved by me"}
        )
        assert made.status_code == 201, made.text
        workflow = made.json()
        assert workflow["source"] == "model" and workflow["validation"]["valid"]

        started = await http.post(
            f"/api/workflows/{workflow['workflow_id']}/execute",
            json={"input_data": {"topic": "tea"}},
        )
        assert started.status_code == 201, started.text
        job_id = started.json()["id"]
        deadline = asyncio.get_running_loop().time() + 30
        while (job := (await http.get(f"/api/jobs/{job_id}")).json())["status"] != (
            "waiting_for_review"
        ):
            assert asyncio.get_running_loop().time() < deadline, job
            await asyncio.sleep(0.05)
        assert job["review"]["payload"]["show"] == DRAFT

    server.kill()  # waiting for a person: nothing in memory holds the job
    await server.start_async()

    async with server.client() as http:
        job = (await http.get(f"/api/jobs/{job_id}")).json()
        assert job["status"] == "waiting_for_review"
        decided = await http.post(
            f"/api/jobs/{job_id}/review",
            json={"review_id": job["review"]["id"], "decision": "approve"},
        )
        assert decided.status_code == 200, decided.text
        stream = await asyncio.wait_for(read_sse(http, job_id), 30)
        events = stream.durable
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[-1]["type"] == "job.completed"
        assert events[-1]["data"]["result"]["output"] == DRAFT
        nodes = [e["data"]["node"] for e in events if e["type"] == "node.finished"]
        assert nodes == ["start", "draft", "edit", "article"]

        runs = (await http.get(f"/api/workflows/{workflow['workflow_id']}/executions")).json()
        logged = runs["executions"][0]["nodes"]
        assert [(r["node"], r["status"]) for r in logged] == [
            ("start", "completed"),
            ("draft", "completed"),
            ("edit", "completed"),
            ("article", "completed"),
        ]


def test_generate_and_run_at_the_terminal(server: GenFlowServer) -> None:
    """`genflow workflow generate` shows what will run and what it costs; `run` runs it and
    answers its review at the prompt."""
    env = server.env() | {"GENFLOW_API_URL": server.base_url}

    def genflow(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "backend.cli", "workflow", *args],
            cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    made = genflow("generate", "An article about tea, approved by me", "--mermaid")
    assert made.returncode == 0, made.stderr
    assert "Article with approval" in made.stdout
    assert "- draft (llm)" in made.stdout and "- edit (review)" in made.stdout
    assert "estimated cost $" in made.stdout and "flowchart TD" in made.stdout
    workflow_id = made.stdout.split()[1].rstrip(":")

    ran = genflow("run", workflow_id, "topic=tea", stdin="approve\n")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.rstrip().endswith(DRAFT)

    refused = genflow("run", workflow_id, "subject=tea")
    assert refused.returncode == 1
    assert "input_data" in refused.stderr

    terms = ["--reviewer", "bob", "--reviewer", "slack:T1:U2", "--review-timeout", "3600"]
    assigned = genflow("run", workflow_id, "topic=tea", *terms, "--on-timeout", "approve",
                       stdin="approve\n")  # fmt: skip
    assert assigned.returncode == 0, assigned.stderr
    job_id = assigned.stderr.split("job ", 1)[1].split()[0]
    with httpx.Client(base_url=server.base_url, headers=server.headers) as http:
        job = http.get(f"/api/jobs/{job_id}").json()
    assert (job["reviewers"], job["review_timeout"], job["on_timeout"]) == (
        ["bob", "slack:T1:U2"],
        3600,
        "approve",
    )
    unnamed = genflow("run", workflow_id, "topic=tea", "--reviewer", "bob smith")
    assert unnamed.returncode == 1
    assert "body.reviewers.0: use a principal's name" in unnamed.stderr


GOOD = TEMPLATES["summarize_text"].spec({"name": "Notes summary"})
BROKEN = {
    **GOOD,
    "nodes": [*GOOD["nodes"][:2], {**GOOD["nodes"][2], "config": {"value": "{{summary.txt}}"}}],
}
DRAFTS = {
    "model": [GOOD],
    "repaired": [BROKEN, GOOD],
    "template": [BROKEN, BROKEN, BROKEN, BROKEN],
}


@pytest.mark.parametrize("source", sorted(DRAFTS))
async def test_every_kind_of_generated_workflow_runs_over_sse(tmp_path: Path, source: str) -> None:
    """Whatever the model drafts, the stored workflow validates and runs to its output."""
    drafts = DRAFTS[source]
    intent = {**INTENT, "goal": "Summarise meeting notes", "name": "Notes summary", "needs": []}
    rules: list[dict[str, Any]] = [{"answer": intent, "match": "Analyse this request"}]
    rules += [{"answer": d, "match": "That workflow is invalid", "times": 1} for d in drafts[1:]]
    rules += [
        {"answer": drafts[0], "match": "Write a workflow for this request", "times": 1},
        {"answer": "- met\n- agreed\n- left", "match": "three bullet points"},
    ]
    proc = GenFlowServer(data_dir=tmp_path / "data", script=write_script(tmp_path / "s", rules))
    try:
        proc.start()
        async with proc.client() as http:
            made = await http.post(
                "/api/workflows/generate", json={"prompt": "Summarise my meeting notes"}
            )
            assert made.status_code == 201, made.text
            assert made.json()["source"] == source
            assert made.json()["validation"]["valid"]
            started = await http.post(
                f"/api/workflows/{made.json()['workflow_id']}/execute",
                json={"input_data": {"text": "We met. We agreed. We left."}},
            )
            assert started.status_code == 201, started.text
            stream = await asyncio.wait_for(read_sse(http, started.json()["id"]), 30)
            last = stream.durable[-1]
            assert last["type"] == "job.completed", last
            assert last["data"]["result"]["output"] == "- met\n- agreed\n- left"
    finally:
        proc.stop()
