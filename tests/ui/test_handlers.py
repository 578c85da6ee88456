"""The UI's event handlers through gradio_client (no browser): what the chat would show.

Each test is one tab (one gradio_client session, logged in as alice with `auth=`, which
posts the login form). Outputs come back without the layout updates: `start` gives
(chat, status, review prompt, timer, job id, input text) and a follower gives (chat,
status, review prompt, timer, job id, jobs panel).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gradio_client import Client

from tests.e2e.server import free_port
from tests.ui.stack import PEOPLE, USER, Stack, UIProcess

CHAT, STATUS, PROMPT, TIMER, JOB_ID = range(5)


def page(url: str, name: str = USER) -> Client:
    """One tab of the UI, logged in as `name`."""
    return Client(url, verbose=False, download_files=False, auth=(name, PEOPLE[name]))


@pytest.fixture
def tab(stack: Stack) -> Iterator[Client]:
    client = page(stack.ui.url)
    yield client
    client.close()


def texts(chat: list[dict[str, Any]]) -> list[str]:
    """Each message's text, as the chat shows it."""
    return [
        " ".join(part.get("text", "") for part in message["content"] if part.get("type") == "text")
        for message in chat
    ]


def last_output(client: Client, api_name: str, *args: Any) -> tuple[Any, ...]:
    """Run a (streaming) handler to its end; its last outputs."""
    job = client.submit(*args, api_name=api_name)
    job.result(timeout=30)
    return job.outputs()[-1]


def test_invalid_input_shows_the_apis_explanation_and_keeps_the_text(tab: Client) -> None:
    line = "/article " + "x" * 600
    out = tab.predict(line, "article", api_name="/start")
    assert texts(out[CHAT]) == [line, texts(out[CHAT])[1]]
    assert "Invalid input for flow 'article'" in texts(out[CHAT])[1]
    assert "`input.topic`" in texts(out[CHAT])[1]
    assert out[JOB_ID] == ""
    assert out[-1] == line  # the text stays in the box, to fix and send again


def test_commands_are_explained(tab: Client) -> None:
    out = tab.predict("/nope do it", "article", api_name="/start")
    assert "Unknown command `/nope`" in texts(out[CHAT])[-1]
    out = tab.predict("/help", "article", api_name="/start")
    help_text = texts(out[CHAT])[-1]
    for usage in ("/article TOPIC", "/task TASK", "/image PROMPT"):
        assert usage in help_text
    assert out[-1] == ""


def test_a_follower_ends_while_the_job_waits_for_review(tab: Client, stack: Stack) -> None:
    out = tab.predict("Write a haiku about snow", "review", api_name="/start")
    job_id = out[JOB_ID]
    assert job_id.startswith("job_")
    assert "Do a task with human review" in out[STATUS]

    out = last_output(tab, "/follow")  # returns: nothing holds a worker during the review
    with stack.http() as http:
        assert http.get(f"/api/jobs/{job_id}").json()["status"] == "waiting_for_review"
    assert "Approve the answer" in out[PROMPT]
    assert out[TIMER]["active"] is True  # the page polls for decisions made elsewhere
    assert 'data-status="waiting_for_review"' in out[STATUS]

    out = tab.predict("", api_name="/decide_0")  # Approve
    assert out[PROMPT] == ""  # the buttons go at once
    out = last_output(tab, "/follow_decision_0")
    assert 'data-status="completed"' in out[STATUS]
    assert "✔ **Approved** via web by alice" in texts(out[CHAT])  # who logged in
    assert out[TIMER]["active"] is False
    assert job_id in out[-1]  # the jobs panel


def test_tabs_are_followed_at_the_same_time(stack: Stack) -> None:
    """A long job followed in one tab does not hold up another tab (nor its state)."""
    first, second = page(stack.ui.url), page(stack.ui.url)
    stack.fake.control(hold=["Slow coffee"])  # the article's model calls wait, the task's not
    try:
        slow = first.predict("/article Slow coffee", "article", api_name="/start")[JOB_ID]
        following = first.submit(api_name="/follow")
        second.predict("/task Write a haiku about rain", "review", api_name="/start")
        out = last_output(second, "/follow")  # ends at the review, while the article runs
        with stack.http() as http:
            assert http.get(f"/api/jobs/{slow}").json()["status"] == "running"
        assert 'data-status="waiting_for_review"' in out[STATUS]
        assert out[JOB_ID] != slow
        stack.fake.control(release=True)  # the article goes on: its tab follows it to the end
        following.result(timeout=30)
        assert 'data-status="completed"' in following.outputs()[-1][STATUS]
    finally:
        stack.fake.control(release=True)
        first.close()
        second.close()


def test_a_decision_after_another_wins_says_so(tab: Client, stack: Stack) -> None:
    tab.predict("Write a haiku about fog", "review", api_name="/start")
    out = last_output(tab, "/follow")
    with stack.http() as http:
        job = http.get(f"/api/jobs/{out[JOB_ID]}").json()
        body = {"review_id": job["review"]["id"], "decision": "reject", "comment": "no"}
        assert http.post(f"/api/jobs/{job['id']}/review", json=body).status_code == 200

    out = tab.predict("", api_name="/decide_0")  # Approve, too late
    assert "Someone else decided first" in texts(out[CHAT])[-1]
    assert out[PROMPT] == ""


def test_cancel_stops_a_running_job(tab: Client, stack: Stack) -> None:
    stack.fake.control(latency=2.0)  # the outline takes a while: the job is still running
    try:
        out = tab.predict("/article Slow tea", "article", api_name="/start")
        tab.predict(api_name="/cancel")
        out = last_output(tab, "/follow_cancel")
    finally:
        stack.fake.control(latency=0)
    assert 'data-status="cancelled"' in out[STATUS]
    assert texts(out[CHAT])[-1] == "■ **Cancelled** by alice"
    with stack.http() as http:
        assert http.get(f"/api/jobs/{out[JOB_ID]}").json()["status"] == "cancelled"


@pytest.fixture(scope="module")
def ui_without_api(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    ui = UIProcess(
        stack.api, tmp_path_factory.mktemp("ui-no-api"), env_overrides={"GENFLOW_API_URL": dead}
    )
    try:
        yield ui.start().url
    finally:
        ui.stop()


def test_an_unreachable_api_is_explained_at_login(ui_without_api: str) -> None:
    form = {"username": USER, "password": PEOPLE[USER]}
    answer = httpx.post(f"{ui_without_api}/login", data=form, headers={"Accept": "text/html"})
    assert answer.status_code == 503
    assert "The GenFlow API is unreachable" in answer.text
    assert not answer.cookies  # nobody is logged in
    assert httpx.get(ui_without_api).status_code == 303  # the page still sends you to log in
