"""Reviews in the web chat, in a real browser (Debian's Chromium, driven by Playwright),
against the real API and UI processes: editing before approving (the edited text is the
result, the API records the edit and its diff as alice's, via web, and the chat shows the
diff under the decision, also to a page opened later), a reviewer
assigned to someone else's job deciding it from a link (the request shown as its owner's,
and no Cancel, which the owner has), and a review's deadline and its half-time reminder
shown as they come.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.ui.chat_page import CHROMIUM, JOB_TIMEOUT, ChatPage, logged_in
from tests.ui.stack import Stack

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")

ANSWER = "Leaves fall quietly\nthe kettle sings in the dusk\nautumn settles in"  # stack.RULES
EDITED = "Leaves fall quietly\nthe kettle hums in the moonlight\nautumn settles in"


@pytest.fixture
def contexts(browser: Browser, stack: Stack) -> Iterator[dict[str, BrowserContext]]:
    """A browser profile each for alice and bob, logged in; closed after the test."""
    made = {name: logged_in(browser, stack.ui.url, name) for name in ("alice", "bob")}
    yield made
    for context in made.values():
        context.close()


def chat_of(contexts: dict[str, BrowserContext], stack: Stack, name: str) -> ChatPage:
    return ChatPage(contexts[name].new_page(), stack.ui.url)


def create_job(stack: Stack, as_: str, task: str, **terms: Any) -> str:
    """A task job of the person's, made through the API with their own token."""
    with stack.http(as_) as http:
        response = http.post("/api/jobs", json={"flow": "review", "input": {"task": task}, **terms})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def review_opened(stack: Stack, as_: str, job_id: str) -> None:
    """Return once the job's review is open: its event stream says so."""
    path, accept = f"/api/jobs/{job_id}/events", {"Accept": "text/event-stream"}
    with stack.http(as_) as http, http.stream("GET", path, headers=accept, timeout=60) as events:
        for line in events.iter_lines():
            if line == "event: review.requested":
                return
    raise AssertionError(f"the stream of {job_id} ended without opening a review")


def decided_events(stack: Stack, job_id: str) -> list[dict[str, Any]]:
    """The data of the job's `review.decided` events, as its owner alice reads them."""
    with stack.http("alice") as http:
        answer = http.get(f"/api/jobs/{job_id}/events", headers={"Accept": "application/json"})
    return [e["data"] for e in answer.json()["events"] if e["type"] == "review.decided"]


def expect_the_diff(chat: ChatPage) -> None:
    """Under the decision line, a block of what alice changed: the line removed, the line
    added, and not the lines she left alone."""
    expect(chat.step("Changes to the answer")).to_be_visible(timeout=JOB_TIMEOUT)
    block = chat.chat.locator(".thought-group", has_text="Changes to the answer").locator("code")
    expect(block).to_be_visible()  # a short diff is shown open
    expect(block).to_contain_text("-the kettle sings in the dusk")
    expect(block).to_contain_text("+the kettle hums in the moonlight")
    expect(block).not_to_contain_text("+Leaves fall quietly")


def test_an_edit_before_approving_is_the_result_and_is_recorded_as_alices(
    contexts: dict[str, BrowserContext], stack: Stack, artifacts_dir: Path
) -> None:
    chat = chat_of(contexts, stack, "alice").open()
    chat.send("/task Write a haiku about an edited kettle")
    edit = chat.page.locator("#gf-edit")
    expect(edit).to_be_visible(timeout=JOB_TIMEOUT)
    expect(chat.decision("Approve")).to_be_visible()  # the one-click options stay
    expect(chat.decision("Reject")).to_be_visible()

    edit.click()
    editor, box = chat.page.locator("#gf-editor"), chat.page.locator("#gf-edit-0 textarea")
    expect(editor).to_be_visible()
    expect(box).to_have_value(ANSWER)  # prefilled with the answer under review
    expect(chat.decision("Approve")).to_have_count(0)  # no Approve that would drop the edit
    expect(chat.page.locator("#gf-edit-1")).to_be_hidden()  # a task has one editable field
    box.fill(EDITED)
    chat.comment.fill("a calmer second line")
    chat.screenshot(artifacts_dir, "edit")
    editor.get_by_role("button", name="Approve with my edits").click()

    chat.expect_status("completed")
    expect(chat.review).to_be_hidden()
    expect(chat.chat).to_contain_text("Approved with edits via web by alice")
    expect(chat.chat).to_contain_text("the kettle hums in the moonlight")  # the result
    expect_the_diff(chat)
    chat.screenshot(artifacts_dir, "edit-diff")
    job_id = chat.job_id()
    expect_the_diff(chat_of(contexts, stack, "alice").open(job_id))  # a later visitor too
    with stack.http("alice") as http:
        job = http.get(f"/api/jobs/{job_id}").json()
    assert job["result"]["output"] == EDITED  # the job went on with the edited answer
    (decided,) = decided_events(stack, job_id)
    assert decided["decision"] == "edit"
    assert (decided["by"], decided["via"]) == ("alice", "web")
    assert decided["edits"] == {"output": EDITED}
    assert decided["comment"] == "a calmer second line"
    diff = decided["diff"]["output"].splitlines()
    assert "-the kettle sings in the dusk" in diff and "+the kettle hums in the moonlight" in diff
    assert "+Leaves fall quietly" not in diff  # only the changed line


def test_cancel_edit_goes_back_to_the_buttons_and_sends_nothing(
    contexts: dict[str, BrowserContext], stack: Stack
) -> None:
    job_id = create_job(stack, "alice", "Write a haiku about an unsent edit")
    chat = chat_of(contexts, stack, "alice").open(job_id)
    chat.page.locator("#gf-edit").click()
    chat.page.locator("#gf-edit-0 textarea").fill("not sent")
    chat.page.get_by_role("button", name="Cancel edit").click()
    expect(chat.page.locator("#gf-editor")).to_be_hidden()
    expect(chat.decision("Approve")).to_be_visible()
    with stack.http("alice") as http:
        job = http.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "waiting_for_review" and job["review"]["payload"]["output"] == ANSWER


def test_a_reviewer_alice_assigned_decides_her_job_from_a_link(
    contexts: dict[str, BrowserContext], stack: Stack, artifacts_dir: Path
) -> None:
    job_id = create_job(stack, "alice", "Write a haiku for bob to review", reviewers=["bob"])
    review_opened(stack, "alice", job_id)
    chat = chat_of(contexts, stack, "bob").open()
    listed = chat.jobs.locator(f"[data-job='{job_id}']")
    expect(listed).to_contain_text("by alice")  # waiting for him in his jobs list
    chat = chat_of(contexts, stack, "bob").open(job_id)
    expect(chat.page.locator("#gf-principal")).to_have_text("bob")
    expect(chat.chat).to_contain_text("the kettle sings in the dusk", timeout=JOB_TIMEOUT)
    # alice's request reads as hers, on the other side, not as a line of bob's
    asked = chat.chat.locator(".bot-row", has_text="alice asked:")
    expect(asked).to_contain_text("/task Write a haiku for bob to review")
    expect(chat.chat.locator(".user-row")).to_have_count(0)
    expect(chat.decision("Approve")).to_be_visible()
    expect(chat.page.locator("#gf-cancel")).to_be_hidden()  # bob may decide, not cancel
    chat.screenshot(artifacts_dir, "others-request")
    owner = chat_of(contexts, stack, "alice").open(job_id)
    mine = owner.chat.locator(".user-row")  # her own job: her line, as she typed it
    expect(mine).to_have_text("/task Write a haiku for bob to review", timeout=JOB_TIMEOUT)
    expect(owner.chat).not_to_contain_text("asked:")
    expect(owner.decision("Approve")).to_be_visible()
    expect(owner.page.locator("#gf-cancel")).to_be_visible()  # alice's job: she may
    chat.decision("Approve").click()

    chat.expect_status("completed")
    expect(chat.chat).to_contain_text("Approved via web by bob")
    owner.expect_status("completed")
    expect(owner.page.locator("#gf-cancel")).to_be_hidden()
    (decided,) = decided_events(stack, job_id)
    assert (decided["decision"], decided["by"], decided["via"]) == ("approve", "bob", "web")
    # Unassigned, bob cannot open alice's job by its link: test_login_browser.py.


def test_a_review_with_a_deadline_shows_it_and_its_reminder(
    contexts: dict[str, BrowserContext], stack: Stack, artifacts_dir: Path
) -> None:
    # The reminder at 5 s (the sweep runs every second), the deadline 5 s after it: time
    # enough for the page to open before the reminder, and to see the mark before the end.
    job_id = create_job(stack, "alice", "Write a haiku against the clock", review_timeout=10)
    chat = chat_of(contexts, stack, "alice").open(job_id)
    expect(chat.chat).to_contain_text("Due at", timeout=JOB_TIMEOUT)
    expect(chat.chat).to_contain_text("undecided by then, the job is cancelled")
    reminder = chat.chat.get_by_text("This review is due at", exact=False)
    expect(reminder).to_have_count(0)  # not yet: half of its time is not gone

    expect(reminder).to_be_visible(timeout=JOB_TIMEOUT)  # the page was not reloaded
    expect(chat.chat).to_contain_text("(half of its time is gone)")
    marked = chat.jobs.locator(f"[data-job='{job_id}'][data-reminded='true']")
    expect(marked).to_contain_text("◷ due")
    chat.screenshot(artifacts_dir, "reminder")

    again = chat_of(contexts, stack, "alice").open(job_id)  # a reload folds it from events
    expect(again.chat.get_by_text("This review is due at", exact=False)).to_be_visible()
    again.page.close()

    chat.expect_status("cancelled")  # nobody decided: the deadline did
    expect(chat.chat).to_contain_text("The deadline passed: cancelled")
    expect(chat.jobs.locator(f"[data-job='{job_id}']")).not_to_have_attribute(
        "data-reminded", "true"
    )
