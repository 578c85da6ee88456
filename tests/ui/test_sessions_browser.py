"""The Sessions view in a real browser (Debian's Chromium, driven by Playwright), against a
real API process whose model is the scripted fake (tests/fakes/session_answers.py), and
the UI process: a whole GenFlow session from a category to the approved article.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.fakes.session_answers import IDEAS, NOTES, REVIEW, TOPICS
from tests.ui.chat_page import CHROMIUM, logged_in
from tests.ui.sessions_tab import ACTION_TIMEOUT, SessionsTab
from tests.ui.stack import Stack

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")

TOPIC = TOPICS["topics"][0]["title"]
MY_WORDS = "I drink mine black, before anyone else is awake."


@pytest.fixture
def new_tab(browser: Browser, stack: Stack) -> Iterator[type[SessionsTab]]:
    """Opens pages (tabs) in one browser profile, logged in as alice; closes them after."""
    context = logged_in(browser, stack.ui.url)

    def make() -> SessionsTab:
        return SessionsTab(context.new_page(), stack.ui.url)

    yield make  # type: ignore[misc]
    context.close()


def test_a_whole_session_from_a_category_to_the_approved_article(
    new_tab: type[SessionsTab], stack: Stack, artifacts_dir: Path
) -> None:
    tab = new_tab().open()
    tab.start("coffee")
    tab.expect_stage("topic")
    expect(tab.status).to_have_attribute("data-status", "idle")
    expect(tab.actions).to_have_text(["Discover topics", "Choose a topic"])

    tab.field("gs-count").fill("2")  # the fake model answers "Suggest 2 …"
    tab.act("Discover topics")
    expect(tab.topics).to_contain_text(TOPIC)
    expect(tab.topics).to_contain_text(TOPICS["topics"][1]["title"])
    tab.pick_topic(TOPIC)
    tab.act("Choose a topic")
    tab.expect_stage("research")
    expect(tab.status.locator(".gs-title")).to_have_text(TOPIC)
    expect(tab.topics).to_be_hidden()

    tab.act("Research the topic")
    tab.expect_stage("writing")
    for point in NOTES["keyPoints"]:
        expect(tab.research).to_contain_text(point)
    expect(tab.research).to_contain_text("Where did coffee start? In Ethiopia.")

    tab.act("Write the draft")
    expect(tab.draft_head).to_contain_text("version 1")
    expect(tab.editor).to_have_value(re.compile(r"## Origins"))
    expect(tab.actions).to_have_text(
        ["Write the draft", "Save my edit", "Rewrite a section", "Next stage"]
    )

    tab.page.locator("#gs-suggest").click()  # ideas on request, from the fake model
    for idea in IDEAS["suggestions"]:
        expect(tab.ideas).to_contain_text(idea)

    tab.editor.fill(tab.editor.input_value().rstrip() + f"\n\n{MY_WORDS}\n")
    tab.act("Save my edit")
    expect(tab.draft_head).to_contain_text("version 2 · your edit")
    expect(tab.editor).to_have_value(re.compile(re.escape(MY_WORDS)))

    # The same session in a second page, by its link: the same stage and draft.
    other = new_tab().open(tab.session_id())
    other.expect_stage("writing")
    expect(other.draft_head).to_contain_text("version 2 · your edit")
    expect(other.editor).to_have_value(re.compile(re.escape(MY_WORDS)))

    tab.act("Next stage")
    tab.expect_stage("styling")
    tab.field("gs-tone").fill("a warm, friendly tone")
    stack.fake.control(chunk_delay=0.03)  # the model writes slowly: watch it stream
    try:
        tab.act("Apply a style")
        expect(tab.actions).to_have_count(0)  # nothing to do while the model works
        expect(tab.live).to_contain_text("Apply a style")
        # Streamed text is live only: what was written before the page listened is not
        # shown, so look for words from the middle of a section (about 1.5 s into the
        # action). Not its very end: the page renders what arrived together at once, so
        # under load the last words can land with the action's end, which hides the block.
        expect(tab.live).to_contain_text("the drink made its way to Cairo", timeout=ACTION_TIMEOUT)
    finally:
        stack.fake.control(chunk_delay=0)
    expect(tab.live).to_be_hidden(timeout=30_000)
    expect(tab.draft_head).to_contain_text("version 3 · styled")
    expect(tab.editor).to_have_value(re.compile("Legend says a goatherd"))
    other.expect_stage("styling")  # the second page follows along
    expect(other.draft_head).to_contain_text("version 3 · styled")

    tab.act("Next stage")
    tab.expect_stage("review")
    tab.act("Review the article")
    scores = REVIEW["scores"]
    expect(tab.review).to_contain_text(
        f"Clarity {scores['clarity']}/10 · Accuracy {scores['accuracy']}/10 · "
        f"Engagement {scores['engagement']}/10"
    )
    expect(tab.review).to_contain_text(REVIEW["suggestions"][0])

    tab.act("Approve")
    tab.expect_status("completed")
    expect(tab.final.locator("h1", has_text=TOPIC)).to_be_visible()
    expect(tab.final).to_contain_text("Legend says a goatherd named Kaldi saw his goats dance.")
    expect(tab.actions).to_have_count(0)
    expect(tab.page.locator("#gs-editor")).to_be_hidden()
    expect(tab.status.locator(".gs-step.gs-done")).to_have_count(5)
    expect(tab.list.locator(".gs-current-item")).to_contain_text(TOPIC)
    expect(tab.list.locator(".gs-current-item")).to_contain_text("completed")

    other.expect_status("completed")  # live in the second page too
    expect(other.final.locator("h1", has_text=TOPIC)).to_be_visible()

    tab.page.reload()  # the link reopens the Sessions tab on the same session
    tab.expect_status("completed")
    expect(tab.final.locator("h1", has_text=TOPIC)).to_be_visible()
    expect(tab.review).to_contain_text("Clarity 8/10")
    expect(tab.list.locator(".gs-current-item")).to_contain_text(TOPIC)
    tab.screenshot(artifacts_dir, "session")


def test_a_link_to_a_session_that_does_not_exist_says_so(new_tab: type[SessionsTab]) -> None:
    tab = new_tab().open("ses_doesnotexist")
    expect(tab.status).to_contain_text("Not found: no such session (or it is not yours).")
    expect(tab.status).to_have_attribute("data-status", "none")
