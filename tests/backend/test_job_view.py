"""The shared fold of a job's events (`backend.job_view`): what web, Slack and CLI render."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from backend.domain import TERMINAL_STATUSES as SERVER_TERMINAL_STATUSES
from backend.domain import JobStatus
from backend.events import TERMINAL_EVENTS as SERVER_TERMINAL_EVENTS
from backend.events import EventType
from backend.job_view import (
    STATUS_AFTER,
    TERMINAL_EVENTS,
    TERMINAL_STATUSES,
    Artifact,
    Decision,
    JobView,
    Moment,
    Progress,
    Resumed,
    Retry,
    Step,
    Streamed,
    changed_lines,
    fold,
    fold_all,
)

Event = dict[str, Any]
REVIEW = {
    "id": "rev_1",
    "node": "TaskReview",
    "prompt": "Approve the answer?",
    "options": ["approve", "reject"],
    "payload": {"output": "Leaves fall"},
}
IMAGE = {
    "artifact_id": "art_1",
    "kind": "image",
    "mime": "image/png",
    "url": "/api/artifacts/art_1",
    "name": "image-1.png",
    "node": "GenerateImage",
}


def story(*items: tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], int]) -> list[Event]:
    """Durable events numbered from 1 (progress given per event, else 0)."""
    events = []
    for seq, item in enumerate(items, start=1):
        kind, data, progress = item if len(item) == 3 else (*item, 0)
        events.append({"seq": seq, "job_id": "job_1", "type": kind, "ts": "2026-01-01T00:00:00Z",
                       "progress": progress, "data": data})  # fmt: skip
    return events


def delta(node: str, text: str, progress: int = 0, item: int | None = None) -> Event:
    """A live `llm.delta`: no seq (`item`: a batch item's text)."""
    data: dict[str, Any] = {"node": node, "text": text}
    if item is not None:
        data["item"] = item
    return {"seq": None, "job_id": "job_1", "type": "llm.delta", "progress": progress,
            "data": data}  # fmt: skip


def view_of(*items: tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], int]) -> JobView:
    return fold_all(JobView("job_1"), story(*items))


CREATED = ("job.created", {"flow": "review", "input": {"task": "a haiku"}})
STARTED = ("job.started", {"attempt": 1})


def started(node: str, attempt: int = 1, progress: int = 0) -> tuple[str, dict[str, Any], int]:
    return ("node.started", {"node": node, "attempt": attempt}, progress)


def finished(node: str, ms: int = 1200, summary: str | None = None) -> tuple[str, dict[str, Any]]:
    return ("node.finished", {"node": node, "duration_ms": ms, "summary": summary})


# -- the vocabulary ----------------------------------------------------------------------


def test_terminal_sets_are_the_servers() -> None:
    """Defined once for every client, and never out of step with the server's enums."""
    assert {s.value for s in SERVER_TERMINAL_STATUSES} == TERMINAL_STATUSES
    assert {e.value for e in SERVER_TERMINAL_EVENTS} == TERMINAL_EVENTS
    assert set(STATUS_AFTER.values()) <= {s.value for s in JobStatus}
    assert set(STATUS_AFTER) <= {e.value for e in EventType}


# -- every event type --------------------------------------------------------------------


def test_a_job_from_created_to_completed() -> None:
    view = view_of(
        CREATED,
        STARTED,
        started("Process", progress=5),
        ("node.progress", {"node": "Process", "message": "Thinking", "fraction": 0.5}, 20),
        finished("Process", 1500, "42 words"),
        ("artifact.created", IMAGE, 60),
        ("job.completed", {"result": {"output": "Leaves fall"}}, 100),
    )
    assert (view.flow, view.input) == ("review", {"task": "a haiku"})
    assert (view.status, view.progress, view.last_seq, view.attempt) == ("completed", 100, 7, 1)
    assert view.steps == (
        Step("Process", 1, (Progress("Thinking", 0.5),), finished=True, duration_ms=1500,
             summary="42 words"),
    )  # fmt: skip
    assert view.artifacts == (
        Artifact("art_1", "image", "image/png", "/api/artifacts/art_1", "image-1.png",
                 "GenerateImage"),
    )  # fmt: skip
    assert view.images == view.artifacts and view.artifact("art_1") == view.artifacts[0]
    assert view.result == {"output": "Leaves fall"} and view.error is None
    assert view.finished and view.node is None
    assert view.timeline == (Moment("step", 0), Moment("artifact", 0), Moment("end"))


def test_status_follows_the_job_state_machine() -> None:
    statuses = [
        view.status
        for view in _each(
            CREATED,
            STARTED,
            started("TaskReview"),
            ("review.requested", REVIEW),
            ("review.decided", {"review_id": "rev_1", "decision": "approve", "by": "ana",
                                "via": "web"}),
            finished("TaskReview"),
            ("job.completed", {"result": None}),
        )
    ]  # fmt: skip
    assert statuses == [
        "pending", "running", "running", "waiting_for_review", "running", "running", "completed"
    ]  # fmt: skip


def _each(*items: tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], int]) -> list[JobView]:
    views, view = [], JobView("job_1")
    for event in story(*items):
        view = fold(view, event)
        views.append(view)
    return views


def test_the_current_node_has_its_latest_message_and_streamed_text() -> None:
    view = view_of(
        CREATED,
        started("GenerateOutline"),
        ("node.progress", {"node": "GenerateOutline", "message": "Outlining", "fraction": None}),
        ("node.progress", {"node": "GenerateOutline", "message": "3 parts", "fraction": 1}),
    )
    view = fold_all(view, [delta("GenerateOutline", "# Tea"), delta("GenerateOutline", "\n")])
    assert view.node == "GenerateOutline"
    assert view.message == "3 parts" and view.current is not None
    assert view.current.messages == ("Outlining", "3 parts")
    assert view.text == "# Tea\n"
    assert view.last_seq == 4  # live deltas have no seq and move nothing else


def test_a_node_visited_again_is_a_new_step() -> None:
    view = view_of(CREATED, started("Generate"), finished("Generate"), started("Generate", 2))
    assert [(s.node, s.visit, s.done) for s in view.steps] == [
        ("Generate", 1, True), ("Generate", 2, False)
    ]  # fmt: skip
    assert view.step("Generate") is view.steps[1]
    assert view.message is None  # the new visit reported nothing yet


def test_progress_is_0_to_100_and_kept_when_an_event_has_none() -> None:
    view = view_of(CREATED, started("A", progress=40))
    assert fold(view, {"seq": 3, "type": "node.progress", "progress": None,
                       "data": {"node": "A", "message": "m"}}).progress == 40  # fmt: skip
    assert fold(view, {"seq": 3, "type": "node.progress", "progress": 250,
                       "data": {"node": "A", "message": "m"}}).progress == 100  # fmt: skip


def test_events_of_a_node_never_seen_to_start_still_get_a_step() -> None:
    """A follower that joined mid-node (no `node.started`) shows the node anyway."""
    view = fold(JobView("job_1"), delta("WriteContent", "Once"))
    assert view.steps == (Step("WriteContent", None, streamed=(Streamed(None, "Once"),)),)
    assert view.timeline == (Moment("step", 0),) and view.node == "WriteContent"


def test_artifacts_are_listed_once() -> None:
    view = view_of(CREATED, ("artifact.created", IMAGE), ("artifact.created", IMAGE))
    assert len(view.artifacts) == 1 and view.last_seq == 3
    text = view_of(
        (
            "artifact.created",
            {
                "artifact_id": "art_2",
                "kind": "markdown",
                "mime": "text/markdown",
                "url": "/api/artifacts/art_2",
            },
        )
    )
    assert text.images == () and text.artifacts[0].name is None  # fmt: skip


def test_unknown_event_types_only_move_seq_and_progress() -> None:
    view = view_of(CREATED, ("session.something", {"x": 1}, 30))
    assert (view.last_seq, view.progress, view.status) == (2, 30, "pending")


# -- replays -----------------------------------------------------------------------------


def test_an_event_already_folded_returns_the_same_view() -> None:
    events = story(CREATED, STARTED, started("A"), ("node.progress", {"node": "A", "message": "m"}))
    view = fold_all(JobView("job_1"), events)
    for event in events:
        assert fold(view, event) is view
    assert fold_all(view, events) is view
    assert view.steps[0].messages == ("m",)


def test_a_replay_overlapping_the_live_stream_folds_each_event_once() -> None:
    events = story(
        CREATED,
        STARTED,
        started("A"),
        ("node.retry", {"node": "A", "attempt": 1, "error": "boom"}),
        ("artifact.created", IMAGE),
        ("review.requested", {**REVIEW, "node": "A"}),
        ("review.decided", {"review_id": "rev_1", "decision": "reject", "comment": "more",
                            "by": "ana", "via": "slack"}),
        finished("A"),
        ("job.failed", {"error": {"type": "LLMError", "message": "down"}}),
    )  # fmt: skip
    once = fold_all(JobView("job_1"), events)
    twice = fold_all(fold_all(JobView("job_1"), events[:6]), events[2:] + events)
    assert twice == once
    assert len(once.decisions) == 1 and len(once.reviews) == 1 and len(once.timeline) == 5


def test_folding_never_changes_the_view_it_is_given() -> None:
    view = view_of(CREATED, started("A"))
    copy = view_of(CREATED, started("A"))
    fold_all(view, [delta("A", "x"), *story(CREATED, started("A"), finished("A"))[2:]])
    assert view == copy
    with pytest.raises(FrozenInstanceError):
        view.status = "failed"  # type: ignore[misc]


# -- streamed text and retries -----------------------------------------------------------


def test_a_retry_clears_the_text_the_node_streamed_before_it() -> None:
    view = view_of(CREATED, started("Outline"), finished("Outline"), started("Write"))
    view = fold_all(view, [delta("Outline", "kept"), delta("Write", "first try")])
    retry = {"node": "Write", "attempt": 1, "error": "LLMError: timeout"}
    view = fold(view, {"seq": 5, "type": "node.retry", "progress": 0, "data": retry})
    view = fold(view, delta("Write", "second try"))
    write = view.step("Write")
    assert write is not None and write.text == "second try"
    assert write.lines == (Retry(1, "LLMError: timeout"),)
    assert view.step("Outline") is not None and view.step("Outline").text == "kept"  # type: ignore[union-attr]


def test_a_batch_items_retry_drops_that_items_text_only() -> None:
    """The style pass streams its sections in order; section 2's answer is refused
    while it streams: sections 1 and 3 stay (3 was held back by the server until 2
    ended, so here it comes after 2's second try)."""
    view = view_of(CREATED, started("Style"))
    view = fold_all(view, [delta("Style", "## One\n\nFirst ", item=0),
                           delta("Style", "done.", item=0),
                           delta("Style", "## Two\n\nA refused", item=1)])  # fmt: skip
    assert view.steps[0].streamed == (
        Streamed(0, "## One\n\nFirst done."),
        Streamed(1, "## Two\n\nA refused"),
    )
    retry = {"node": "Style", "attempt": 1, "error": "OutputRejected: short", "item": 1}
    view = fold(view, {"seq": 4, "type": "node.retry", "progress": 0, "data": retry})
    assert view.steps[0].text == "## One\n\nFirst done."
    view = fold_all(view, [delta("Style", "## Two\n\nKept.", item=1),
                           delta("Style", "## Three\n\nLast.", item=2)])  # fmt: skip
    assert view.steps[0].text == "## One\n\nFirst done.## Two\n\nKept.## Three\n\nLast."
    unsaid = {"node": "Style", "attempt": 1, "error": "boom"}  # the node's own retry
    view = fold(view, {"seq": 5, "type": "node.retry", "progress": 0, "data": unsaid})
    assert view.steps[0].text == ""


def test_a_batch_retry_names_its_item() -> None:
    retry = {"node": "Style", "attempt": 2, "error": "e", "item": 3}
    view = view_of(CREATED, started("Style"), ("node.retry", retry))
    assert view.steps[0].lines == (Retry(2, "e", 3),)


def test_a_node_started_again_in_the_same_visit_resumed_after_a_restart() -> None:
    view = view_of(CREATED, STARTED, started("Write"))
    view = fold(view, delta("Write", "half an answ"))
    view = fold_all(view, story(CREATED, STARTED, started("Write"), ("job.started", {"attempt": 2}),
                                started("Write"))[3:])  # fmt: skip
    assert len(view.steps) == 1 and view.attempt == 2
    step = view.steps[0]
    assert step.lines == (Resumed(),) and step.text == "" and not step.done


# -- reviews -----------------------------------------------------------------------------


def test_a_review_opens_at_its_step_and_closes_with_who_decided_and_via_what() -> None:
    view = view_of(CREATED, started("TaskReview"), ("review.requested", REVIEW, 50))
    assert view.review == REVIEW and view.reviews == (REVIEW,)
    assert view.steps[0].waiting and view.status == "waiting_for_review"
    decided = fold_all(view, story(
        CREATED, started("TaskReview"), ("review.requested", REVIEW),
        ("review.decided", {"review_id": "rev_1", "decision": "reject", "comment": "rhyme",
                            "by": "slack:U1", "via": "slack"}),
    )[3:])  # fmt: skip
    assert decided.review is None and decided.status == "running"
    assert decided.last_decision == Decision("rev_1", "reject", "rhyme", "slack:U1", "slack")
    assert not decided.steps[0].waiting and not decided.steps[0].done
    assert decided.timeline[-2:] == (Moment("review", 0), Moment("decision", 0))


def test_a_decision_without_via_came_through_the_api() -> None:
    view = view_of(("review.decided", {"review_id": "rev_1", "decision": "approve"}))
    assert view.last_decision == Decision("rev_1", "approve", None, None, "api")


def test_an_edit_keeps_the_apis_diff_per_field_and_counts_its_lines() -> None:
    diff = {
        "title": "--- title (shown)\n+++ title (decided)\n@@ -1 +1 @@\n-Tea\n+Green tea\n",
        "markdown": "--- markdown (shown)\n+++ markdown (decided)\n@@ -1,2 +1,3 @@\n # Tea\n"
        "--- a rule, removed\n+Hot water.\n+Steep it.\n",
    }
    edited = {"review_id": "rev_1", "decision": "edit", "by": "ana", "via": "web",
              "edits": {"title": "Green tea", "markdown": "…"}, "diff": diff}  # fmt: skip
    decision = view_of(("review.decided", edited)).last_decision
    assert decision is not None and decision.diff == diff
    assert decision.lines_changed == (3, 2)  # "--- a rule" is a removed line, not a header
    assert changed_lines(diff["title"]) == (1, 1)
    approved = view_of(("review.decided", {"review_id": "rev_1", "decision": "approve"}))
    assert approved.last_decision is not None and approved.last_decision.diff == {}
    odd = view_of(("review.decided", {"review_id": "rev_1", "decision": "edit", "diff": "x"}))
    assert odd.last_decision is not None and odd.last_decision.diff == {}  # not a diff: none


def test_a_second_review_after_a_regenerate_is_listed_too() -> None:
    second = {**REVIEW, "id": "rev_2"}
    view = view_of(
        ("review.requested", REVIEW),
        ("review.decided", {"review_id": "rev_1", "decision": "regenerate", "by": "a"}),
        ("review.requested", second),
    )
    assert view.review == second and view.reviews == (REVIEW, second)
    assert [m.kind for m in view.timeline] == ["review", "decision", "review"]


# -- the end -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "data", "status"),
    [
        ("job.completed", {"result": {"markdown": "# Tea"}}, "completed"),
        ("job.failed", {"error": {"type": "LLMError", "message": "down"}}, "failed"),
        ("job.cancelled", {"by": "admin"}, "cancelled"),
    ],
)
def test_a_terminal_event_ends_the_job_its_steps_and_its_review(
    kind: str, data: dict[str, Any], status: str
) -> None:
    view = view_of(CREATED, started("Done"), finished("Done"), started("TaskReview"),
                   ("review.requested", REVIEW), (kind, data))  # fmt: skip
    assert view.status == status and view.finished
    assert view.review is None and view.node is None
    assert [s.stopped for s in view.steps] == [None, status]
    assert all(s.done for s in view.steps)
    assert view.timeline[-1] == Moment("end")
    assert view.result == data.get("result")
    assert view.error == data.get("error")
    assert view.cancelled_by == data.get("by")


def test_a_failure_without_an_error_still_says_it_failed() -> None:
    assert view_of(("job.failed", {})).error == {"type": "Error", "message": "the job failed"}


def test_the_end_is_final() -> None:
    view = view_of(CREATED, ("job.cancelled", {"by": "admin"}, 70))
    after = story(CREATED, ("job.cancelled", {}), STARTED, ("job.completed", {"result": 1}, 100))
    assert fold(view, delta("A", "late", 10)) is view
    later = fold_all(view, after[2:])
    assert later.status == "cancelled" and later.result is None and later.steps == ()
    assert later.progress == 70 and later.cancelled_by == "admin"
    assert later.last_seq == 4 and len(later.timeline) == 1


# -- starting from a snapshot ------------------------------------------------------------


def snapshot(**fields: Any) -> dict[str, Any]:
    """A job as `GET /api/jobs/{id}` returns it."""
    return {"id": "job_1", "flow": "review", "status": "running", "input": {"task": "a haiku"},
            "owner": "admin", "progress": 40, "current_node": "Process", "review": None,
            "result": None, "error": None, "last_seq": 5} | fields  # fmt: skip


def test_a_surface_that_reconnects_starts_from_the_snapshot_then_folds_what_follows() -> None:
    view = JobView.from_job(snapshot())
    assert (view.job_id, view.flow, view.status, view.progress) == (
        "job_1",
        "review",
        "running",
        40,
    )
    assert view.node == "Process" and view.last_seq == 5 and view.steps == ()
    assert not view.finished and view.timeline == ()
    later = fold_all(view, story(
        CREATED, STARTED, started("Process"),
        ("node.progress", {"node": "Process", "message": "a"}),
        ("node.progress", {"node": "Process", "message": "b"}),
        ("node.progress", {"node": "Process", "message": "c"}, 60),
        ("node.finished", {"node": "Process", "duration_ms": 900, "summary": None}, 60),
    ))  # fmt: skip
    assert later.last_seq == 7 and later.progress == 60
    assert later.steps == (
        Step("Process", None, (Progress("c"),), finished=True, duration_ms=900),
    )  # joined mid-node: events up to seq 5 are in the snapshot, not replayed


def test_a_snapshot_waiting_for_review_has_the_review_open() -> None:
    view = JobView.from_job(snapshot(status="waiting_for_review", review=REVIEW,
                                     current_node="TaskReview"))  # fmt: skip
    assert view.review == REVIEW and view.reviews == (REVIEW,)
    assert view.timeline == (Moment("review"),)
    decision = {"review_id": "rev_1", "decision": "approve", "by": "bo"}
    decided = fold(view, {"seq": 6, "type": "review.decided", "progress": 40, "data": decision})
    assert decided.review is None and decided.last_decision is not None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"status": "completed", "result": {"output": "x"}, "progress": 100}, None),
        ({"status": "failed", "error": {"type": "LLMError", "message": "down"}},
         {"type": "LLMError", "message": "down"}),
        ({"status": "failed"}, {"type": "Error", "message": "the job failed"}),
        ({"status": "cancelled"}, None),
    ],
)  # fmt: skip
def test_a_snapshot_of_a_finished_job_is_final(
    fields: dict[str, Any], error: dict[str, Any] | None
) -> None:
    view = JobView.from_job(snapshot(current_node=None, **fields))
    assert view.finished and view.node is None and view.error == error
    assert view.timeline == (Moment("end"),)
    assert fold(view, {"seq": 9, "type": "job.started", "data": {}}).status == fields["status"]


def test_the_create_response_is_a_snapshot_too() -> None:
    view = JobView.from_job(snapshot(status="pending", progress=0, current_node=None, last_seq=1))
    assert view.status == "pending" and view.flow == "review"
    assert fold(view, story(CREATED)[0]) is view  # job.created (seq 1) is in the snapshot


def test_every_event_type_of_the_server_is_folded() -> None:
    from backend.job_view import _HANDLERS  # a new event type must be taught to the fold

    in_job_streams = {e.value for e in EventType} - {EventType.SESSION_FRAME.value}
    assert set(_HANDLERS) == in_job_streams  # session.frame only rings a session's channel


def test_surfaces_without_an_editor_offer_the_one_click_options() -> None:
    from backend.job_view import one_click_options

    review = {"options": ["approve", "reject", "edit"]}
    assert one_click_options(review) == ["approve", "reject"]
    assert one_click_options(None) == []


def test_an_editor_offers_the_reviews_editable_text_fields() -> None:
    from backend.job_view import editable_text

    article = {
        "options": ["approve", "revise", "edit"],
        "editable": ["title", "markdown"],
        "payload": {"title": "Tea", "markdown": "# Tea\n\nHot.", "artifact_id": "art_1"},
    }
    assert editable_text(article) == {"title": "Tea", "markdown": "# Tea\n\nHot."}
    task = {"options": ["approve", "reject", "edit"], "editable": ["output", "attempt"],
            "payload": {"task": "t", "output": "Leaves fall", "attempt": 2}}  # fmt: skip
    assert editable_text(task) == {"output": "Leaves fall"}  # a number stays a number
    assert editable_text({**task, "options": ["approve", "reject"]}) == {}  # no edit offered
    assert editable_text({**task, "editable": ["gone"]}) == {}  # not in the payload
    assert editable_text(REVIEW) == editable_text(None) == {}
