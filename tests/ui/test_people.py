"""The UI's keyring (`ui.people`) against the real API: a login is the person's own token,
logging out revokes it (the API refuses it afterwards), and a page stays with the login
it was loaded under."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pytest

from backend.client import APIError, GenFlowClient
from tests.ui.stack import PEOPLE, Stack
from ui.people import LoggedOut, People


class Recording:
    """Makes the keyring's clients and remembers the tokens they carry."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tokens: list[str] = []

    def __call__(self, token: str | None) -> GenFlowClient:
        if token is not None:
            self.tokens.append(token)
        return GenFlowClient(self.url, token)


def page(people: People, session_id: str, page_hash: str = "page-1") -> gr.Request:
    """A page event from a browser holding `session_id`, on the page `page_hash`."""
    return gr.Request(cookies={people.cookie: session_id}, session_hash=page_hash)


@pytest.fixture
def clients(stack: Stack) -> Recording:
    return Recording(stack.api.base_url)


async def test_a_login_acts_with_the_persons_own_token(clients: Recording) -> None:
    people = People(clients)
    session_id = await people.login("alice", PEOPLE["alice"])
    person = people.find(session_id)
    assert person is not None and person.principal == "alice" and not person.admin
    me = await people.client(page(people, session_id)).me()
    assert me == {"principal": "alice", "admin": False, "token_id": person.token_id}
    with pytest.raises(APIError) as wrong:
        await people.login("alice", "not-her-password")
    assert wrong.value.status == 401
    await people.logout(session_id)


async def test_logging_out_revokes_the_token(clients: Recording) -> None:
    people = People(clients)
    closed: list[str] = []
    people.on_logout(closed.append)
    session_id = await people.login("bob", PEOPLE["bob"])
    people.client(page(people, session_id, "bobs-page"))  # a page loaded under this login
    token = clients.tokens[-1]

    assert await people.logout(session_id) is True
    assert people.find(session_id) is None
    assert closed == ["bobs-page"]  # its followers were told to stop
    async with GenFlowClient(clients.url, token) as old:
        with pytest.raises(APIError) as refused:
            await old.me()
    assert refused.value.status == 401
    with pytest.raises(LoggedOut):
        people.client(page(people, session_id, "bobs-page"))


async def test_a_page_stays_with_the_login_it_was_loaded_under(clients: Recording) -> None:
    people = People(clients)
    alice = await people.login("alice", PEOPLE["alice"])
    bob = await people.login("bob", PEOPLE["bob"])
    people.client(page(people, alice, "alices-page"))
    with pytest.raises(LoggedOut):  # bob's cookie with alice's page (its state is hers)
        people.client(page(people, bob, "alices-page"))
    assert people.principal(_Http({people.cookie: bob})) == "bob"
    assert people.principal(_Http({})) is None
    assert people.principal(_Http({people.cookie: "made-up"})) is None
    for session_id in (alice, bob):
        await people.logout(session_id)


class _Http:
    """What Gradio's `auth_dependency` gets: an HTTP request with cookies."""

    def __init__(self, cookies: dict[str, Any]) -> None:
        self.cookies = cookies
