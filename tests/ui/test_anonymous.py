"""Without a login, the web chat's Gradio API gives nothing away and changes nothing:
called with `gradio_client` (as a script would) and with raw HTTP to Gradio's config, info,
queue, call, upload and file routes, against the real UI process. A logged-in call of
the same route (the control) does start a job, as its caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from gradio_client import Client
from gradio_client.exceptions import AuthenticationError
from websockets.exceptions import InvalidStatus

from tests.ui.stack import PEOPLE, Stack

START = {"data": ["/task Write a haiku about a locked door", "review"]}  # the chat's "start"
# Every kind of Gradio route a script could try: the page, its config and API description,
# the queue, the call and run APIs, uploads, files, run history, monitoring.
GETS = [
    "/config",
    "/gradio_api/info",
    "/gradio_api/openapi.json",
    "/gradio_api/app_id",
    "/gradio_api/queue/data?session_hash=anyone",
    "/gradio_api/call/start/some-event",
    "/gradio_api/upload_progress?upload_id=x",
    "/gradio_api/file=/etc/hostname",
    "/gradio_api/deep_link",
    "/gradio_api/runs",
    "/gradio_api/user",
    "/gradio_api/token",
    "/monitoring",
    "/theme.css",
]
POSTS: list[tuple[str, Any]] = [
    ("/gradio_api/call/start", START),
    ("/gradio_api/call/v2/start", START),
    ("/gradio_api/run/start", START),
    ("/gradio_api/api/start", START),
    ("/gradio_api/queue/join", {**START, "fn_index": 0, "session_hash": "anyone"}),
    ("/gradio_api/cancel", {"session_hash": "anyone", "fn_index": 0, "event_id": "x"}),
    ("/gradio_api/upload", None),
]


def newest(stack: Stack) -> dict[str, list[str]]:
    """The newest job, session and workflow of anyone's (the admin token sees them all)."""
    with stack.http() as http:
        jobs = http.get("/api/jobs", params={"limit": 1}).json()["jobs"]
        sessions = http.get("/api/genflow/sessions", params={"limit": 1}).json()["sessions"]
        workflows = http.get("/api/workflows", params={"limit": 1}).json()["workflows"]
    return {
        "job": [job["id"] for job in jobs],
        "session": [session["sessionId"] for session in sessions],
        "workflow": [workflow["workflow_id"] for workflow in workflows],
    }


@pytest.fixture
def nothing_changes(stack: Stack) -> Iterator[None]:
    before = newest(stack)
    yield
    assert newest(stack) == before


def refused(response: httpx.Response) -> None:
    """A 401 that says only that a login is needed."""
    assert response.status_code == 401, (response.request.url, response.text)
    assert response.json() == {"error": "not logged in", "login": "/login"}


def test_gradio_client_cannot_connect_without_a_login(stack: Stack, nothing_changes: None) -> None:
    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        Client(stack.ui.url, verbose=False, download_files=False)
    with pytest.raises(AuthenticationError, match="Invalid credentials"):
        Client(stack.ui.url, verbose=False, download_files=False, auth=("alice", "not-hers"))
    with pytest.raises(AuthenticationError):  # a made-up session cookie is no login
        cookies = {f"genflow_ui_{stack.ui.port}": "made-up"}
        Client(stack.ui.url, verbose=False, httpx_kwargs={"cookies": cookies})


@pytest.mark.parametrize("cookie", [None, "made-up"], ids=["no-cookie", "forged-cookie"])
def test_raw_http_to_gradios_routes_is_refused(
    stack: Stack, nothing_changes: None, cookie: str | None
) -> None:
    cookies = {f"genflow_ui_{stack.ui.port}": cookie} if cookie else {}
    with httpx.Client(base_url=stack.ui.url, cookies=cookies, timeout=10) as http:
        page = http.get("/?job=job_x")
        assert page.status_code == 303 and page.headers["location"] == "login?job=job_x"
        assert page.text == ""  # not a word of the page
        for path in GETS:
            refused(http.get(path))
        for path, body in POSTS:
            refused(http.post(path, json=body) if body is not None else http.post(path))
        # The one route left open starts Gradio's queue (launch() calls it); it did already.
        assert http.get("/gradio_api/startup-events").json() is False


async def test_websockets_are_refused_without_a_login(stack: Stack) -> None:
    url = stack.ui.url.replace("http://", "ws://") + "/gradio_api/queue/join"
    with pytest.raises(InvalidStatus) as refusal:
        async with websockets.connect(url):
            pass
    assert refusal.value.response.status_code == 403


def test_the_same_call_with_a_login_starts_a_job_as_its_caller(stack: Stack) -> None:
    """The control: the route works, and only for someone logged in."""
    with httpx.Client(base_url=stack.ui.url, timeout=30) as http:
        login = http.post("/login", data={"username": "bob", "password": PEOPLE["bob"]})
        assert login.status_code == 200 and login.json() == {"success": True}
        event = http.post("/gradio_api/call/start", json=START).json()["event_id"]
        answer = http.get(f"/gradio_api/call/start/{event}").text
    assert "event: complete" in answer
    with stack.http("bob") as api:
        mine = api.get("/api/jobs", params={"limit": 5}).json()["jobs"]
    assert mine[0]["input"] == {"task": "Write a haiku about a locked door"}
    assert mine[0]["owner"] == "bob"
