"""`/workflow`: a pilot workflow drafted, shown, run and reviewed from Slack, offline.

Fake Slack <-> bot (HTTP mode) <-> a real API process whose scripted model drafts the
"Article with approval" workflow (tests/slack/conftest.py WORKFLOW_RULES). Every click and
form submission is built from what the bot posted; assertions are about what a person in
the channel sees, and about the job as the API keeps it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from backend.client import GenFlowClient
from bots.config import SlackConfig
from bots.slack import RunningBot, running
from bots.workflow_blocks import drafting_message, summary_message
from flows.pilot.library import TEMPLATES
from tests.e2e.server import GenFlowServer
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import ALICE, BOB, CAROL, DAVE, WORKFLOW_DRAFT, principal
from tests.slack.slack_view import CHANNEL, buttons, job_id_in, showing, shown

pytestmark = pytest.mark.timeout(90)
REQUEST = "An article about tea, approved by me"
STEPS = "*Steps*\n1. `start` (input)\n2. `draft` (llm)\n3. `edit` (review)\n4. `article` (output)"


def workflow_id_in(text: str) -> str:
    found = re.search(r"wf_[0-9a-f]+", text)
    assert found, f"no workflow id in {text!r}"
    return found.group(0)


def link(message: dict[str, Any], label: str) -> str | None:
    """Where the message's link button labelled `label` goes."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("text", {}).get("text") == label:
                return element.get("url")
    return None


def form_inputs(modal: dict[str, Any]) -> list[tuple[str, str, str, bool, bool]]:
    """(field, label, input type, multiline, optional) of each input in a modal."""
    return [
        (
            block["block_id"],
            block["label"]["text"],
            block["element"]["type"],
            bool(block["element"].get("multiline")),
            block["optional"],
        )
        for block in modal["blocks"]
        if block["type"] == "input"
    ]


def only_for_the_caller(body: Any) -> bool:
    """An answer to a slash command is ephemeral unless it says `in_channel`."""
    return isinstance(body, str) or body.get("response_type", "ephemeral") == "ephemeral"


async def review_of(slack: FakeSlack, what: str) -> dict[str, Any]:
    return await showing(slack, lambda m: buttons(m) == ["Approve", "Reject"], what)


async def post_summary(slack: FakeSlack, bot: RunningBot, made: dict[str, Any]) -> dict[str, Any]:
    """The summary `/workflow` posts, for a workflow stored by hand (no model needed)."""
    text, blocks = summary_message(made, ALICE, f"http://ui.test/?workflow={made['workflow_id']}")
    posted = await bot.bot.slack.chat_postMessage(channel=CHANNEL, text=text, blocks=blocks)
    return await slack.wait_for(lambda: slack.messages.get((CHANNEL, posted["ts"])))


async def test_draft_run_review_and_result_from_slack(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    reply = await slack.slash("/workflow", REQUEST, user=ALICE)
    assert reply.status == 200 and reply.elapsed < 3.0
    assert "Drafting a workflow for “An article about tea, approved by me”" in reply.text

    summary = await showing(slack, lambda m: "Run" in buttons(m), "the workflow's summary")
    drafting = slack.called("chat.postMessage")[0].args  # the message, before the model
    assert "Drafting a workflow…" in shown(drafting) and REQUEST in shown(drafting)
    seen = shown(summary)
    workflow_id = workflow_id_in(seen)
    assert "*🧩 Workflow:* Article with approval" in seen
    assert f"Requested by <@{ALICE}> · `{workflow_id}` · drafted by the model" in seen
    assert STEPS in seen
    assert "*Input:* `topic` (text), `audience` (text, default “general readers”)" in seen
    assert re.search(r"💰 Estimated cost \$[\d.]+ · ⏱️ about \d+ s with `[^`]+`", seen)
    assert f"Or run it with `/workflow run {workflow_id} topic=…`" in seen
    assert "To fill in" not in seen and "Warnings" not in seen
    assert buttons(summary) == ["Run", "Open in web"]
    assert link(summary, "Open in web") == f"http://ui.test/?workflow={workflow_id}"
    assert len(slack.channel_messages(CHANNEL)) == 1  # "Drafting…", edited into the summary

    opened = await slack.click(summary, "Open in web", user=ALICE)  # a link; still acked
    assert opened.status == 200

    click = await slack.click(summary, "Run", user=ALICE)
    assert click.status == 200 and click.elapsed < 3.0
    views = await slack.wait_for(lambda: slack.called("views.open"), what="the Run form")
    form = views[0].response["view"]
    assert form["title"]["text"] == "Run workflow" and form["submit"]["text"] == "Run"
    assert "*Article with approval* runs with what you fill in below" in shown(form)
    assert form_inputs(form) == [
        ("topic", "topic", "plain_text_input", True, False),
        ("audience", "audience", "plain_text_input", True, True),
    ]
    assert "What to write about" in str(form["blocks"])  # the field's description, as a hint
    assert form["blocks"][2]["element"]["initial_value"] == "general readers"

    sent = await slack.submit(form, {"topic": "tea"}, user=ALICE)  # audience: its default
    assert sent.status == 200 and sent.body in ("", {})  # the form closes
    review = await review_of(slack, "the run's review")
    assert review["ts"] != summary["ts"] and len(slack.channel_messages(CHANNEL)) == 2
    seen = shown(review)
    assert "*🧩 Workflow:* Article with approval (topic: tea)" in seen
    assert f"Started by <@{ALICE}>" in seen and "Waiting for review" in seen
    assert "*Review:* Approve the draft, or reject it with what to change" in seen
    assert f"*To review:*\n> {WORKFLOW_DRAFT}" in seen
    job_id = job_id_in(seen)

    await slack.click(review, "Approve", user=ALICE)
    done = await showing(slack, lambda m: "Done" in shown(m), "the finished run")
    seen = shown(done)
    assert "✅ Approved by <@UALICE>" in seen and buttons(done) == []
    assert f"*Result:*\n> {WORKFLOW_DRAFT}" in seen
    assert done["text"].startswith("Workflow “Article with approval (topic: tea)”: 🎉 Done")

    job = await client.job(job_id)
    assert job["flow"] == "workflow" and job["workflow_id"] == workflow_id
    assert job["status"] == "completed" and job["result"]["output"] == WORKFLOW_DRAFT
    assert job["input"]["input_data"] == {"topic": "tea"}
    # GENFLOW_SLACK_REVIEWERS (Carol, and the editors' group: Dave) review a run from the
    # form too, as every job started from Slack (the run asks for a review).
    assert sorted(job["reviewers"]) == [principal(CAROL), principal(DAVE)]
    assert len(slack.channel_messages(CHANNEL)) == 2  # the summary, and one per run


async def test_a_run_by_id_is_reviewed_by_the_configured_reviewers_if_it_asks_for_reviews(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    """`/workflow run` passes GENFLOW_SLACK_REVIEWERS as the run's reviewers, as every
    Slack command does, when the workflow has review nodes (GenFlow describes it with
    their `review_options`); a workflow without any runs without (GenFlow refuses review
    terms for a run that asks for no reviews). Anyone else who clicks is told privately
    who may decide."""
    bob = client.acting_for(principal(BOB))
    workflow_id = (await bob.generate_workflow(REQUEST))["workflow_id"]
    assert (await bob.workflow(workflow_id))["review_options"] == ["approve", "reject"]
    reply = await slack.slash("/workflow", f"run {workflow_id} topic=tea", user=BOB)
    assert "Started the workflow" in reply.text, reply.text
    job_id = job_id_in(reply.text)
    review = await review_of(slack, "the review of a run started by id")
    job = await client.job(job_id)
    assert job["owner"] == principal(BOB)
    assert sorted(job["reviewers"]) == [principal(CAROL), principal(DAVE)]
    assert job["review"]["assignees"] == job["reviewers"]

    await slack.click(review, "Approve", user=ALICE)  # in the channel, but no reviewer
    refusals = await slack.wait_for(
        lambda: [t for t in slack.ephemerals() if "may not decide" in t], what="a refusal"
    )
    assert refusals == [
        ":no_entry: You may not decide this review: only <@UBOB> (who started the job), "
        "<@UCAROL>, <@UDAVE> or an admin may."
    ]
    assert (await client.job(job_id))["status"] == "waiting_for_review"
    await slack.click(review, "Approve", user=CAROL)
    done = await showing(slack, lambda m: "Done" in shown(m), "the run approved by Carol")
    assert "✅ Approved by <@UCAROL>" in shown(done)

    plain = await bob.save_workflow(TEMPLATES["summarize_text"].spec())
    assert plain["review_options"] == []
    reply = await slack.slash("/workflow", f"run {plain['workflow_id']} text=tea", user=BOB)
    assert "Started the workflow" in reply.text, reply.text
    assert (await client.job(job_id_in(reply.text)))["reviewers"] == []


async def test_run_by_id_with_a_rejection_and_a_decision_made_elsewhere(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    bob = client.acting_for(principal(BOB))  # a workflow is its author's to run
    workflow_id = (await bob.generate_workflow(REQUEST))["workflow_id"]

    reply = await slack.slash("/workflow", f"run {workflow_id} topic=tea", user=BOB)
    assert reply.status == 200 and reply.elapsed < 3.0
    assert "Started the workflow" in reply.text
    job_id = job_id_in(reply.text)
    first = await review_of(slack, "the review of a run started by id")
    assert "Article with approval (topic: tea)" in shown(first)

    # Reject asks for a comment, which goes back to the `draft` node; its review returns.
    await slack.click(first, "Reject", user=BOB)
    views = await slack.wait_for(lambda: slack.called("views.open"), what="the comment form")
    sent = await slack.submit(views[0].response["view"], {"comment": "Mention Japan"}, user=BOB)
    assert sent.status == 200
    again = await showing(
        slack, lambda m: "Rejected by" in shown(m) and buttons(m), "the second review"
    )
    assert "↩️ Rejected by <@UBOB>\n> Mention Japan" in shown(again)
    assert f"> {WORKFLOW_DRAFT}" in shown(again)

    # Decided on the web: the Slack message follows.
    review_id = (await client.job(job_id))["review"]["id"]
    await client.decide(job_id, review_id, "approve", via="web")  # the admin, on the web
    done = await showing(slack, lambda m: "Done" in shown(m), "the message after a web decision")
    assert "Approved by admin (via web)" in shown(done) and buttons(done) == []
    assert f"*Result:*\n> {WORKFLOW_DRAFT}" in shown(done)
    decided = [e["data"] for e in await client.events(job_id) if e["type"] == "review.decided"]
    assert [(d["decision"], d["by"]) for d in decided] == [
        ("reject", principal(BOB)),
        ("approve", "admin"),
    ]
    assert (await client.job(job_id))["owner"] == principal(BOB)

    # Someone else's stored workflow is not theirs to run (GenFlow shows it to Bob only).
    other = await slack.slash("/workflow", f"run {workflow_id} topic=tea", user=ALICE)
    assert "There is no such workflow (or it is not yours to run)" in other.text
    assert len(slack.channel_messages(CHANNEL)) == 1  # runs by id have only the job message


async def test_usage_bad_input_placeholders_and_a_failed_draft(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    for text in ("", "help"):
        usage = await slack.slash("/workflow", text, user=ALICE)
        assert usage.status == 200 and only_for_the_caller(usage.body)
        assert "`/workflow WHAT IT SHOULD DO`" in usage.text
        assert "`/workflow run ID key=value …`" in usage.text

    alice = client.acting_for(principal(ALICE))
    workflow_id = (await alice.generate_workflow(REQUEST))["workflow_id"]
    bad = await slack.slash("/workflow", f"run {workflow_id} nope=1", user=ALICE)
    assert bad.status == 200 and bad.elapsed < 3.0
    assert only_for_the_caller(bad.body)
    assert bad.text.startswith(":warning: The workflow did not run: invalid input_data")
    assert "• `topic` is required" in bad.text
    assert "It takes: `topic` (text), `audience` (text, default “general readers”)." in bad.text

    missing = await slack.slash("/workflow", "run wf_00000000000000nothing topic=tea")
    assert "There is no such workflow" in missing.text

    # A workflow with a value only a person can supply: Run and run-by-id both say what.
    styled = await alice.save_workflow(
        {
            "name": "Styled summary",
            "nodes": [
                {
                    "id": "start",
                    "type": "input",
                    "config": {"fields": {"text": {"type": "string"}}},
                },
                {
                    "id": "summary",
                    "type": "llm",
                    "config": {"prompt": "Summarise: {{input.text}}", "system": "<<house style>>"},
                },
                {"id": "result", "type": "output", "config": {"value": "{{summary.text}}"}},
            ],
            "connections": [
                {"source": "start", "target": "summary"},
                {"source": "summary", "target": "result"},
            ],
        }
    )
    refused = await slack.slash("/workflow", f"run {styled['workflow_id']} text=hi", user=ALICE)
    assert "fill in the workflow's placeholders" in refused.text
    assert "• `summary` config.system: house style" in refused.text
    assert slack.channel_messages(CHANNEL) == []  # nothing ran, nothing was posted
    summary = await post_summary(slack, bot, styled)
    assert "*📝 To fill in before it can run*\n• `summary` config.system: house style" in shown(
        summary
    )
    await slack.click(summary, "Run", user=ALICE)
    told = await slack.wait_for(lambda: slack.ephemerals(), what="what to fill in")
    assert "values to fill in before it can run" in told[-1]
    assert f"<http://ui.test/?workflow={styled['workflow_id']}|open it>" in told[-1]
    assert slack.called("views.open") == [] and len(slack.channel_messages(CHANNEL)) == 1

    # A request GenFlow refuses: the draft's message says why, in words.
    short = await slack.slash("/workflow", "hi", user=ALICE)
    assert "Drafting a workflow" in short.text
    failed = await showing(slack, lambda m: "No workflow drafted" in shown(m), "the failure")
    assert "GenFlow refused the request" in shown(failed) and buttons(failed) == []
    assert "prompt" in shown(failed)


async def test_a_form_of_numbers_and_json_and_an_object_as_the_result(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    fields = {
        "count": {"type": "integer", "minimum": 1, "default": 3},
        "items": {"type": "array", "items": {"type": "string"}},
    }
    made = await client.acting_for(principal(BOB)).save_workflow(
        {
            "name": "Numbers",
            "nodes": [
                {"id": "start", "type": "input", "config": {"fields": fields}},
                {"id": "result", "type": "output", "config": {"value": "{{input.items}}"}},
            ],
            "connections": [{"source": "start", "target": "result"}],
        }
    )
    summary = await post_summary(slack, bot, made)
    assert "*Input:* `items` (array), `count` (whole number, default “3”)" in shown(summary)
    assert "written by hand" in shown(summary)

    await slack.click(summary, "Run", user=BOB)
    views = await slack.wait_for(lambda: slack.called("views.open"), what="the Run form")
    form = views[0].response["view"]
    assert form_inputs(form) == [  # the required first
        ("items", "items", "plain_text_input", True, False),
        ("count", "count", "number_input", False, True),
    ]
    assert form["blocks"][2]["element"]["min_value"] == "1"

    not_json = await slack.submit(form, {"count": "2.5", "items": "tea"}, user=BOB)
    assert not_json.body["response_action"] == "errors"
    assert not_json.body["errors"] == {"count": "“2.5” is not a whole number"}

    sent = await slack.submit(form, {"count": "", "items": '["tea", "coffee"]'}, user=BOB)
    assert sent.status == 200 and sent.body in ("", {})
    done = await showing(slack, lambda m: "Done" in shown(m), "the finished run")
    assert '*Result:*\n```[\n  "tea",\n  "coffee"\n]```' in shown(done)
    assert 'Numbers (items: ["tea", "coffee"])' in shown(done)


async def test_a_draft_cut_short_by_a_restart_says_so(
    slack: FakeSlack, config: SlackConfig, api: GenFlowServer
) -> None:
    async with running(config, GenFlowClient(api.base_url, api.token)) as first_run:
        store = first_run.bot.store.workflows
        draft_id = await store.add("A weekly tea report", CHANNEL, ALICE)
        text, blocks = drafting_message("A weekly tea report", ALICE)
        posted = await first_run.bot.slack.chat_postMessage(
            channel=CHANNEL, text=text, blocks=blocks
        )
        await store.set_message(draft_id, CHANNEL, posted["ts"])
        # ... and the bot stops before GenFlow answers.

    async with running(config, GenFlowClient(api.base_url, api.token)) as second_run:
        told = await showing(slack, lambda m: "No workflow drafted" in shown(m), "the notice")
        assert told["ts"] == posted["ts"] and "A weekly tea report" in shown(told)
        assert "restarted while this workflow was being drafted" in shown(told)
        assert await second_run.bot.store.workflows.drafting() == []


def test_open_in_web_links_follow_the_web_ui_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GENFLOW_UI_URL", "GENFLOW_HOST", "GENFLOW_UI_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert SlackConfig.from_env().workflow_url("wf_1") == "http://127.0.0.1:7860/?workflow=wf_1"
    monkeypatch.setenv("GENFLOW_HOST", "genflow.lan")
    monkeypatch.setenv("GENFLOW_UI_PORT", "8080")
    assert SlackConfig.from_env().job_url("job_1") == "http://genflow.lan:8080/?job=job_1"
    monkeypatch.setenv("GENFLOW_UI_URL", "https://genflow.example.com/ui/")
    assert (
        SlackConfig.from_env().workflow_url("wf_1")
        == "https://genflow.example.com/ui/?workflow=wf_1"
    )
