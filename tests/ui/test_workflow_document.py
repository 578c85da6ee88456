"""A workflow as the Workflows view shows it: the summary, the diagram, the spec in the
editor, refusals next to it, the status line and the workflows list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ui.workflow_document import (
    diagram_markdown,
    editor_text,
    errors_markdown,
    problem_line,
    summary_markdown,
)
from ui.workflow_panels import DRAFTING, status_html, workflows_html
from ui.workflow_view import WorkflowTab, spec_of

SPEC: dict[str, Any] = {
    "name": "Support <bot>",
    "description": "Answers from the FAQ.",
    "nodes": [
        {"config": {"fields": {"q": {"type": "string"}}}, "id": "start", "type": "input"},
        {"config": {"base": "<<the FAQ base>>", "query": "{{input.q}}"}, "id": "faq",
         "type": "knowledge"},
        {"config": {"value": "{{faq.text}}"}, "id": "answer", "type": "output"},
    ],
    "connections": [{"source": "start", "target": "faq", "type": "default"},
                    {"source": "faq", "target": "answer", "type": "default"}],
}  # fmt: skip
MADE: dict[str, Any] = {
    "workflow_id": "wf_1",
    "version": 2,
    "source": "repaired",
    "workflow": {**SPEC, "estimated_cost": 0.00042, "execution_time": 7.6, "model": "gpt-x",
                 "estimate": {"critical_path": ["start", "faq", "answer"]}},
    "validation": {
        "valid": True, "errors": [],
        "warnings": [{"node": "faq", "field": "config", "message": "sends data out"}],
        "placeholders": [{"node": "faq", "field": "config.base", "message": "the FAQ base"}],
    },
}  # fmt: skip


def opened(made: dict[str, Any] = MADE) -> WorkflowTab:
    tab = WorkflowTab()
    tab.open(made)
    return tab


def test_a_problem_names_the_node_and_field_then_says_what_is_wrong() -> None:
    problem = {"node": "x", "field": "config.prompt", "message": "unknown reference"}
    assert problem_line(problem) == "node `x`, config.prompt: unknown reference"
    assert problem_line({"field": "workflow", "message": "not JSON"}) == "workflow: not JSON"
    assert errors_markdown([problem]) == (
        "**⚠ Not saved: the workflow is not valid**\n\n- node `x`, config.prompt: unknown reference"
    )
    assert errors_markdown([]) == ""


def test_the_summary_says_what_it_is_where_it_came_from_and_what_it_costs() -> None:
    text = summary_markdown(opened())
    assert text.startswith("### Support <bot>\n\nAnswers from the FAQ.")
    assert "Drafted by the model, then repaired from its validation errors · 3 steps · " in text
    assert "version 2 · `wf_1`" in text
    assert (
        "**Estimated cost** $0.0004 · **time** about 8 s with `gpt-x` (review time not counted)"
    ) in text
    assert "**To fill in before running**\n\n- node `faq`, config.base: the FAQ base" in text
    assert "**Warnings**\n\n- node `faq`, config: sends data out" in text
    assert summary_markdown(WorkflowTab()).startswith("**No workflow yet.**")


def test_a_template_not_saved_yet_says_so_and_has_no_figures() -> None:
    tab = WorkflowTab()
    tab.start_from({"name": "support", "title": "Customer support", "workflow": SPEC})
    text = summary_markdown(tab)
    assert "Adapted from the template *Customer support* · **not saved yet**" in text
    assert "Estimated cost" not in text
    assert tab.workflow_id is None and tab.form_key == "draft:1"


def test_the_diagram_is_a_mermaid_block_the_page_draws() -> None:
    text = diagram_markdown(SPEC)
    assert text.startswith("```mermaid\nflowchart TD\n") and text.endswith("\n```")
    assert 'n_faq["faq (knowledge)"]' in text and "n_start --> n_faq" in text
    assert diagram_markdown(None) == "" and diagram_markdown({"nodes": []}) == ""


def test_the_editor_holds_the_spec_alone_in_its_usual_order() -> None:
    spec = opened().spec
    assert spec == spec_of(SPEC)
    assert list(spec) == ["name", "description", "nodes", "connections"]  # no estimates
    assert list(spec["nodes"][1]) == ["id", "type", "config"]  # not sorted by the store
    text = editor_text(spec)
    assert text.startswith('{\n  "name": "Support <bot>",')
    assert editor_text(None) == ""


def test_a_new_version_names_a_new_form() -> None:
    tab = opened()
    assert tab.form_key == "wf_1:2"
    tab.open({**MADE, "version": 3})
    assert tab.form_key == "wf_1:3"
    tab.drop("gone")
    assert tab.form_key == "" and tab.spec is None and tab.notice == "gone"


def test_the_status_line_shows_drafting_or_what_the_page_said() -> None:
    tab = WorkflowTab(drafting=True)
    assert 'data-state="drafting"' in status_html(tab) and DRAFTING in status_html(tab)
    assert "gw-spinner" in status_html(tab)
    tab = WorkflowTab(notice="⚠ <oops>")
    assert "⚠ &lt;oops&gt;" in status_html(tab)
    assert 'data-state="idle"' in status_html(WorkflowTab())
    assert 'data-state="saved"' in status_html(opened())


def test_the_workflows_list_links_each_and_marks_the_open_one() -> None:
    now = datetime.now(UTC)
    items = [
        {"workflow_id": "wf_2", "name": "<i>New</i>", "nodes": 4, "version": 1,
         "updated_at": (now - timedelta(minutes=3)).isoformat()},
        {"workflow_id": "wf_1", "name": "Old", "nodes": 3, "version": 2,
         "updated_at": (now - timedelta(hours=5)).isoformat()},
    ]  # fmt: skip
    html = workflows_html(items, current="wf_1")
    assert html.index("wf_2") < html.index("wf_1")
    assert "&lt;i&gt;New&lt;/i&gt;" in html and "<i>" not in html
    assert 'class="gf-job gf-current" href="?workflow=wf_1"' in html
    assert "4 steps · v1 · 3 min ago" in html and "3 steps · v2 · 5 h ago" in html
    assert "No workflows yet." in workflows_html([], current=None)
    assert "down &amp; out" in workflows_html([], current=None, problem="down & out")
