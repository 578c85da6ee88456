"""Who is logged in to this web chat, and the API client that acts for each of them.

A person logs in with their GenFlow account: the UI asks the API (`POST /api/auth/login`)
and keeps the token it gets under a random session id, which the browser holds in a
cookie. Every call the UI makes for a page uses the client made with the token of the
person whose cookie came with that page's request, so a page shows and decides only what
that person may (admins: everything). The UI has no token of its own.

It is all in memory, on purpose: after a restart the browser's session id is unknown,
the person logs in again, and no token can end up serving someone else. A page (Gradio's
session hash) stays with the login it was loaded under: its state is that person's.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import gradio as gr

from backend.client import APIError, GenFlowClient

log = logging.getLogger(__name__)

ClientFactory = Callable[[str | None], GenFlowClient]  # a token (None: anonymous) -> client


class LoggedOut(gr.Error):
    """A page event without a login (or from a page loaded under another one). The door
    (`ui.gate`) refuses those before they reach a handler; this is for the moment between."""

    def __init__(self) -> None:
        super().__init__(
            "You are logged out. Reload the page to log in again.", print_exception=False
        )


@dataclass
class Person:
    principal: str
    admin: bool
    token_id: str
    expires_at: datetime
    client: GenFlowClient  # made with the person's own token

    @property
    def expired(self) -> bool:
        return self.expires_at <= datetime.now(UTC)


class People:
    """The keyring: session id (the browser's cookie) -> the person logged in with it."""

    def __init__(self, make_client: ClientFactory, cookie: str = "genflow_ui") -> None:
        self.cookie = cookie
        self._make_client = make_client
        self._sessions: dict[str, Person] = {}
        self._pages: dict[str, str] = {}  # Gradio session hash -> the session id it loaded under
        self._closers: list[Callable[[str], None]] = []  # stop a page's followers (by its hash)

    async def login(
        self, username: str, password: str, *, client_address: str | None = None
    ) -> str:
        """A new session for the account (its id, for the cookie). APIError when the API
        refuses: 401 wrong name or password, 429 too many attempts, Unreachable.
        `client_address` is the browser's: the API limits logins per address, and would
        otherwise count every browser's attempts as the UI's."""
        await self._sweep()
        async with self._make_client(None) as anonymous:
            answer = await anonymous.login(username, password, client_address=client_address)
        person = Person(
            principal=str(answer["principal"]),
            admin=bool(answer.get("admin")),
            token_id=str(answer["token_id"]),
            expires_at=_moment(answer["expires_at"]),
            client=self._make_client(str(answer["token"])),
        )
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = person
        log.info("%s logged in to the web chat", person.principal)
        return session_id

    def find(self, session_id: str | None) -> Person | None:
        """The person logged in with this session id, while their token lasts."""
        person = self._sessions.get(session_id or "")
        return None if person is None or person.expired else person

    def session_id(self, cookies: Mapping[str, Any] | None) -> str | None:
        value = (cookies or {}).get(self.cookie)
        return value if isinstance(value, str) else None

    def person(self, request: gr.Request) -> Person:
        """The person behind a page event (LoggedOut if none, or if the page was loaded
        under another login)."""
        session_id = self.session_id(getattr(request, "cookies", None))
        person = self.find(session_id)
        if person is None or session_id is None:
            raise LoggedOut()
        page = request.session_hash
        if page and self._pages.setdefault(page, session_id) != session_id:
            raise LoggedOut()
        return person

    def client(self, request: gr.Request) -> GenFlowClient:
        """The API client acting for the person behind this page event."""
        return self.person(request).client

    def principal(self, request: Any) -> str | None:
        """Gradio's `auth_dependency`: who sent this HTTP request (None: nobody logged in)."""
        person = self.find(self.session_id(request.cookies))
        return person.principal if person else None

    def on_logout(self, close_page: Callable[[str], None]) -> None:
        """Call `close_page(session hash)` for each page of a session that logs out."""
        self._closers.append(close_page)

    def page_closed(self, request: gr.Request) -> None:
        """A page went away (Gradio's unload): forget which login it belonged to."""
        self._pages.pop(request.session_hash or "", None)

    async def still_valid(self, session_id: str | None) -> bool:
        """Whether the API still takes the session's token; a token it refuses (revoked
        elsewhere, the account removed) ends the session here too."""
        person = self.find(session_id)
        if person is None:
            return False
        try:
            await person.client.me()
        except APIError as exc:
            if exc.status != 401:  # unreachable, say: the page will tell
                return True
            await self.logout(session_id)
            return False
        return True

    async def logout(self, session_id: str | None) -> bool:
        """End the session: its pages stop following, its token is revoked through the API
        and its client closed. False if there was no such session or the API could not be
        told (the token then lasts until it expires)."""
        person = self._sessions.pop(session_id or "", None)
        if person is None:
            return False
        for page in [p for p, s in self._pages.items() if s == session_id]:
            del self._pages[page]
            for close in self._closers:
                close(page)
        revoked = await _revoke(person)
        log.info("%s logged out of the web chat", person.principal)
        return revoked

    async def _sweep(self) -> None:
        """Drop the sessions whose tokens expired (their clients hold connections)."""
        for session_id in [s for s, p in self._sessions.items() if p.expired]:
            await self.logout(session_id)


async def _revoke(person: Person) -> bool:
    try:
        await person.client.revoke_token(person.token_id)
        return True
    except APIError as exc:
        if exc.status == 401:  # expired or revoked already: it no longer works anyway
            return True
        log.warning("could not revoke %s's token %s: %s", person.principal, person.token_id, exc)
        return False
    finally:
        await person.client.close()


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
