"""The login door (`ui.gate`) in front of a stand-in for Gradio, with a stub of the API's
login: what a browser and a script get for each kind of attempt, and where a login
sends them. (The real API and UI: test_login_browser.py, test_anonymous.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from backend.client import APIError, GenFlowClient, Unreachable
from ui.gate import MAX_FORM_BYTES, Gate
from ui.people import People

BROWSER = {"Accept": "text/html,application/xhtml+xml"}


class StubAPI:
    """The API's login and `me` for one account, alice (password "right-one")."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.logins: list[str] = []
        self.addresses: list[str | None] = []  # the browsers' addresses, as told

    async def __aenter__(self) -> StubAPI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def login(
        self, username: str, password: str, *, client_address: str | None = None
    ) -> dict[str, Any]:
        self.logins.append(username)
        self.addresses.append(client_address)
        if username == "slow":
            raise APIError(429, "rate_limited", "too many login attempts; try again later")
        if username == "down":
            raise Unreachable("http://api", "connection refused")
        if (username, password) != ("alice", "right-one"):
            raise APIError(401, "unauthorized", "wrong username or password")
        answer = {"token": "t1", "token_id": "tok_1", "principal": "alice", "admin": False}
        return answer | {"expires_at": "2999-01-01T00:00:00Z"}

    async def me(self) -> dict[str, Any]:
        return {"principal": "alice", "admin": False, "token_id": "tok_1"}

    async def revoke_token(self, token_id: str) -> None:
        pass

    async def close(self) -> None:
        pass


async def gradio(scope: Any, receive: Any, send: Any) -> None:
    """What stands in for Gradio: says it was reached."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"gradio"})


@pytest.fixture
async def ui() -> AsyncIterator[httpx.AsyncClient]:
    people = People(lambda token: cast(GenFlowClient, StubAPI(token)), cookie="gf")
    transport = httpx.ASGITransport(app=Gate(gradio, people))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui") as client:
        yield client


async def attempt(
    ui: httpx.AsyncClient, username: str, password: str, path: str = "/login"
) -> httpx.Response:
    form = {"username": username, "password": password}
    return await ui.post(path, data=form, headers=BROWSER)


@pytest.mark.parametrize(
    ("username", "password", "status", "words"),
    [
        ("alice", "wrong", 401, "Wrong username or password."),
        ("slow", "any-one", 429, "Too many attempts to log in. Wait a minute"),
        ("down", "any-one", 503, "The GenFlow API is unreachable."),
        ("alice", "", 422, "Type your username and password."),
    ],
)
async def test_a_refused_login_says_why_and_sets_no_cookie(
    ui: httpx.AsyncClient, username: str, password: str, status: int, words: str
) -> None:
    page = await attempt(ui, username, password)
    assert page.status_code == status and words in page.text
    assert not page.cookies
    assert (await ui.get("/config")).status_code == 401


async def test_a_login_goes_back_to_the_link_it_came_by(ui: httpx.AsyncClient) -> None:
    page = await attempt(ui, "alice", "right-one", "/login?job=job_1&next=//evil.example")
    assert page.status_code == 303
    assert page.headers["location"] == "./?job=job_1&next=%2F%2Fevil.example"  # only ours
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=lax" in page.headers["set-cookie"]
    assert (await ui.get("/config")).text == "gradio"
    assert (await ui.get("/login")).headers["location"] == "./"  # in already


async def test_a_script_gets_json_and_the_cookie(ui: httpx.AsyncClient) -> None:
    answer = await ui.post("/login", data={"username": "alice", "password": "right-one"})
    assert answer.json() == {"success": True} and "gf" in answer.cookies
    refused = await ui.post("/login", data={"username": "alice", "password": "no"})
    assert refused.status_code == 401 and refused.json() == {"error": "Wrong username or password."}


async def test_an_oversized_or_odd_form_is_not_read(ui: httpx.AsyncClient) -> None:
    big = {"username": "alice", "password": "x" * MAX_FORM_BYTES}
    assert (await ui.post("/login", data=big)).status_code == 422
    odd = await ui.post("/login", json={"username": "alice", "password": "right-one"})
    assert odd.status_code == 422  # a form, or nothing


async def test_logging_out_ends_the_session(ui: httpx.AsyncClient) -> None:
    await attempt(ui, "alice", "right-one")
    assert (await ui.get("/")).text == "gradio"
    page = await ui.get("/logout")
    assert "You are logged out." in page.text
    assert 'gf=""' in page.headers["set-cookie"] or "Max-Age=0" in page.headers["set-cookie"]
    assert (await ui.get("/")).status_code == 303


async def test_the_api_is_told_each_browsers_address() -> None:
    """The API limits logins per address: each browser's, not the UI's own (which would
    make every browser share one limit)."""
    made: list[StubAPI] = []

    def make(token: str | None) -> GenFlowClient:
        made.append(StubAPI(token))
        return cast(GenFlowClient, made[-1])

    people = People(make, cookie="gf")
    for address in ("203.0.113.7", "2001:db8::5"):
        transport = httpx.ASGITransport(app=Gate(gradio, people), client=(address, 51000))
        async with httpx.AsyncClient(transport=transport, base_url="http://ui") as browser:
            await attempt(browser, "alice", "wrong")
    told = [address for api in made for address in api.addresses]
    assert told == ["203.0.113.7", "2001:db8::5"]
