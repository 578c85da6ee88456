"""Chat lines -> jobs, and the small HTML panels."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.job_view import JobView
from flows.registry import default_flows
from ui.commands import InputProblem, ShowHelp, StartJob, describe, help_text, parse
from ui.panels import jobs_html, status_html

FLOWS = [spec.to_json() for spec in default_flows().values()]  # what GET /api/flows lists
CUSTOM = {
    "name": "translate",
    "title": "Translate",
    "input_schema": {
        "type": "object",
        "properties": {"language": {"type": "string"}, "text": {"type": "string"}},
        "required": ["text"],
    },
}


@pytest.mark.parametrize(
    ("line", "flow", "input_"),
    [
        ("/article The history of coffee", "article", {"topic": "The history of coffee"}),
        ("/image  A lighthouse ", "image", {"prompt": "A lighthouse"}),
        ("/imagine A kite", "image", {"prompt": "A kite"}),
        ("/task Write a haiku", "review", {"task": "Write a haiku"}),
        ("/review Write a haiku", "review", {"task": "Write a haiku"}),
        ("/ARTICLE Tea", "article", {"topic": "Tea"}),
        ('/article {"topic": "Tea", "review": true}', "article", {"topic": "Tea", "review": True}),
        ("Just some text", "image", {"prompt": "Just some text"}),
    ],
)
def test_commands_and_plain_text_start_flows(line: str, flow: str, input_: dict) -> None:
    assert parse(line, "image", FLOWS) == StartJob(flow, input_)


def test_a_flow_added_later_gets_a_command_and_its_text_field() -> None:
    assert parse("/translate Bonjour", None, [*FLOWS, CUSTOM]) == StartJob(
        "translate", {"text": "Bonjour"}
    )
    assert "`/translate TEXT`: Translate" in help_text([*FLOWS, CUSTOM])


@pytest.mark.parametrize(
    ("line", "mode", "problem"),
    [
        ("", "article", "Type something first"),
        ("/article", "article", "Say what to do: `/article TOPIC`"),
        ("/nope x", "article", "Unknown command `/nope`"),
        ("/article {not json", "article", "looks like JSON but is not valid"),
        ("/article [1]", "article", None),  # text, not JSON: the API judges it
        ('/article ["a"]', "article", None),
        ("hello", None, "Pick what to do in the mode menu"),
    ],
)
def test_lines_that_cannot_start_a_job_say_why(line: str, mode: str | None, problem: str) -> None:
    if problem is None:
        assert isinstance(parse(line, mode, FLOWS), StartJob)
        return
    with pytest.raises(InputProblem, match=problem.replace("(", r"\(")):
        parse(line, mode, FLOWS)


def test_help_lists_every_flow() -> None:
    assert parse("/help", "article", FLOWS) == ShowHelp()
    text = help_text(FLOWS)
    for usage in ("`/article TOPIC`", "`/task TASK`", "`/image PROMPT`"):
        assert usage in text


def test_a_job_is_described_as_the_line_that_started_it() -> None:
    assert describe("review", {"task": "Write"}) == "/task Write"
    assert describe("article", {"topic": "Tea", "review": True}) == (
        '/article {"topic": "Tea", "review": true}'
    )


def test_a_workflow_run_is_described_by_its_name_and_inputs_not_its_spec() -> None:
    spec = {
        "name": "Article with approval",
        "nodes": [{"id": "start", "type": "input", "config": {"fields": {
            "audience": {"type": "string", "default": "everyone"}, "topic": {"type": "string"},
        }}}],
    }  # fmt: skip
    input_ = {"input_data": {"audience": "cooks", "topic": "Tea"}, "spec": spec,
              "workflow_id": "wf_1", "version": 2}  # fmt: skip
    assert describe("workflow", input_) == (
        "Run “Article with approval” with topic: Tea · audience: cooks"
    )
    assert describe("workflow", {**input_, "input_data": {}}) == "Run “Article with approval”"
    job = {"id": "job_3", "flow": "workflow", "status": "running", "input": input_}
    assert "Article with approval" in jobs_html([job], current=None, titles={})


def test_the_status_bar_escapes_and_shows_progress() -> None:
    view = JobView("job_1", flow="article", status="running", progress=45)
    html = status_html(view, "<b>Article</b>", problem="API <down>")
    assert "&lt;b&gt;Article&lt;/b&gt;" in html
    assert 'data-status="running"' in html and "45%" in html and "width:45%" in html
    assert 'href="?job=job_1"' in html
    assert "API &lt;down&gt;" in html
    assert 'data-status="idle"' in status_html(None, None)


def test_the_jobs_panel_links_each_job_and_marks_the_open_one() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    jobs = [
        {"id": "job_2", "flow": "image", "status": "waiting_for_review",
         "input": {"prompt": "<script>"}, "created_at": "2026-01-01T11:58:00Z"},
        {"id": "job_1", "flow": "article", "status": "completed", "input": {"topic": "Tea"},
         "created_at": "2026-01-01T09:00:00Z"},
    ]  # fmt: skip
    html = jobs_html(jobs, current="job_1", titles={"image": "Generate an image"}, now=now)
    assert html.index("job_2") < html.index("job_1")
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert 'class="gf-job gf-current" href="?job=job_1"' in html
    assert "waiting for review · 2 min ago" in html and "completed · 3 h ago" in html
    assert "No jobs yet." in jobs_html([], current=None, titles={})
