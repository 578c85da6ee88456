"""How a review's deadline and its half-time reminder read in the chat and the jobs list
(`ui.deadlines`), folded from the job's events as a reloaded page folds them."""

from __future__ import annotations

from typing import Any

from backend.job_view import JobView
from ui.conversation import ChatView
from ui.deadlines import clock, deadline_line, due_mark, moment, reminder_line
from ui.panels import jobs_html

REVIEW = {
    "id": "rev_1",
    "node": "TaskReview",
    "prompt": "Approve the answer",
    "options": ["approve", "reject", "edit"],
    "payload": {"task": "t", "output": "Leaves fall"},
    "requested_at": "2026-03-01T14:01:00Z",
    "deadline": "2026-03-01T14:05:00Z",
    "on_timeout": "cancel",
    "reminded_at": None,
}
REMINDER = {"review_id": "rev_1", "node": "TaskReview", "deadline": REVIEW["deadline"],
            "on_timeout": "cancel", "reminded_at": "2026-03-01T14:03:00Z"}  # fmt: skip


def chat_of(*events: tuple[str, dict[str, Any]]) -> ChatView:
    view = ChatView(JobView("job_1"))
    for seq, (kind, data) in enumerate(events, start=1):
        view.apply({"seq": seq, "type": kind, "progress": 50, "data": data})
    return view


def contents(view: ChatView) -> list[str]:
    return [str(message["content"]) for message in view.messages()]


def test_the_review_says_when_it_is_due_and_what_happens_then() -> None:
    assert deadline_line(REVIEW) == (
        "◷ Due at **14:05 UTC**: undecided by then, the job is cancelled."
    )
    approve = {**REVIEW, "on_timeout": "approve", "deadline": "2026-03-02T09:30:00+00:00"}
    assert deadline_line(approve) == (
        "◷ Due at **2 Mar 09:30 UTC**: undecided by then, it is approved as it stands."
    )
    assert deadline_line({**REVIEW, "deadline": None}) is None
    assert reminder_line(REVIEW) is None  # no reminder went out


def test_the_reminder_is_a_line_after_the_review_and_stays_after_the_decision() -> None:
    created = ("job.created", {"flow": "review", "input": {"task": "t"}})
    waiting = chat_of(created, ("review.requested", REVIEW))
    assert not any("This review is due" in line for line in contents(waiting))
    assert "◷ Due at **14:05 UTC**" in contents(waiting)[-1]

    reminded = chat_of(created, ("review.requested", REVIEW), ("review.reminder", REMINDER))
    *_, review, reminder = contents(reminded)
    assert review.startswith("⚑ **Your review, please:**")
    assert reminder == (
        "◷ **This review is due at 14:05 UTC** (half of its time is gone): "
        "undecided by then, the job is cancelled."
    )
    decided = {"review_id": "rev_1", "decision": "approve", "by": "alice", "via": "web"}
    later = chat_of(
        created, ("review.requested", REVIEW), ("review.reminder", REMINDER),
        ("review.decided", decided),
    )  # fmt: skip
    assert contents(later)[-2:] == [reminder, "✔ **Approved** via web by alice"]


def test_an_edit_decision_reads_as_approved_with_edits() -> None:
    edited = {"review_id": "rev_1", "decision": "edit", "by": "alice", "via": "web"}
    view = chat_of(("review.requested", REVIEW), ("review.decided", edited))
    assert contents(view)[-1] == "✎ **Approved with edits** via web by alice"


def test_a_passed_deadline_reads_as_the_deadlines_not_a_persons() -> None:
    timed_out = {"review_id": "rev_1", "decision": "cancel", "by": "genflow", "via": "timeout"}
    view = chat_of(("review.requested", REVIEW), ("review.decided", timed_out))
    assert contents(view)[-1] == "◷ **The deadline passed:** cancelled"
    approved = {**timed_out, "decision": "approve"}
    view = chat_of(("review.requested", REVIEW), ("review.decided", approved))
    assert contents(view)[-1] == "◷ **The deadline passed:** approved"


def test_the_jobs_list_marks_an_open_review_that_got_its_reminder() -> None:
    reminded = {**REVIEW, "reminded_at": REMINDER["reminded_at"]}
    jobs = [
        {"id": "job_3", "flow": "review", "status": "waiting_for_review", "input": {"task": "a"},
         "review": reminded},
        {"id": "job_2", "flow": "review", "status": "waiting_for_review", "input": {"task": "b"},
         "review": REVIEW},
        {"id": "job_1", "flow": "review", "status": "completed", "input": {"task": "c"},
         "review": reminded},
    ]  # fmt: skip
    html = jobs_html(jobs, current=None, titles={})
    assert html.count('data-reminded="true"') == 1
    assert 'data-job="job_3" data-status="waiting_for_review" data-reminded="true"' in html
    assert '<span class="gf-job-due">◷ due 14:05 UTC</span>' in html
    assert due_mark({**reminded, "deadline": None}) == "◷ reminded"
    assert due_mark(None) is None


def test_times_are_read_as_utc() -> None:
    when = moment("2026-03-01T16:05:00+02:00")
    assert when is not None and clock(when) == "14:05 UTC"
    assert moment("2026-03-01T14:05:00") == moment("2026-03-01T14:05:00Z")  # naive is UTC
    assert moment("soon") is None and moment(None) is None
