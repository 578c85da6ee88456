"""Events -> chat messages: what the chat shows for each moment of a job."""

from __future__ import annotations

from typing import Any

from backend.job_view import JobView
from backend.reviews.edits import diffs
from ui.conversation import ChatView, step_title

Event = dict[str, Any]


def events(*items: tuple[str, dict[str, Any]], progress: int = 0) -> list[Event]:
    return [
        {"seq": seq, "type": kind, "progress": progress, "data": data}
        for seq, (kind, data) in enumerate(items, start=1)
    ]


def view_of(*items: tuple[str, dict[str, Any]]) -> ChatView:
    view = ChatView(JobView("job_1"))
    for event in events(*items):
        view.apply(event)
    return view


CREATED = ("job.created", {"flow": "article", "input": {"topic": "Tea"}})
STARTED = ("job.started", {"attempt": 1})


def test_a_running_node_is_a_pending_step_with_its_progress_and_streamed_text() -> None:
    view = view_of(
        CREATED,
        STARTED,
        ("node.started", {"node": "ApplyStyle", "attempt": 1}),
        ("node.progress", {"node": "ApplyStyle", "message": "Rewriting", "fraction": None}),
    )
    view.apply({"seq": None, "type": "llm.delta", "data": {"node": "ApplyStyle", "text": "Tea "}})
    view.apply({"seq": None, "type": "llm.delta", "data": {"node": "ApplyStyle", "text": "is."}})

    user, step = view.messages()
    assert user == {"role": "user", "content": "/article Tea"}
    assert step["metadata"] == {"title": "Apply style", "status": "pending"}
    assert step["content"] == "- Rewriting\n\nTea is."
    assert view.status == "running"


def test_a_finished_node_is_done_with_its_duration_and_summary() -> None:
    view = view_of(
        CREATED,
        ("node.started", {"node": "GenerateOutline", "attempt": 1}),
        ("node.finished", {"node": "GenerateOutline", "duration_ms": 1500, "summary": "3 parts"}),
    )
    assert view.messages()[-1]["metadata"] == {
        "title": "Generate outline",
        "status": "done",
        "duration": 1.5,
        "log": "3 parts",
    }


def test_replayed_events_are_not_shown_twice() -> None:
    view = view_of(CREATED, ("node.started", {"node": "Process", "attempt": 1}))
    for event in events(CREATED, ("node.started", {"node": "Process", "attempt": 1})):
        view.apply(event)
    assert len(view.messages()) == 2
    assert view.last_seq == 2


def test_images_are_kept_per_attempt_and_shown_from_local_files() -> None:
    image = {"kind": "image", "mime": "image/png", "url": "/api/artifacts/a"}
    view = view_of(
        ("job.created", {"flow": "image", "input": {"prompt": "A kite"}}),
        ("artifact.created", {**image, "artifact_id": "art_1", "name": "image-1.png"}),
        ("artifact.created", {**image, "artifact_id": "art_2", "name": "image-2.png"}),
        ("artifact.created", {"artifact_id": "art_3", "kind": "markdown", "mime": "text/markdown"}),
    )
    assert view.pictures() == ["art_1", "art_2"]
    shown = view.messages({"art_1": "/tmp/art_1.png", "art_2": ""})
    assert shown[1]["content"] == {"path": "/tmp/art_1.png", "alt_text": "image-1.png"}
    assert shown[2]["content"] == "Image image-2.png (could not be loaded)"
    assert view.messages()[1]["content"] == "Image image-1.png (loading…)"


REVIEW = {
    "id": "rev_1",
    "node": "TaskReview",
    "prompt": "Approve the answer, or reject it",
    "options": ["approve", "reject"],
    "payload": {"output": "Leaves fall\nquietly"},
}


def test_an_open_review_shows_the_answer_and_offers_its_options() -> None:
    view = view_of(
        CREATED,
        ("node.started", {"node": "TaskReview", "attempt": 1}),
        ("review.requested", REVIEW),
    )
    assert view.status == "waiting_for_review"
    assert view.open_review == REVIEW
    step, note = view.messages()[-2:]
    assert step["metadata"]["status"] == "pending"
    assert step["metadata"]["log"] == "waiting for a decision"
    assert note["content"] == (
        "⚑ **Your review, please:** Approve the answer, or reject it\n\n> Leaves fall\n> quietly"
    )
    view.answered = "rev_1"  # this page sent a decision: the buttons go at once
    assert view.open_review is None


def test_a_decision_says_who_decided_where_and_closes_the_review() -> None:
    view = view_of(
        CREATED,
        ("review.requested", REVIEW),
        (
            "review.decided",
            {"review_id": "rev_1", "decision": "reject", "comment": "rhyme", "by": "ana",
             "via": "slack"},
        ),
    )  # fmt: skip
    assert view.messages()[-1]["content"] == "✘ **Rejected** via slack by ana: “rhyme”"
    assert view.review is None
    assert view.status == "running"


def edited(shown: dict[str, str], edits: dict[str, str], **decided: Any) -> ChatView:
    """A job whose review of `shown` was decided with `edits`, the event's diff made by the
    API's own function (backend/reviews/edits.py), as the server records it."""
    review = {**REVIEW, "options": ["approve", "edit"], "payload": shown}
    data = {"review_id": "rev_1", "decision": "edit", "by": "ana", "via": "web",
            "edits": edits, "diff": diffs(shown, edits), **decided}  # fmt: skip
    return view_of(CREATED, ("review.requested", review), ("review.decided", data))


def test_an_edit_shows_what_was_changed_under_the_decision_line() -> None:
    view = edited(
        {"output": "Leaves fall\nthe kettle sings\nautumn"},
        {"output": "Leaves fall\nthe kettle hums\nautumn"},
        comment="calmer",
    )
    decision, changes = view.messages()[-2:]
    assert decision["content"] == "✎ **Approved with edits** via web by ana: “calmer”"
    assert changes["metadata"] == {"title": "Changes to the answer", "log": "+1 -1 lines"}
    assert changes["content"] == (  # open (short): what was removed, what was added
        "```diff\n@@ -1,3 +1,3 @@\n Leaves fall\n-the kettle sings\n+the kettle hums\n autumn\n```"
    )


def test_an_articles_edit_shows_each_field_and_a_long_one_starts_closed() -> None:
    before = "# Tea\n\n" + "\n".join(f"Line {n}." for n in range(40))
    after = before.replace("Line 3.", "Line three.").replace("Line 30.", "```\ncode\n```")
    view = edited({"title": "Tea", "markdown": before}, {"title": "Green tea", "markdown": after})
    changes = view.messages()[-1]
    assert changes["metadata"] == {
        "title": "Changes to the title and the article (Markdown)",
        "log": "+5 -3 lines",
        "status": "done",  # two hunks of an article: more than a screenful, closed
    }
    title, markdown = changes["content"].split("\n\n**the article (Markdown)**\n\n")
    assert title == "**the title**\n\n```diff\n@@ -1 +1 @@\n-Tea\n+Green tea\n```"
    lines = markdown.splitlines()
    assert "-Line 3." in lines and "+Line three." in lines and "-Line 30." in lines
    assert (lines[0], lines[-1]) == ("````diff", "````")  # the article's ``` cannot close it


def test_a_decision_without_edits_shows_no_changes() -> None:
    decided = {"review_id": "rev_1", "decision": "approve", "by": "ana", "via": "web"}
    view = view_of(CREATED, ("review.requested", REVIEW), ("review.decided", decided))
    assert "metadata" not in view.messages()[-1]


def test_a_slack_user_without_an_account_is_named_by_their_slack_id() -> None:
    decided = {"review_id": "rev_1", "decision": "approve", "by": "slack:T1:U0ANA", "via": "slack"}
    view = view_of(CREATED, ("review.requested", REVIEW), ("review.decided", decided))
    assert view.messages()[-1]["content"] == "✔ **Approved** via slack by Slack user U0ANA"


def test_a_failure_says_why_and_leaves_no_step_spinning() -> None:
    view = view_of(
        CREATED,
        ("node.started", {"node": "Process", "attempt": 1}),
        ("job.failed", {"error": {"type": "LLMError", "message": "the model is down"}}),
    )
    assert view.finished
    step = view.messages()[-2]["metadata"]
    assert step == {"title": "Process", "status": "done", "log": "failed"}
    assert view.messages()[-1]["content"] == "✘ **The job failed:** the model is down"


def test_a_cancelled_job_stops_its_steps() -> None:
    view = view_of(
        CREATED,
        ("node.started", {"node": "Process", "attempt": 1}),
        ("review.requested", REVIEW),
        ("job.cancelled", {"by": "admin"}),
    )
    assert view.open_review is None
    assert view.messages()[-3]["metadata"]["status"] == "done"
    assert view.messages()[-1]["content"] == "■ **Cancelled** by admin"


def test_results_read_as_an_article_an_answer_or_the_chosen_image() -> None:
    article = view_of(
        CREATED, ("job.completed", {"result": {"title": "Tea", "markdown": "# Tea\n\nHot."}})
    )
    assert article.messages()[-1] == {"role": "assistant", "content": "# Tea\n\nHot."}
    answer = view_of(CREATED, ("job.completed", {"result": {"output": "Done it", "attempts": 2}}))
    assert answer.messages()[-1]["content"] == "✔ **Result**\n\nDone it"
    image = view_of(
        CREATED,
        ("job.completed", {"result": {"artifact_id": "b", "attempts": ["a", "b"], "url": "/x"}}),
    )
    assert image.messages()[-1]["content"] == "✔ **Done:** image 2 of 2 is the final one."
    assert image.progress == 0 and image.status == "completed"


def test_a_node_resumed_after_a_restart_keeps_its_step() -> None:
    view = view_of(
        CREATED,
        ("node.started", {"node": "WriteContent", "attempt": 1}),
        ("job.started", {"attempt": 2}),
        ("node.started", {"node": "WriteContent", "attempt": 1}),
    )
    assert len(view.messages()) == 2
    assert view.messages()[-1]["content"] == "- resumed after a restart"


def test_a_retry_says_which_item_of_a_batch_runs_again() -> None:
    """The style pass rewrites three sections at once: "retrying" alone did not say which."""
    error = "OutputRejected: the rewrite has 78 words but the original has 152"
    view = view_of(
        CREATED,
        ("node.started", {"node": "ApplyStyle", "attempt": 1}),
        ("node.retry", {"node": "ApplyStyle", "attempt": 1, "error": error, "item": 2}),
        ("node.retry", {"node": "ApplyStyle", "attempt": 1, "error": "LLMError: timeout"}),
    )
    assert view.messages()[-1]["content"] == (
        f"- retrying item 3: {error}\n- retrying: LLMError: timeout"
    )


def test_one_sections_retry_leaves_the_other_sections_text_in_the_step() -> None:
    """The style pass streams its sections in order; the second one's rewrite is
    refused: the first section stays on screen (the whole step's text went)."""
    view = view_of(CREATED, ("node.started", {"node": "ApplyStyle", "attempt": 1}))

    def streamed(item: int, text: str) -> None:
        data = {"node": "ApplyStyle", "item": item, "text": text}
        view.apply({"seq": None, "type": "llm.delta", "data": data})

    streamed(0, "## Origins\n\nTea began in China.")
    streamed(1, "\n\n## Today\n\nShort.")
    error = "OutputRejected: the rewrite has 2 words but the original has 40"
    retry = {"node": "ApplyStyle", "attempt": 1, "error": error, "item": 1}
    view.apply({"seq": 3, "type": "node.retry", "progress": 0, "data": retry})
    streamed(1, "\n\n## Today\n\nPeople drink it everywhere.")
    assert view.messages()[-1]["content"] == (
        f"- retrying item 2: {error}\n\n"
        "## Origins\n\nTea began in China.\n\n## Today\n\nPeople drink it everywhere."
    )


def test_the_request_is_shown_once_even_when_the_page_showed_it_first() -> None:
    view = ChatView(JobView("job_1"))
    view.apply({"type": "job.created", "data": CREATED[1]})  # from the create response
    for event in events(CREATED, STARTED):
        view.apply(event)
    assert view.messages() == [{"role": "user", "content": "/article Tea"}]


def test_someone_elses_job_shows_who_asked_not_a_line_of_the_viewers() -> None:
    view = ChatView.of_job(
        {"id": "job_1", "flow": "review", "input": {"task": "Write a haiku"}, "owner": "alice"},
        viewer="bob",  # a reviewer (or an admin) reading alice's job
    )
    (asked,) = view.messages()
    assert asked == {"role": "assistant", "content": "**alice asked:**\n\n> /task Write a haiku"}


def test_the_viewers_own_job_shows_the_request_as_their_line() -> None:
    job = {"id": "job_1", "flow": "review", "input": {"task": "Write a haiku"}, "owner": "alice"}
    assert ChatView.of_job(job, viewer="alice").messages() == [
        {"role": "user", "content": "/task Write a haiku"}
    ]
    reopened = ChatView(JobView("job_1"), viewer="bob")  # from a link: events, then owner
    reopened.snapshot({**job, "owner": "slack:T1:U2", "status": "running"})
    reopened.apply({"seq": 1, "type": "job.created", "data": {"flow": "article", "input": {}}})
    assert reopened.messages()[0]["content"].startswith("**Slack user U2 asked:**")


def test_step_titles_read_as_words() -> None:
    assert step_title("GenerateImage", 1) == "Generate image"
    assert step_title("GenerateImage", 2) == "Generate image (attempt 2)"
    assert step_title("write_summary", 1) == "Write summary"


def test_a_workflow_review_shows_what_to_judge_and_its_result_may_be_an_object() -> None:
    workflow = ("job.created", {"flow": "workflow", "input": {"input_data": {"topic": "Tea"}}})
    review = {"id": "rev_2", "prompt": "Approve the draft", "options": ["approve", "reject"],
              "payload": {"show": "Tea is a leaf."}}  # fmt: skip
    view = view_of(workflow, ("review.requested", review))
    assert view.messages()[-1]["content"] == (
        "⚑ **Your review, please:** Approve the draft\n\n> Tea is a leaf."
    )
    done = view_of(workflow, ("job.completed", {"result": {"output": {"reply": "Hi"}}}))
    assert done.messages()[-1]["content"] == ('✔ **Result**\n\n```json\n{\n  "reply": "Hi"\n}\n```')
