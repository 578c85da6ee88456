"""The embedded default model, end to end, once per seed flow: SmolLM2 on the CPU.

What is asserted is what a reader checks: an article about the topic with three
distinct sections and no refusal or repeated sentences; a task answer that is the
answer, not a question back; a picture that decodes. `python -m bench.quality` measures
how often these hold over many runs (docs/models.md).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image

from flows import checks
from flows.providers.local_llm import LocalLLM
from tests.harness import running_app

pytestmark = pytest.mark.slow


async def test_the_local_model_writes_an_article(tmp_path: Path) -> None:
    async with running_app(tmp_path, LocalLLM()) as h:
        job = await h.create("article", {"topic": "The history of coffee"})
        done = await h.wait_for(job["id"], timeout=600)
        events = await h.events(job["id"])
    assert done["status"] == "completed", done["error"]
    markdown = done["result"]["markdown"]
    headings = re.findall(r"^## (.+)$", markdown, re.MULTILINE)
    assert markdown.startswith("# ") and len({h.lower() for h in headings}) == 3, markdown
    body = "\n".join(line for line in markdown.splitlines() if not line.startswith("#"))
    assert checks.words(body) >= 150, markdown
    assert "coffee" in body.lower()
    assert not checks.repeats(body) and not checks.not_the_work(body), markdown
    usage = [
        e["data"]["usage"] for e in events if e["type"] == "node.finished" and "usage" in e["data"]
    ]
    assert usage and all(u["tokens_in"] > 0 and u["tokens_out"] > 0 for u in usage)


async def test_the_local_model_does_a_task_for_review(tmp_path: Path) -> None:
    async with running_app(tmp_path, LocalLLM()) as h:
        job = await h.create("review", {"task": "Write a haiku about tea"})
        waiting = await h.wait_for(job["id"], "waiting_for_review", timeout=600)
        output = waiting["review"]["payload"]["output"]
        assert output.strip() and not checks.not_the_work(output), output
        decided = await h.decide(job["id"], "approve", review_id=waiting["review"]["id"])
        assert decided.status_code == 200
        done = await h.wait_for(job["id"], timeout=60)
    assert done["status"] == "completed" and done["result"]["output"] == output


async def test_the_embedded_defaults_make_a_picture(tmp_path: Path) -> None:
    async with running_app(tmp_path, LocalLLM()) as h:
        job = await h.create("image", {"prompt": "a lighthouse at dusk"})
        waiting = await h.wait_for(job["id"], "waiting_for_review", timeout=60)
        artifact = waiting["review"]["payload"]["artifact_id"]
        response = await h.client.get(f"/api/artifacts/{artifact}", headers=h.headers())
    assert response.status_code == 200
    picture = Image.open(io.BytesIO(await response.get_data()))
    picture.verify()
    assert picture.width >= 256


async def test_the_local_model_gives_a_workflow_that_runs(tmp_path: Path) -> None:
    """Generation with the embedded model: whatever it drafts (SmolLM2 rarely writes a valid
    spec: docs/pilot.md), the stored workflow validates, and it runs on the same model."""
    async with running_app(tmp_path, LocalLLM()) as h:
        made = await h.client.post(
            "/api/workflows/generate",
            json={"prompt": "Summarise meeting notes into three bullet points"},
            headers=h.headers(),
        )
        assert made.status_code == 201, await made.get_data(as_text=True)
        workflow = await made.get_json()
        assert workflow["validation"]["valid"] and not workflow["validation"]["placeholders"]
        fields = next(n for n in workflow["workflow"]["nodes"] if n["type"] == "input")
        notes = "We met on Monday. We agreed on the budget. We meet again in May."
        input_data = {name: notes for name in fields["config"]["fields"]}
        started = await h.client.post(
            f"/api/workflows/{workflow['workflow_id']}/execute",
            json={"input_data": input_data},
            headers=h.headers(),
        )
        assert started.status_code == 201, await started.get_data(as_text=True)
        done = await h.wait_for((await started.get_json())["id"], timeout=600)
    assert done["status"] == "completed", done["error"]
    output = done["result"]["output"]
    assert isinstance(output, str) and output.strip(), output
