"""The door of the web chat: no page, event, file or API route of it without a login.

An ASGI middleware in front of the whole Gradio app (installed with `launch(app_kwargs=…)`)
that serves `/login` and `/logout` itself and lets through only requests carrying the
session cookie of someone logged in here. Anything else is refused before Gradio sees it:
opening the page sends the browser to the login page (keeping `?job=`, `?session=`,
`?workflow=`, so the link opens once logged in); every other request — Gradio's config,
API info, queue, calls, uploads, files, WebSockets — gets 401, whatever Gradio's own
checks would say. Gradio's `auth_dependency` asks the same keyring (`People.principal`),
so its routes check again, and handlers act with the person's own token (`People.client`).

A script logs in the way `gradio_client`'s `auth=` does: POST the form and keep the
cookie (it gets JSON; a browser gets the page or a redirect). Loading the page also asks
the API whether the person's token still works (`GET /api/auth/me`): a token revoked
elsewhere ends the session here, back to the login page. One Gradio route stays open:
`GET /gradio_api/startup-events`, which `launch()` calls on its own server to start the
queue (once; it answers true or false and shows or changes nothing else).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from backend.client import APIError, Unreachable
from ui.login_page import login_page
from ui.people import People

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_FORM_BYTES = 16 * 1024  # a username and a password
NO_STORE = {"Cache-Control": "no-store"}
OPEN = {("GET", "/gradio_api/startup-events")}  # Gradio's launch() calls it, logged in or not
WRONG = "Wrong username or password."


class Gate:
    def __init__(self, app: ASGIApp, people: People) -> None:
        self.app = app
        self.people = people

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        session_id = self.people.session_id(HTTPConnection(scope).cookies)
        path, http = scope["path"], scope["type"] == "http"
        if http and path == "/login":
            response = await self.login(Request(scope, receive), session_id)
        elif http and path == "/logout":
            response = await self.logout(session_id)
        elif await self.admitted(scope, session_id):
            await self.app(scope, receive, send)
            return
        elif not http:
            await send({"type": "websocket.close", "code": 1008})
            return
        elif path == "/" and scope["method"] in ("GET", "HEAD"):
            response = RedirectResponse("login" + query(scope), 303, NO_STORE)
        else:
            response = JSONResponse({"error": "not logged in", "login": "/login"}, 401, NO_STORE)
        await response(scope, receive, send)

    async def admitted(self, scope: Scope, session_id: str | None) -> bool:
        """Whether the request may reach Gradio: someone is logged in with it (and, for
        the page itself, the API still takes their token), or it is the one open route."""
        if self.people.find(session_id) is not None:
            page = scope["type"] == "http" and scope["path"] == "/"
            return not page or await self.people.still_valid(session_id)
        return (scope.get("method"), scope["path"]) in OPEN

    async def login(self, request: Request, session_id: str | None) -> Response:
        """The login page (GET), or an attempt (POST): a session cookie and the way back to
        the page the person came for, or the page again saying why not. The API is told
        the browser's address, so its limit per address is each browser's, not the UI's."""
        back, action = "./" + query(request.scope), "login" + query(request.scope)
        if request.method != "POST":
            if self.people.find(session_id) is not None:
                return RedirectResponse(back, 303, NO_STORE)
            return HTMLResponse(login_page(action=action), headers=NO_STORE)
        form = await read_form(request)
        username, password = form.get("username", "").strip(), form.get("password", "")
        browser = "text/html" in request.headers.get("accept", "")
        try:
            if not username or not password:
                raise APIError(422, "invalid_input", "username and password are required")
            address = request.client.host if request.client else None  # the browser's
            new_session = await self.people.login(username, password, client_address=address)
        except APIError as exc:
            status, problem = refusal(exc)
            if browser:
                page = login_page(action=action, username=username, problem=problem)
                return HTMLResponse(page, status, NO_STORE)
            return JSONResponse({"error": problem}, status, NO_STORE)
        if session_id is not None:  # this browser's earlier login, if any, ends
            await self.people.logout(session_id)
        response: Response = (
            RedirectResponse(back, 303, NO_STORE) if browser else JSONResponse({"success": True})
        )
        person = self.people.find(new_session)
        lasts = (person.expires_at - datetime.now(UTC)).total_seconds() if person else 0
        response.set_cookie(
            self.people.cookie,
            new_session,
            max_age=max(0, int(lasts)),
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(self, session_id: str | None) -> Response:
        """The session ends here (its token revoked through the API); the login page."""
        await self.people.logout(session_id)
        response = HTMLResponse(login_page(notice="You are logged out."), headers=NO_STORE)
        response.delete_cookie(self.people.cookie, path="/", httponly=True, samesite="lax")
        return response


def refusal(exc: APIError) -> tuple[int, str]:
    """The status and the words for a login the API did not grant."""
    if isinstance(exc, Unreachable):
        return 503, "The GenFlow API is unreachable. Is it running? Try again in a moment."
    if exc.status == 401:
        return 401, WRONG
    if exc.status == 429:
        return 429, "Too many attempts to log in. Wait a minute, then try again."
    if exc.status in (400, 422):
        return 422, "Type your username and password."
    log.warning("login refused: %s", exc)
    return 502, f"Logging in did not work: {exc.message}."


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's fields (URL-encoded, as a form or `gradio_client` sends them);
    empty if it is anything else or too long."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def query(scope: Scope) -> str:
    """The request's query string (re-encoded), as `?…`, or nothing."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return "?" + urlencode(pairs) if pairs else ""
