"""The message a job's events render to, without any server: pure functions."""

from __future__ import annotations

import json
import re
from pathlib import Path

from backend.reviews.edits import diffs
from bots.blocks import article_blocks, job_message
from bots.markdown import chunks, to_mrkdwn
from bots.texts import decided
from bots.view import MessageView, step_label
from tests.slack.slack_view import buttons, shown

ROOT = Path(__file__).resolve().parents[2]


def event(seq: int, kind: str, progress: int = 0, **data: object) -> dict:
    return {"seq": seq, "job_id": "job_1", "type": kind, "progress": progress, "data": data}


def test_markdown_reads_well_in_slack() -> None:
    text = to_mrkdwn(
        "# Title\n\n## Part *one*\n\nSome **bold** and *italic* with [a link](https://x.y).\n"
        "- item <tag> & co\n\n```\ncode **stays**\n```\n> quoted"
    )
    assert text.splitlines()[0] == "*Title*"
    assert "*Part _one_*" in text and "Some *bold* and _italic_ with <https://x.y|a link>." in text
    assert "• item &lt;tag&gt; &amp; co" in text and "code **stays**" in text
    assert text.endswith("> quoted")


def test_long_text_is_split_under_slack_limits() -> None:
    long = "\n\n".join("word " * 500 for _ in range(5))
    pieces = chunks(long)
    assert len(pieces) >= 5 and all(len(p) <= 2900 for p in pieces)
    assert article_blocks("# Short\n\nAn article.") == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Short*\n\nAn article."}}
    ]
    assert article_blocks("# Long\n\n" + long) is None  # goes as a file instead


def test_a_job_renders_step_progress_review_and_decision() -> None:
    view = MessageView("job_1", "review", "Write a haiku", "UALICE")
    for e in [
        event(1, "job.created"),
        event(2, "job.started"),
        event(3, "node.started", 10, node="Process", attempt=1),
        event(4, "node.progress", 20, node="Process", message="Working on it", fraction=None),
    ]:
        view.apply(e)
    text, blocks = job_message(view, "http://ui/?job=job_1")
    assert "Running" in text
    assert "Process — Working on it" in shown({"blocks": blocks}) and "20%" in shown(
        {"blocks": blocks}
    )

    view.apply(
        event(
            5,
            "review.requested",
            50,
            id="rev_1",
            node="TaskReview",
            prompt="Approve?",
            options=["approve", "reject"],
            payload={"output": "x" * 5000, "attempt": 1},
        )
    )
    _, blocks = job_message(view, "http://ui/?job=job_1")
    assert buttons({"blocks": blocks}) == ["Approve", "Reject"]
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    values = [
        json.loads(e["value"]) for b in blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert values[0] == {"job": "job_1", "review": "rev_1", "decision": "approve"}

    view.apply(
        event(
            6,
            "review.decided",
            50,
            review_id="rev_1",
            decision="approve",
            comment=None,
            by="slack:UBOB",
            via="slack",
        )
    )
    view.apply(event(7, "job.completed", 100, result={"output": "Leaves fall.", "attempts": 1}))
    text, blocks = job_message(view, "http://ui/?job=job_1")
    assert "Approved by <@UBOB>" in text and buttons({"blocks": blocks}) == []
    assert "Leaves fall." in shown({"blocks": blocks}) and view.last_seq == 7


def test_an_edit_says_how_many_lines_it_changed() -> None:
    view = MessageView("job_1", "review", "Write", "UALICE")
    diff = diffs({"output": "Leaves."}, {"output": "Leaves fall.\nQuietly."})["output"]
    view.apply(event(1, "review.decided", 50, review_id="rev_1", decision="edit",
                     by="slack:T1:UANA", via="slack", edits={"output": "…"},
                     diff={"output": diff}))  # fmt: skip
    text, blocks = job_message(view, "http://ui/?job=job_1")
    line = "✏️ Edited and approved by <@UANA> · edited: +2/-1 lines"
    assert line in shown({"blocks": blocks}) and line in text
    assert "Leaves fall." not in shown({"blocks": blocks})  # the count, not the diff


def test_words_for_people() -> None:
    assert decided("approve", "slack:T1:U1", "slack") == "✅ Approved by <@U1>"
    assert decided("approve", "slack:U1") == "✅ Approved by <@U1>"  # decided before teams
    assert decided("reject", "ana", "web") == "↩️ Rejected by ana (via web)"
    assert decided("edit", "slack:T1:U1", "slack") == "✏️ Edited and approved by <@U1>"
    assert decided("edit", "ana", "web", (3, 1)) == (
        "✏️ Edited and approved by ana (via web) · edited: +3/-1 lines"
    )
    assert decided("reject", "genflow", "timeout") == "◷ Timed out: rejected by GenFlow"
    assert decided("cancel", "genflow", "timeout") == "◷ Timed out: cancelled by GenFlow"
    assert step_label("GenerateOutline") == "Generate outline"


def review_of(output: str) -> MessageView:
    view = MessageView("job_1", "review", "Write", "UALICE")
    view.apply(
        event(
            1,
            "review.requested",
            50,
            id="rev_1",
            node="TaskReview",
            prompt="Approve?",
            options=["approve", "reject", "edit"],
            payload={"task": "Write", "output": output, "attempt": 1},
            editable=["output"],
            deadline="2030-01-02T03:04:05Z",
            on_timeout="reject",
        )
    )
    return view


def test_edit_is_offered_while_slack_can_hold_the_text() -> None:
    _, blocks = job_message(review_of("Short."), "http://ui/?job=job_1")
    assert buttons({"blocks": blocks}) == ["Approve", "Reject", "Edit"]
    seen = shown({"blocks": blocks})
    assert "◷ Due <!date^1893553445^{date_short_pretty} at {time}|2030-01-02T03:04:05Z>" in seen
    assert "then GenFlow rejects it." in seen and "reminder" not in seen

    view = review_of("x" * 3001)  # longer than a Slack form holds: no Edit, and why
    _, blocks = job_message(view, "http://ui/?job=job_1")
    assert buttons({"blocks": blocks}) == ["Approve", "Reject"]
    assert "Too long to edit in Slack (`output`: a Slack form holds 3,000 characters)" in shown(
        {"blocks": blocks}
    )
    view.apply(event(2, "review.reminder", 50, review_id="rev_1", reminded_at="2030-01-01T00Z"))
    _, blocks = job_message(view, "http://ui/?job=job_1")
    assert "A reminder was sent." in shown({"blocks": blocks})


def test_bots_reach_the_backend_only_through_its_client() -> None:
    imports = re.compile(r"^\s*(?:from|import)\s+(backend[\w.]*)", re.MULTILINE)
    found = {
        name for path in (ROOT / "bots").glob("*.py") for name in imports.findall(path.read_text())
    }
    assert found <= {"backend.client"}


def test_model_output_cannot_ping_the_channel() -> None:
    view = MessageView("job_1", "review", "<!channel> hi", "UALICE")
    view.apply(event(1, "job.completed", 100, result={"output": "<!here> & <@U1>", "attempts": 1}))
    text, blocks = job_message(view, "http://ui/?job=job_1")
    seen = shown({"blocks": blocks}) + text
    assert "<!" not in seen and "&lt;!here&gt; &amp; &lt;@U1&gt;" in seen
