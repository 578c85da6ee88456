"""The Sessions view's pure rendering: the stepper and status panel, the sessions list, the
document's parts as markdown, and what each action takes from the page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.session_answers import NOTES, REVIEW, TOPICS
from ui.session_actions import (
    Filled,
    Incomplete,
    label,
    parameters,
    shown_fields,
    variant,
)
from ui.session_document import (
    draft_heading,
    final_markdown,
    ideas_markdown,
    live_markdown,
    research_markdown,
    review_markdown,
    topic_choices,
)
from ui.session_handlers import article_id
from ui.session_panels import sessions_html, status_html, stepper_html
from ui.session_view import Live


def state(stage: str = "writing", status: str = "idle", **document: Any) -> dict[str, Any]:
    return {
        "sessionId": "ses_1",
        "articleId": "web-coffee-1",
        "progress": {"stage": stage, "status": status, "progress": 40, "currentStep": None},
        "availableActions": [],
        "lastMessage": "Research notes ready",
        "document": document,
        "lastEventId": 3,
    }


# -- the stepper and the status panel ------------------------------------------------------


def test_the_stepper_marks_the_stages_before_done_and_highlights_the_current_one() -> None:
    html = stepper_html("writing", "idle")
    assert html.count("gs-done") == 2 and html.count("gs-current") == 1
    assert '<li class="gs-step gs-current" data-stage="writing" aria-current="step">' in html
    assert html.count("gs-todo") == 2
    assert html.index('data-stage="topic"') < html.index('data-stage="review"')


def test_a_completed_session_has_every_stage_done() -> None:
    html = stepper_html("review", "completed")
    assert html.count("gs-done") == 5 and "gs-current" not in html


def test_status_shows_the_topic_state_progress_message_and_a_link() -> None:
    html = status_html(state(topic={"title": "Coffee & <b>tea</b>", "angle": "Why."}))
    assert 'data-stage="writing"' in html and 'data-status="idle"' in html
    assert "Coffee &amp; &lt;b&gt;tea&lt;/b&gt;" in html  # typed by someone: escaped
    assert "✎ your turn" in html and "40%" in html and "Research notes ready" in html
    assert 'href="?session=ses_1"' in html


def test_status_while_working_names_the_action() -> None:
    working = state(status="processing")
    working["progress"]["currentStep"] = "Write the draft"
    assert "⚙ Write the draft…" in status_html(working)


def test_without_a_session_the_status_says_how_to_start_and_what_went_wrong() -> None:
    html = status_html(None, notice="⚠ Not found: no such session.", problem="API down")
    assert 'data-status="none"' in html and "New session" in html
    assert "⚠ Not found: no such session." in html and "API down" in html


# -- the sessions list ----------------------------------------------------------------------


def test_the_sessions_list_links_each_session_and_marks_the_current_one() -> None:
    untitled = state(stage="topic")
    untitled["sessionId"] = "ses_2"
    html = sessions_html([state(topic={"title": "Why <coffee>"}), untitled], current="ses_2")
    assert 'href="?session=ses_1"' in html and "Why &lt;coffee&gt;" in html
    assert '<a class="gs-item gs-current-item" href="?session=ses_2"' in html
    assert "web-coffee-1" in html  # no topic yet: its article id
    assert "writing · your turn" in html


def test_an_empty_or_failed_sessions_list_says_so() -> None:
    assert "No sessions yet." in sessions_html([], current=None)
    assert "unreachable" in sessions_html([], current=None, problem="unreachable")


# -- the document ---------------------------------------------------------------------------


def test_topics_are_choices_by_id() -> None:
    topics = [{"id": "t1", **TOPICS["topics"][0]}, {"id": "t2", "title": "Tea", "angle": ""}]
    assert topic_choices(topics) == [
        ("Why coffee houses mattered — Where news was made.", "t1"),
        ("Tea", "t2"),
    ]


def test_research_notes_have_key_points_answers_and_the_outline() -> None:
    text = research_markdown(NOTES)
    assert "- Coffee was first brewed in Yemen." in text
    assert "- **Where did coffee start?** In Ethiopia." in text
    assert "1. Origins" in text
    assert research_markdown(None) == ""


def test_the_draft_heading_says_its_version_and_who_made_it() -> None:
    assert draft_heading({"version": 2, "source": "edit"}) == "### Draft · version 2 · your edit"
    assert draft_heading({"version": 3, "source": "apply_style"}).endswith("· styled")
    assert draft_heading(None) == ""


def test_the_review_has_scores_out_of_ten_a_summary_and_suggestions() -> None:
    text = review_markdown(REVIEW)
    assert "Clarity **8/10** · Accuracy **6/10** · Engagement **7/10**" in text
    assert REVIEW["summary"] in text and f"- {REVIEW['suggestions'][0]}" in text


def test_the_final_article_is_shown_once_approved() -> None:
    assert final_markdown({}) == ""
    assert final_markdown({"final": {"markdown": "# Coffee"}}).endswith("\n\n# Coffee")


def test_the_running_action_shows_its_lines_and_its_text_as_a_quote() -> None:
    live = Live(lines=["Rewriting in a warm tone"], text="## Origins\n\nLegend says", progress=0)
    text = live_markdown(live, "Apply a style")
    assert text.startswith("**⚙ Apply a style…**\n\n- Rewriting in a warm tone")
    assert "> ## Origins\n>\n> Legend says" in text
    assert "%" not in text.splitlines()[0]  # no measure yet
    assert live_markdown(Live(progress=50), None).startswith("**⚙ Working…** · 50%")


def test_ideas_while_asked_for_and_when_they_came() -> None:
    assert "Asking" in ideas_markdown([], waiting=True)
    assert ideas_markdown([], waiting=False) == ""
    assert ideas_markdown(["A", "B"], waiting=False) == "**Ideas**\n\n- A\n- B"


# -- actions --------------------------------------------------------------------------------


def action(name: str, text: str = "Text") -> dict[str, Any]:
    return {"id": name, "text": text, "action": name, "type": "button"}


def test_buttons_use_the_api_text_except_for_saving_an_edit() -> None:
    assert label(action("approve", "Approve")) == "Approve"
    assert label(action("edit_draft", "Edit the draft")) == "Save my edit"
    assert label(action("something_new", "Something new")) == "Something new"
    assert variant(action("approve")) == "primary"
    assert variant(action("advance")) == "secondary"


def test_fields_show_for_the_actions_that_need_them() -> None:
    shown = shown_fields([action("discover_topics"), action("select_topic")])
    assert shown == {"count"}
    assert shown_fields([action("request_changes"), action("approve")]) == {"feedback"}
    assert shown_fields([action("regenerate_section"), action("apply_style")]) == {
        "section",
        "tone",
    }


DRAFT = {"draft": {"markdown": "# Coffee\n\nText.", "version": 1}}


@pytest.mark.parametrize(
    ("name", "filled", "expected"),
    [
        ("discover_topics", Filled(count=2), {"count": 2}),
        ("discover_topics", Filled(count=None), {}),
        ("select_topic", Filled(topic_id="t1"), {"topicId": "t1"}),
        ("select_topic", Filled(topic_id="t1", own_title=" Mine "), {"title": "Mine"}),
        ("edit_draft", Filled(draft="# Coffee\n\nMore."), {"markdown": "# Coffee\n\nMore."}),
        ("regenerate_section", Filled(section=2), {"index": 1}),
        (
            "regenerate_section",
            Filled(section=1, instructions="shorter"),
            {"index": 0, "instructions": "shorter"},
        ),
        ("apply_style", Filled(tone="warm"), {"tone": "warm"}),
        ("apply_style", Filled(tone=" "), {}),
        ("request_changes", Filled(feedback="More sources"), {"feedback": "More sources"}),
        ("approve", Filled(feedback="ignored"), {}),
    ],
)
def test_parameters_come_from_what_the_person_filled_in(
    name: str, filled: Filled, expected: dict[str, Any]
) -> None:
    assert parameters(name, filled, DRAFT) == expected


@pytest.mark.parametrize(
    ("name", "filled", "says"),
    [
        ("select_topic", Filled(), "Pick a topic"),
        ("edit_draft", Filled(draft=" "), "empty"),
        ("edit_draft", Filled(draft="# Coffee\n\nText.\n"), "no changes"),
        ("regenerate_section", Filled(section=0), "which section"),
        ("request_changes", Filled(feedback=""), "what should change"),
    ],
)
def test_missing_parameters_are_explained_before_anything_is_sent(
    name: str, filled: Filled, says: str
) -> None:
    with pytest.raises(Incomplete, match=f"(?i){says}"):
        parameters(name, filled, DRAFT)


def test_the_article_id_says_where_a_session_came_from() -> None:
    assert article_id("The History of Coffee!").startswith("web-the-history-of-coffee-")
    assert article_id("").startswith("web-session-")
