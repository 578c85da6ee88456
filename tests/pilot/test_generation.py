"""Generating a workflow from a request: a valid draft, a repaired one, a template fallback.

Whatever the model does, the stored workflow validates and runs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from flows.pilot.library import TEMPLATES
from flows.providers.scripted_llm import Reply, ScriptedLLM
from tests.harness import Harness, running_app

REQUEST = "Summarise meeting notes into three bullet points"
INTENT = {
    "goal": "Summarise meeting notes",
    "name": "Meeting summary",
    "inputs": ["notes"],
    "outputs": ["summary"],
    "entities": ["meeting"],
    "needs": [],
}
GOOD = TEMPLATES["summarize_text"].spec({"name": "Meeting summary", "goal": REQUEST})
BROKEN = copy.deepcopy(GOOD)
BROKEN["nodes"][2]["config"]["value"] = "{{summary.txt}}"  # no such field


def model(*drafts: Any) -> ScriptedLLM:
    replies = [Reply(INTENT, match="Analyse this request")]
    for draft in drafts[1:]:  # repairs answer prompts that quote the last errors
        replies.append(Reply(draft, match="That workflow is invalid", times=1))
    replies.append(Reply(drafts[0], match="Write a workflow for this request", times=1))
    replies.append(Reply("- one\n- two\n- three", match="Summarise in three bullet points"))
    return ScriptedLLM(replies)


async def generate(h: Harness, prompt: str = REQUEST) -> dict[str, Any]:
    response = await h.client.post(
        "/api/workflows/generate", json={"prompt": prompt}, headers=h.headers()
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await response.get_json()


async def run(h: Harness, workflow_id: str, input_data: dict[str, Any]) -> dict[str, Any]:
    response = await h.client.post(
        f"/api/workflows/{workflow_id}/execute",
        json={"input_data": input_data},
        headers=h.headers(),
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    return await h.wait_for((await response.get_json())["id"])


async def test_a_valid_first_draft_is_stored_as_the_models(tmp_path: Path) -> None:
    async with running_app(tmp_path, model(GOOD)) as h:
        made = await generate(h)
        assert made["source"] == "model"
        assert made["validation"]["valid"] and made["validation"]["errors"] == []
        workflow = made["workflow"]
        assert [n["id"] for n in workflow["nodes"]] == ["start", "summary", "result"]
        assert workflow["execution_time"] > 0 and workflow["estimated_cost"] >= 0
        assert workflow["estimate"]["critical_path"] == ["start", "summary", "result"]
        assert made["generation"]["intent"]["name"] == "Meeting summary"
        done = await run(h, made["workflow_id"], {"text": "We met. We agreed. We left."})
        assert done["status"] == "completed"
        assert done["result"]["output"] == "- one\n- two\n- three"


async def test_an_invalid_draft_is_repaired_from_its_errors(tmp_path: Path) -> None:
    llm = model(BROKEN, GOOD)
    async with running_app(tmp_path, llm) as h:
        made = await generate(h)
        assert made["source"] == "repaired"
        rounds = made["generation"]["rounds"]
        assert len(rounds) == 2 and rounds[1]["errors"] == []
        assert "'summary' has no field 'txt'" in rounds[0]["errors"][0]
        repair = next(p for p in llm.prompts() if "That workflow is invalid" in p)
        assert rounds[0]["errors"][0] in repair, "the model was told the exact error"
        done = await run(h, made["workflow_id"], {"text": "notes"})
        assert done["status"] == "completed"


async def test_a_hopeless_model_falls_back_to_a_template(tmp_path: Path) -> None:
    async with running_app(tmp_path, model(BROKEN, BROKEN, BROKEN, BROKEN)) as h:
        made = await generate(h)
        assert made["source"] == "template"
        assert len(made["generation"]["rounds"]) == 5  # a draft, 3 repairs, the template
        assert made["validation"]["valid"]
        assert made["workflow"]["name"] == "Meeting summary"
        assert made["generation"]["templates"][0] == "summarize_text"
        done = await run(h, made["workflow_id"], {"text": "notes"})
        assert done["status"] == "completed"


async def test_a_model_that_answers_nothing_still_gives_a_workflow(tmp_path: Path) -> None:
    async with running_app(tmp_path, ScriptedLLM([])) as h:
        made = await generate(h, "Answer customer questions from our FAQ")
        assert made["source"] == "template"
        assert made["generation"]["templates"][0] == "customer_support"
        assert made["validation"]["placeholders"], "the FAQ base is for the person to name"


async def test_a_bad_request_is_refused(tmp_path: Path) -> None:
    async with running_app(tmp_path, ScriptedLLM([])) as h:
        response = await h.client.post(
            "/api/workflows/generate", json={"prompt": ""}, headers=h.headers()
        )
        assert response.status_code == 422


async def test_without_waiting_the_job_stores_the_workflow_when_it_ends(tmp_path: Path) -> None:
    """`wait: false` answers at once; the runner stores the workflow when the job ends,
    whether or not anyone is still asking."""
    async with running_app(tmp_path, model(GOOD)) as h:
        response = await h.client.post(
            "/api/workflows/generate",
            json={"prompt": REQUEST, "wait": False},
            headers=h.headers(),
        )
        assert response.status_code == 202
        accepted = await response.get_json()
        assert accepted["status"] == "generating"
        done = await h.wait_for(accepted["job_id"])
        assert done["status"] == "completed" and done["workflow_id"] == accepted["workflow_id"]
        stored = await h.client.get(
            f"/api/workflows/{accepted['workflow_id']}", headers=h.headers()
        )
        assert stored.status_code == 200
        assert (await stored.get_json())["source"] == "model"
        executions = await h.client.get(
            f"/api/workflows/{accepted['workflow_id']}/executions", headers=h.headers()
        )
        assert (await executions.get_json())["executions"] == []  # generation is not a run
