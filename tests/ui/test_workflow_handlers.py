"""The Workflows view's handlers against a stub of the API client (no browser, no server):
what a click sends, and what the view shows afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import gradio as gr
import pytest

from backend.client import APIError, GenFlowClient
from tests.fakes.workflow_answers import SPEC
from ui import workflow_page
from ui.handlers import Handlers
from ui.session import Session
from ui.settings import UISettings
from ui.workflow_form import form_fields
from ui.workflow_handlers import VIEW_OUTPUTS, WorkflowHandlers
from ui.workflow_panels import DRAFTING
from ui.workflow_view import WorkflowTab

STATUS, WORKFLOW_ID, SUMMARY, DIAGRAM, EDITOR, ERRORS, FORM_KEY, GENERATE, RUN_AREA = range(9)
REQUEST = gr.Request()  # a page event (the stub API stands for its person's client)
INVALID = [{"node": "draft", "field": "config.prompt", "message": "unknown reference"}]


def made(version: int = 1, source: str = "model") -> dict[str, Any]:
    return {
        "workflow_id": "wf_1",
        "version": version,
        "source": source,
        "workflow": {**SPEC, "estimated_cost": 0.001, "execution_time": 5.0, "model": "m"},
        "validation": {"valid": True, "errors": [], "warnings": [], "placeholders": []},
    }


class StubAPI:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse: APIError | None = None

    def _maybe_refuse(self) -> None:
        if self.refuse is not None:
            raise self.refuse

    async def generate_workflow(self, prompt: str) -> dict[str, Any]:
        self.calls.append(("generate", prompt))
        self._maybe_refuse()
        return made()

    async def save_workflow(self, spec: str) -> dict[str, Any]:
        self.calls.append(("post", spec))
        self._maybe_refuse()
        return made(source="hand")

    async def update_workflow(self, workflow_id: str, spec: str) -> dict[str, Any]:
        self.calls.append(("put", workflow_id))
        self._maybe_refuse()
        return made(version=2, source="edited")

    async def workflows(self, *, limit: int) -> dict[str, Any]:
        return {"workflows": [{"workflow_id": "wf_1", "name": SPEC["name"], "nodes": 4}]}

    async def execute_workflow(self, workflow_id: str, input_data: dict[str, Any]) -> Any:
        self.calls.append(("execute", input_data))
        self._maybe_refuse()
        job_input = {"input_data": input_data, "spec": SPEC, "workflow_id": workflow_id}
        return {"id": "job_1", "flow": "workflow", "status": "pending", "input": job_input}


@pytest.fixture
def api() -> StubAPI:
    return StubAPI()


@pytest.fixture
def handlers(api: StubAPI, tmp_path: Path) -> WorkflowHandlers:
    clients = lambda request: cast(GenFlowClient, api)  # noqa: E731 (one person's client)
    chat = Handlers(clients, UISettings(artifact_dir=tmp_path))
    return WorkflowHandlers(chat)


async def all_of(outputs: Any) -> list[tuple[Any, ...]]:
    return [out async for out in outputs]


def test_the_outputs_fit_the_pages_components(handlers: WorkflowHandlers) -> None:
    with gr.Blocks():
        page = workflow_page.build(0.5)
    tab = WorkflowTab()
    assert len(handlers.outputs(tab)) == len(page.view()) == VIEW_OUTPUTS
    tab.open(made())
    assert len(handlers.outputs(tab, editor=True)) == VIEW_OUTPUTS


async def test_generating_says_it_is_drafting_then_shows_the_workflow(
    handlers: WorkflowHandlers, api: StubAPI
) -> None:
    tab = WorkflowTab()
    drafting, done = await all_of(handlers.generate("  An article, approved by me ", tab, REQUEST))
    assert api.calls == [("generate", "An article, approved by me")]
    assert DRAFTING in drafting[STATUS] and drafting[GENERATE].interactive is False
    assert done[WORKFLOW_ID] == "wf_1" and done[FORM_KEY] == "wf_1:1"
    assert '"name": "Article with approval"' in done[EDITOR]
    assert "```mermaid" in done[DIAGRAM].value
    assert done[GENERATE].interactive is True and not tab.drafting
    assert 'href="?workflow=wf_1"' in done[-1]  # the workflows list, refreshed


async def test_a_failed_draft_says_why_and_keeps_the_page_usable(
    handlers: WorkflowHandlers, api: StubAPI
) -> None:
    api.refuse = APIError(502, "generation_failed", "the model is down")
    tab = WorkflowTab()
    *_, last = await all_of(handlers.generate("An article", tab, REQUEST))
    assert "The model could not draft a workflow: the model is down" in last[STATUS]
    assert last[GENERATE].interactive is True and tab.made is None
    (empty,) = await all_of(handlers.generate("   ", tab, REQUEST))
    assert "Describe what you want first" in empty[STATUS] and len(api.calls) == 1


async def test_saving_posts_a_new_spec_and_puts_a_new_version(
    handlers: WorkflowHandlers, api: StubAPI
) -> None:
    tab = WorkflowTab()
    tab.start_from({"name": "t", "title": "T", "workflow": SPEC})
    out = await handlers.save("name: Article\n", tab, REQUEST)
    assert api.calls[-1] == ("post", "name: Article\n")  # YAML goes as typed
    assert out[WORKFLOW_ID] == "wf_1" and "Saved: version 1." in out[STATUS]
    out = await handlers.save('{"name": "Article"}', tab, REQUEST)
    assert api.calls[-1] == ("put", "wf_1")
    assert out[FORM_KEY] == "wf_1:2" and "Saved: version 2." in out[STATUS]


async def test_an_invalid_spec_is_refused_next_to_the_editor_and_the_edit_kept(
    handlers: WorkflowHandlers, api: StubAPI
) -> None:
    tab = WorkflowTab()
    tab.open(made())
    api.refuse = APIError(422, "invalid_input", "the workflow is not valid", INVALID)
    out = await handlers.save('{"name": "Broken"}', tab, REQUEST)
    assert out[ERRORS].visible is True
    assert "node `draft`, config.prompt: unknown reference" in out[ERRORS].value
    assert out[EDITOR] == gr.skip()  # the person's text stays
    assert tab.made is not None  # the stored workflow is still shown
    api.refuse = APIError(409, "conflict", "changed meanwhile")
    out = await handlers.save('{"name": "Late"}', tab, REQUEST)
    assert "changed meanwhile (another edit was saved first)" in out[STATUS]
    assert out[ERRORS].visible is False


def test_a_template_goes_to_the_editor_unsaved(handlers: WorkflowHandlers) -> None:
    tab = WorkflowTab(templates=[{"name": "content", "title": "Content", "workflow": SPEC}])
    out = handlers.start_from("content", tab, REQUEST)
    assert tab.made is None and tab.template == "Content"
    assert out[WORKFLOW_ID] == "" and '"name": "Article with approval"' in out[EDITOR]
    assert "not saved yet" in out[SUMMARY]
    assert handlers.start_from("nope", tab, REQUEST)[EDITOR] == gr.skip()  # nothing changes


async def test_run_checks_the_form_then_opens_the_job_in_the_panel(
    handlers: WorkflowHandlers, api: StubAPI
) -> None:
    tab, session = WorkflowTab(), Session()
    tab.open(made())
    run = handlers.runner(form_fields(tab.spec))
    out = await run(REQUEST, tab, session, "", "general readers", 3)
    assert "Fill in topic." in out[0].value and api.calls == []

    placeholder = {"node": "faq", "field": "config.base", "message": "the base"}
    api.refuse = APIError(422, "invalid", "fill in the workflow's placeholders", [placeholder])
    out = await run(REQUEST, tab, session, "tea", "", 2)
    assert "**The workflow did not run:** fill in the workflow's placeholders." in out[0].value
    assert "- node `faq`, config.base: the base" in out[0].value

    api.refuse = None
    out = await run(REQUEST, tab, session, "tea", "", 2)
    assert api.calls[-1] == ("execute", {"topic": "tea", "paragraphs": 2})
    assert out[0].visible is False and out[1].visible is True  # the panel shows
    assert session.view is not None and session.view.job_id == "job_1"
    assert out[-1] == "job_1"  # the job panel's job id
    assert "Run “Article with approval” with topic: tea · paragraphs: 2" in str(out[2])
