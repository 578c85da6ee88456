"""The Workflows view in a real browser (Debian's Chromium, driven by Playwright), against a
real API process whose model is the scripted fake (tests/fakes/workflow_answers.py), and
the UI process: a request drafted into a workflow, drawn, run with its form, reviewed in
place and finished; a spec refused inline; a workflow opened by its link.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.fakes.workflow_answers import ARTICLE, REQUEST, SPEC
from tests.ui.chat_page import CHROMIUM, logged_in
from tests.ui.stack import Stack
from tests.ui.workflows_tab import MODEL_TIMEOUT, WorkflowsTab

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")

DRAFTING = "Drafting… (the model drafts, the server validates)"


@pytest.fixture
def new_tab(browser: Browser, stack: Stack) -> Iterator[type[WorkflowsTab]]:
    """Opens pages (tabs) in one browser profile, logged in as alice; closes them after."""
    context = logged_in(browser, stack.ui.url)

    def make() -> WorkflowsTab:
        return WorkflowsTab(context.new_page(), stack.ui.url)

    yield make  # type: ignore[misc]
    context.close()


def template(stack: Stack, name: str) -> dict[str, Any]:
    with stack.http() as http:
        found = http.get("/api/workflows/templates").json()["templates"]
    return next(t for t in found if t["name"] == name)


def test_a_request_is_drafted_drawn_run_reviewed_in_place_and_finished(
    new_tab: type[WorkflowsTab], stack: Stack, artifacts_dir: Path
) -> None:
    tab = new_tab().open()
    stack.fake.control(stall=[[2.0, 1]])  # the model thinks a while over the request
    tab.generate(REQUEST)
    expect(tab.status).to_have_attribute("data-state", "drafting")
    expect(tab.status).to_contain_text(DRAFTING)
    expect(tab.generate_button).to_be_disabled()  # drafting, not frozen: the status says so
    tab.screenshot(artifacts_dir, "workflow-drafting")

    tab.expect_opened()
    expect(tab.diagram).to_be_visible(timeout=MODEL_TIMEOUT)  # drawn, not Mermaid text
    for node in ("start (input)", "draft (llm)", "edit (review)", "article (output)"):
        expect(tab.diagram).to_contain_text(node)
    expect(tab.summary.locator("h3")).to_have_text("Article with approval")
    expect(tab.summary).to_contain_text("Drafted by the model · 4 steps · version 1")
    expect(tab.summary).to_contain_text(re.compile(r"Estimated cost \$\d+\.\d{4} · time about"))
    expect(tab.summary).to_contain_text("review time not counted")
    expect(tab.editor).to_contain_text('"name": "Article with approval"')
    expect(tab.generate_button).to_be_enabled()
    expect(tab.list.locator(".gf-current")).to_contain_text("Article with approval")

    # The form is the input node's fields: required first, defaults filled in.
    expect(tab.field("topic")).to_have_value("")
    expect(tab.field("audience")).to_have_value("general readers")
    expect(tab.field("paragraphs")).to_have_value("3")
    expect(tab.page.locator("#gw-run-box")).to_be_hidden()  # no run yet, no empty chat
    tab.run()
    expect(tab.run_problem).to_contain_text("Fill in topic.")  # said before sending

    tab.field("topic").fill("green tea")
    tab.run()
    expect(tab.run_problem).to_be_hidden()
    expect(tab.decision("Approve")).to_be_visible(timeout=MODEL_TIMEOUT)  # the review, here
    expect(tab.decision("Reject")).to_be_visible()
    expect(tab.run_status).to_have_attribute("data-status", "waiting_for_review")
    expect(tab.run_status.locator(".gf-title")).to_have_text("Article with approval")
    expect(tab.run_chat).to_contain_text(
        "Run “Article with approval” with topic: green tea · audience: general readers"
    )
    expect(tab.run_chat).to_contain_text("Your review, please: Approve the draft, or reject it")
    expect(tab.run_chat.locator("blockquote", has_text=ARTICLE)).to_be_visible()

    tab.decision("Approve").click()
    tab.expect_run_status("completed")
    expect(tab.review).to_be_hidden()
    expect(tab.run_chat).to_contain_text("Approved via web")
    result = tab.run_chat.locator(".message", has_text="Result").last
    expect(result).to_contain_text(ARTICLE)
    expect(tab.diagram).to_be_visible()  # the workflow stays in view beside its run
    tab.screenshot(artifacts_dir, "workflow")


def test_a_spec_with_an_error_is_refused_next_to_the_editor(
    new_tab: type[WorkflowsTab], stack: Stack, artifacts_dir: Path
) -> None:
    tab = new_tab().open()
    expect(tab.summary).to_contain_text("No workflow yet.")
    tab.pick_template("Summarise a text")  # loaded, not stored
    expect(tab.editor).to_contain_text('"name": "Summarise a text"')
    expect(tab.diagram).to_contain_text("summary (llm)")
    expect(tab.summary).to_contain_text("not saved yet")
    expect(tab.page.locator("#gw-form-note")).to_have_text("Save the workflow to run it.")

    spec = template(stack, "summarize_text")["workflow"]
    broken = copy.deepcopy(spec)
    broken["nodes"][2]["config"]["value"] = "{{summary.txt}}"
    tab.write_spec(json.dumps(broken, indent=2))
    tab.save()
    expect(tab.errors).to_contain_text("Not saved: the workflow is not valid")
    expect(tab.errors).to_contain_text(
        "node result, config.value: {{summary.txt}}: 'summary' has no field 'txt'"
    )
    expect(tab.errors.locator("code", has_text="result")).to_be_visible()
    expect(tab.page).not_to_have_url(re.compile(r"workflow="))  # nothing was stored
    tab.screenshot(artifacts_dir, "workflow-invalid")

    fixed = {**broken, "name": "Meeting notes in brief"}
    fixed["nodes"][2]["config"]["value"] = "{{summary.text}}"
    tab.write_spec(json.dumps(fixed, indent=2))
    tab.save()
    tab.expect_opened()
    expect(tab.errors).to_be_hidden()
    expect(tab.status).to_contain_text("Saved: version 1.")
    expect(tab.summary).to_contain_text("Written by hand")
    expect(tab.summary.locator("h3")).to_have_text("Meeting notes in brief")
    expect(tab.diagram).to_contain_text("result (output)")
    expect(tab.field("text")).to_be_editable()  # now it can run


def test_a_link_opens_the_workflow_in_its_tab(new_tab: type[WorkflowsTab], stack: Stack) -> None:
    with stack.http("alice") as http:
        made = http.post("/api/workflows", json={"workflow": {**SPEC, "name": "Linked one"}})
        made.raise_for_status()
    workflow_id = made.json()["workflow_id"]

    tab = new_tab().open(workflow_id)
    expect(tab.page.get_by_role("tab", name="Workflows")).to_have_attribute("aria-selected", "true")
    expect(tab.summary.locator("h3")).to_have_text("Linked one")
    expect(tab.summary).to_contain_text(workflow_id)
    expect(tab.diagram).to_contain_text("edit (review)")
    expect(tab.editor).to_contain_text('"name": "Linked one"')
    expect(tab.field("audience")).to_have_value("general readers")
    expect(tab.list.locator(".gf-current")).to_contain_text("Linked one")

    missing = new_tab().open("wf_doesnotexist")
    expect(missing.status).to_contain_text("Not found: no such workflow (or it is not yours).")
    expect(missing.diagram).to_have_count(0)
