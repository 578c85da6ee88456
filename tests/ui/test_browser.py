"""The web chat in a real browser (Debian's Chromium, driven by Playwright), against a real
API process that uses the openai backend with a fake OpenAI server, and the UI process.

Each scenario ends with a screenshot in tests/artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.ui.chat_page import CHROMIUM, ChatPage, logged_in
from tests.ui.stack import RULES, Stack

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@pytest.fixture
def new_chat(browser: Browser, stack: Stack) -> Iterator[type[ChatPage]]:
    """Opens pages (tabs) in one browser profile, logged in as alice; closes them after."""
    context = logged_in(browser, stack.ui.url)

    def make() -> ChatPage:
        return ChatPage(context.new_page(), stack.ui.url)

    yield make  # type: ignore[misc]
    context.close()


@pytest.fixture
def chat(new_chat: type[ChatPage]) -> ChatPage:
    return new_chat()


def test_article_run_shows_its_steps_then_the_article(chat: ChatPage, artifacts_dir: Path) -> None:
    requested: list[str] = []
    chat.page.on("request", lambda request: requested.append(request.url))
    chat.open()
    chat.send("/article The history of coffee")

    chat.expect_status("completed")
    expect(chat.status).to_contain_text("100%")
    for title in ("Generate outline", "Write content", "Apply style"):
        expect(chat.step(title)).to_be_visible()
    expect(chat.spinners).to_have_count(0)
    expect(chat.chat.locator("h1", has_text="Coffee, a history")).to_be_visible()
    expect(chat.chat).to_contain_text("Legend says a goatherd named Kaldi saw his goats dance.")
    expect(chat.page).to_have_url(re.compile(r"\?job=job_\w+"))
    expect(chat.jobs.locator(".gf-current")).to_contain_text("The history of coffee")
    assert [url for url in requested if not url.startswith(chat.base_url)] == []  # offline
    chat.screenshot(artifacts_dir, "article")


def test_image_regenerate_keeps_every_attempt_and_approve_finishes(
    chat: ChatPage, artifacts_dir: Path
) -> None:
    chat.open()
    chat.send("/image A lighthouse at dawn, watercolor")

    expect(chat.decision("Regenerate")).to_be_visible()
    expect(chat.decision("Reject")).to_have_count(0)  # the image review does not offer it
    expect(chat.images).to_have_count(1)
    chat.decision("Regenerate").click()

    expect(chat.images).to_have_count(2)
    expect(chat.chat).to_contain_text("Regeneration requested via web")
    chat.decision("Approve").click()

    chat.expect_status("completed")
    expect(chat.review).to_be_hidden()
    expect(chat.images).to_have_count(2)
    expect(chat.chat).to_contain_text("Approved via web")
    expect(chat.chat).to_contain_text("image 2 of 2 is the final one")
    chat.screenshot(artifacts_dir, "image")


def test_a_rejected_task_comes_back_for_review_then_is_approved(
    chat: ChatPage, artifacts_dir: Path
) -> None:
    chat.open()
    chat.send("/task Write a haiku about autumn")

    expect(chat.decision("Reject")).to_be_visible()
    expect(chat.chat).to_contain_text("the kettle sings in the dusk")
    chat.comment.fill("make it rhyme")
    chat.decision("Reject").click()

    expect(chat.chat).to_contain_text("Rejected via web by alice: “make it rhyme”")
    expect(chat.chat).to_contain_text("a haiku that rhymes, with flair")
    expect(chat.comment).to_have_value("")
    chat.decision("Approve").click()

    chat.expect_status("completed")
    expect(chat.review).to_be_hidden()
    expect(chat.chat).to_contain_text("Approved via web by alice")  # who logged in
    expect(chat.chat.locator("strong", has_text="Result")).to_be_visible()  # the final answer
    chat.screenshot(artifacts_dir, "task")


def test_a_decision_made_through_the_api_updates_the_open_page(
    chat: ChatPage, stack: Stack, artifacts_dir: Path
) -> None:
    chat.open()
    chat.send("/task Write a haiku about the sea")
    expect(chat.decision("Approve")).to_be_visible()

    with stack.http() as http:  # the admin token, deciding through the API
        job = http.get(f"/api/jobs/{chat.job_id()}").json()
        response = http.post(
            f"/api/jobs/{job['id']}/review",
            json={"review_id": job["review"]["id"], "decision": "approve", "via": "api"},
        )
        assert response.status_code == 200, response.text

    # the open page shows it without a reload: who decided, from where
    expect(chat.chat).to_contain_text("Approved via api by admin")
    expect(chat.review).to_be_hidden()
    chat.expect_status("completed")
    chat.screenshot(artifacts_dir, "decided-elsewhere")


def test_a_job_link_reopens_the_running_job_live(
    new_chat: type[ChatPage], stack: Stack, artifacts_dir: Path
) -> None:
    stack.fake.control(latency=600)  # every model call waits: the job runs until let go
    try:
        job = stack.create_job("article", {"topic": "The history of coffee in Japan"})
        chat = new_chat().open(job["id"])

        expect(chat.chat).to_contain_text("/article The history of coffee in Japan")
        expect(chat.spinners.first).to_be_visible()  # a step is running now
    finally:
        stack.fake.control(latency=0)  # the waiting call answers now, and the rest at once
    chat.expect_status("completed")
    expect(chat.spinners).to_have_count(0)
    expect(chat.step("Generate outline")).to_be_visible()
    # the model's "Coffee, a history" leaves Japan out: the topic is the title
    title = chat.chat.locator("h1", has_text="The history of coffee in Japan")
    expect(title).to_be_visible()

    chat.page.reload()  # the same job, from its events
    chat.wait_loaded()
    chat.expect_status("completed")
    expect(chat.step("Write content")).to_be_visible()
    expect(title).to_be_visible()
    chat.screenshot(artifacts_dir, "reopened")


def test_a_link_to_a_job_that_does_not_exist_says_so(chat: ChatPage) -> None:
    chat.open("job_doesnotexist")
    expect(chat.chat).to_contain_text("Not found: no such job (or it is not yours).")
    expect(chat.status).to_have_attribute("data-status", "idle")


def test_the_same_job_in_two_tabs(new_chat: type[ChatPage], artifacts_dir: Path) -> None:
    first = new_chat().open()
    first.send("/image A red kite over green hills")
    expect(first.decision("Approve")).to_be_visible()

    second = new_chat().open(first.job_id())
    expect(second.images).to_have_count(1)
    second.decision("Approve").click()

    for tab in (second, first):
        tab.expect_status("completed")
        expect(tab.chat).to_contain_text("Approved via web")
        expect(tab.review).to_be_hidden()
    expect(first.jobs.locator(".gf-current")).to_contain_text("A red kite over green hills")
    first.screenshot(artifacts_dir, "two-tabs")


def test_a_failed_job_says_why_and_stops_every_spinner(
    chat: ChatPage, stack: Stack, artifacts_dir: Path
) -> None:
    stack.fake.control(fail=[[401, 5]])  # not retried by the SDK: the node fails twice
    try:
        chat.open()
        chat.send("/task This one is doomed")
        chat.expect_status("failed")
    finally:
        stack.fake.control(reset=True, rules=RULES)
    expect(chat.chat).to_contain_text("The job failed:")
    expect(chat.spinners).to_have_count(0)
    expect(chat.page.locator("#gf-cancel")).to_be_hidden()
    chat.screenshot(artifacts_dir, "failed")
