"""A tab's GenFlow session folded from realtime frames: what it keeps, when it must re-read
the session, and when a follower may stop."""

from __future__ import annotations

from typing import Any

from ui.session_view import LIVE_CHARS, LIVE_LINES, STOP, SessionTab


def state(
    *, stage: str = "writing", status: str = "idle", last: int = 4, **extra: Any
) -> dict[str, Any]:
    return {
        "sessionId": "ses_1",
        "progress": {"stage": stage, "status": status, "progress": 40},
        "availableActions": [{"id": "advance", "text": "Next stage", "action": "advance"}],
        "document": extra.pop("document", {}),
        "lastEventId": last,
        **extra,
    }


def frame(kind: str, event_id: int | None, **data: Any) -> dict[str, Any]:
    return {"type": kind, "data": data, "metadata": {"eventId": event_id, "sessionId": "ses_1"}}


def opened(**kwargs: Any) -> SessionTab:
    tab = SessionTab()
    tab.open(state(**kwargs))
    return tab


def test_an_opened_session_is_settled_from_its_last_event() -> None:
    tab = opened()
    assert tab.session_id == "ses_1" and tab.last_event_id == 4
    assert tab.stage == "writing" and tab.settled
    assert [a["action"] for a in tab.actions] == ["advance"]


def test_a_stored_frame_makes_the_document_stale_until_it_is_read_again() -> None:
    tab = opened()
    tab.apply(frame("draft.updated", 5, draft={"version": 2}))
    assert tab.stale and tab.last_event_id == 5 and not tab.settled
    tab.read(state(last=5, document={"draft": {"markdown": "x", "version": 2}}))
    assert tab.settled and tab.draft_key == "ses_1:2"


def test_a_session_state_frame_is_a_fresh_read() -> None:
    tab = opened()
    tab.apply(frame("session.state", 6, **state(last=6, status="processing")))
    assert tab.status == "processing" and tab.actions == []  # nothing while it works
    assert not tab.settled  # frames up to 6 still to come, and an action runs
    tab.apply(frame("stage.change", 5))
    tab.apply(frame("progress.update", 6, status="idle", progress=100))
    tab.read(state(last=6))
    assert tab.settled


def test_a_running_action_streams_its_lines_and_text_into_a_fresh_panel() -> None:
    tab = opened()
    tab.live.add_text("old text")
    tab.apply(frame("progress.update", 5, status="processing", actionId="job_1", progress=0))
    assert tab.live.action_id == "job_1" and tab.live.text == ""
    for n in range(LIVE_LINES + 2):
        tab.apply(frame("progress.update", None, message=f"step {n}", progress=10 * n))
    tab.apply(frame("progress.update", None, message=f"step {LIVE_LINES + 1}"))  # repeated
    assert tab.live.lines == [f"step {n}" for n in range(2, LIVE_LINES + 2)]
    assert tab.live.progress == 10 * (LIVE_LINES + 1)
    tab.apply(frame("llm.delta", None, text="a" * LIVE_CHARS))
    tab.apply(frame("llm.delta", None, text="the end"))
    assert len(tab.live.text) == LIVE_CHARS and tab.live.text.endswith("the end")
    assert tab.last_event_id == 5  # live frames are not stored: no event id


def test_reading_a_session_with_another_running_action_starts_a_fresh_panel() -> None:
    tab = opened()
    tab.live.add_text("from before")
    tab.read(state(status="processing", activeActionId="job_2"))
    assert tab.live.action_id == "job_2" and tab.live.text == ""
    tab.live.add_text("more")
    tab.read(state(status="processing", activeActionId="job_2"))
    assert tab.live.text == "more"  # the same action: its text stays


def test_ideas_errors_and_a_copy_of_another_session() -> None:
    tab = opened()
    tab.apply(frame("suggestion", 5, suggestions=["A", "B", "C"]))
    assert tab.ideas == ["A", "B", "C"]
    tab.apply(frame("error", 6, code="action_failed", message="the model is down"))
    assert tab.notice == "⚠ the model is down"
    tab.read({**state(last=9), "sessionId": "ses_other"})
    assert tab.last_event_id == 6  # not this tab's session: ignored
    tab.read(state(stage="styling", last=6))
    assert tab.ideas == []  # they were ideas for the writing stage


def test_dropping_a_session_says_why_and_stops_its_follower() -> None:
    tab = opened()
    inbox = tab.take_over()
    tab.drop("⚠ Not found")
    assert tab.session_id is None and tab.state is None and tab.notice == "⚠ Not found"
    assert inbox.get_nowait() is STOP and not tab.following
    assert tab.settled and tab.draft_key == ""


def test_only_the_newest_follower_owns_the_tab() -> None:
    tab = opened()
    first = tab.take_over()
    second = tab.take_over()
    assert first.get_nowait() is STOP and tab.inbox is second
    tab.release(first)  # the old one ending changes nothing
    assert tab.following
    tab.release(second)
    assert not tab.following
