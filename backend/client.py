"""Async Python client of the GenFlow HTTP API (httpx + SSE).

The one way `ui/`, `bots/`, the CLI and the end-to-end tests talk to a GenFlow server.
`follow()` reads a job's Server-Sent Events and reconnects with `Last-Event-ID` when the
connection drops, so a caller sees every durable event exactly once; `start()` creates a
job and reads its events in the same request (`genflow run`), then follows the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.exceptions import ConnectionClosed

# The one fold of job events every surface renders from (backend/job_view.py), offered
# here too, so that ui/ and bots/ reach the backend through this module only.
from backend.job_view import TERMINAL_EVENTS as TERMINAL_EVENTS
from backend.job_view import TERMINAL_STATUSES as TERMINAL_STATUSES
from backend.job_view import Artifact as Artifact
from backend.job_view import Decision as Decision
from backend.job_view import Event as Event
from backend.job_view import JobView as JobView
from backend.job_view import Moment as Moment
from backend.job_view import Progress as Progress
from backend.job_view import Resumed as Resumed
from backend.job_view import Retry as Retry
from backend.job_view import Step as Step
from backend.job_view import editable_text as editable_text
from backend.job_view import one_click_options as one_click_options

# A workflow as a Mermaid flowchart (flows/pilot/diagram.py, pure), offered here for the
# same reason: the web chat's Workflows view draws it without importing `flows`.
from flows.pilot.diagram import mermaid as mermaid

ON_BEHALF_OF = "X-GenFlow-On-Behalf-Of"  # the person an admin token acts for (docs/api.md)


class APIError(Exception):
    """The server answered with an error (`status`, `code`, `message`, `details`)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


class Unreachable(APIError):
    """The server could not be reached at all."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(0, "unreachable", f"cannot reach GenFlow at {url}: {reason}")


def default_token(data_dir: Path) -> str | None:
    path = data_dir / "admin.token"
    return path.read_text().strip() if path.exists() else None


def api_url_from_env() -> str:
    """Where the API is: GENFLOW_API_URL, else GENFLOW_HOST:GENFLOW_PORT (for surfaces that
    act with their users' tokens, not one of their own, like the web chat)."""
    host = os.environ.get("GENFLOW_HOST") or "127.0.0.1"
    port = os.environ.get("GENFLOW_PORT") or "8000"
    return os.environ.get("GENFLOW_API_URL") or f"http://{host}:{port}"


def client_from_env(**kwargs: Any) -> GenFlowClient:
    """A client configured like every GenFlow surface: GENFLOW_API_URL, GENFLOW_API_TOKEN
    (default: the admin token in GENFLOW_DATA_DIR), so ui/ and bots/ need no backend import.
    """
    url = api_url_from_env()
    data_dir = Path(os.environ.get("GENFLOW_DATA_DIR") or Path.home() / ".genflow").expanduser()
    token = os.environ.get("GENFLOW_API_TOKEN") or default_token(data_dir)
    return GenFlowClient(url, token, **kwargs)


class GenFlowClient:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )
        self.person: str | None = None  # set on the views `acting_for` returns
        self._person_headers: dict[str, str] = {}

    def acting_for(self, person: str) -> GenFlowClient:
        """This client acting for `person` (a `slack:<team>:<user>` principal): the API
        treats every call as theirs (whose jobs, whose rate limit, who may decide), and
        resolves a Slack user linked to an account to that account. Needs an admin token.
        The view shares this client's connections; close only the client it came from."""
        view = copy.copy(self)
        view.person = person
        view._person_headers = {ON_BEHALF_OF: person}
        return view

    async def __aenter__(self) -> GenFlowClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.person is None:  # a view's connections belong to the client it came from
            await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs["headers"] = {**self._person_headers, **kwargs.get("headers", {})}
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(self.base_url, str(exc) or type(exc).__name__) from exc
        if response.status_code >= 400:
            raise _error(response)
        return response

    # -- resources -------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        return (await self._request("GET", "/api/health")).json()

    # -- accounts and tokens -----------------------------------------------------------

    async def login(
        self, username: str, password: str, *, client_address: str | None = None
    ) -> dict[str, Any]:
        """`{token, token_id, expires_at, principal, admin}` for the account (APIError 401
        for a wrong name or password, 429 when guessing). This client keeps its own
        token: act as the person with a client made with theirs. A service logging
        people in (the web chat) passes their `client_address`, which the API believes
        from trusted peers (GENFLOW_FORWARDED_ALLOW_IPS) for its per-address limit."""
        body = {"username": username, "password": password}
        headers = {"X-Forwarded-For": client_address} if client_address else {}
        response = await self._request("POST", "/api/auth/login", json=body, headers=headers)
        return response.json()

    async def me(self) -> dict[str, Any]:
        """`{principal, admin, token_id}`: who this client's token is for."""
        return (await self._request("GET", "/api/auth/me")).json()

    async def tokens(
        self, *, principal: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        params |= {"principal": principal} if principal else {}
        params |= {"cursor": cursor} if cursor else {}
        return (await self._request("GET", "/api/auth/tokens", params=params)).json()

    async def revoke_token(self, token_id: str) -> None:
        """Revoke a token (this client's own, from `me()`, is logging out)."""
        await self._request("DELETE", f"/api/auth/tokens/{token_id}")

    async def flows(self) -> list[dict[str, Any]]:
        return (await self._request("GET", "/api/flows")).json()["flows"]

    async def create_job(
        self,
        flow: str,
        input_: dict[str, Any],
        *,
        reviewers: list[str] | None = None,
        review_timeout: float | None = None,
        on_timeout: str | None = None,
    ) -> dict[str, Any]:
        """Start a job; `reviewers` may decide its reviews, which wait at most
        `review_timeout` seconds before `on_timeout` is applied (docs/api.md)."""
        body = _job_body(flow, input_, reviewers, review_timeout, on_timeout)
        return (await self._request("POST", "/api/jobs", json=body)).json()

    async def start(
        self, flow: str, input_: dict[str, Any], *, reconnect_delay: float = 1.0, **terms: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Start a job (with `create_job`'s review `terms`) and follow it, in one request
        (`POST /api/jobs` asking for its event stream): every event from `job.created` to
        the terminal one. A refused job raises `APIError` before any event; a stream that
        breaks goes on with `follow`."""
        body = _job_body(flow, input_, **terms)
        job_id, last = None, 0
        try:
            async with self._event_stream("POST", "/api/jobs", json=body) as response:
                job_id = response.headers["Location"].rsplit("/", 1)[-1]
                async for event in _sse_events(response):
                    last = event.get("seq") or last
                    yield event
                    if event["type"] in TERMINAL_EVENTS:
                        return
        except httpx.TransportError as exc:
            if job_id is None:  # the job may not exist: nothing to follow
                raise Unreachable(self.base_url, str(exc) or type(exc).__name__) from exc
        assert job_id is not None
        async with contextlib.aclosing(
            self.follow(job_id, last, reconnect_delay=reconnect_delay)
        ) as rest:
            async for event in rest:
                yield event

    async def job(self, job_id: str) -> dict[str, Any]:
        return (await self._request("GET", f"/api/jobs/{job_id}")).json()

    async def jobs(
        self,
        *,
        status: str | None = None,
        flow: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
        assigned: str | None = None,
    ) -> dict[str, Any]:
        """The caller's jobs; `assigned="me"`: the jobs whose reviews it is assigned."""
        params = {
            k: v
            for k, v in {
                "status": status,
                "flow": flow,
                "limit": limit,
                "cursor": cursor,
                "assigned": assigned,
            }.items()
            if v is not None
        }
        return (await self._request("GET", "/api/jobs", params=params)).json()

    async def decide(
        self,
        job_id: str,
        review_id: str,
        decision: str,
        *,
        comment: str | None = None,
        via: str = "api",
        edits: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Decide a review; with `decision="edit"`, `edits` are the changed payload fields."""
        body: dict[str, Any] = {"review_id": review_id, "decision": decision, "via": via}
        if comment:
            body["comment"] = comment
        if edits is not None:
            body["edits"] = edits
        return (await self._request("POST", f"/api/jobs/{job_id}/review", json=body)).json()

    async def reviews(self, job_id: str) -> dict[str, Any]:
        """The job's review audit: every request and decision."""
        return (await self._request("GET", f"/api/jobs/{job_id}/reviews")).json()

    async def cancel(self, job_id: str) -> dict[str, Any]:
        return (await self._request("POST", f"/api/jobs/{job_id}/cancel")).json()

    async def events(self, job_id: str, after: int = 0) -> list[dict[str, Any]]:
        response = await self._request(
            "GET",
            f"/api/jobs/{job_id}/events",
            params={"after": after},
            headers={"Accept": "application/json"},
        )
        return response.json()["events"]

    async def artifact(self, artifact_id: str) -> tuple[bytes, str]:
        response = await self._request("GET", f"/api/artifacts/{artifact_id}")
        return response.content, response.headers.get("content-type", "")

    # -- GenFlow sessions ---------------------------------------------------------------

    async def create_session(
        self,
        article_id: str,
        *,
        context: dict[str, Any] | None = None,
        initial_stage: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"articleId": article_id, "context": context or {}}
        if initial_stage:
            body["initialStage"] = initial_stage
        return (await self._request("POST", "/api/genflow/sessions", json=body)).json()

    async def session(self, session_id: str) -> dict[str, Any]:
        return (await self._request("GET", f"/api/genflow/sessions/{session_id}")).json()

    async def session_action(
        self, session_id: str, action: str, parameters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """202 `{actionId, status, progress}` for a model action (follow the job by
        `actionId`), 200 `{status, progress, session}` for a change."""
        body = {"action": action, "parameters": parameters or {}}
        path = f"/api/genflow/sessions/{session_id}/actions"
        return (await self._request("POST", path, json=body)).json()

    async def sessions(self, *, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return (await self._request("GET", "/api/genflow/sessions", params=params)).json()

    async def delete_session(self, session_id: str) -> None:
        await self._request("DELETE", f"/api/genflow/sessions/{session_id}")

    async def suggestions(
        self, session_id: str, text: str | None = None, *, within: float = 120.0
    ) -> list[str]:
        """Ask for 3 ideas for the session's stage and wait for them (the next `suggestion`
        frame, which every socket of the session gets too). The socket stays open until
        then: the server drops the frames of a socket that closed before it read them.
        APIError: 422 refused, 404/410 as `session_frames`, 504 none within `within` s."""
        request = {"type": "request.suggestion", "data": {"text": text} if text else {}}
        try:
            async with asyncio.timeout(within):
                async with websockets.connect(self._realtime_url(session_id)) as socket:
                    await socket.send(json.dumps(self._auth_frame(None)))
                    state = json.loads(await socket.recv())
                    seen = state.get("metadata", {}).get("eventId") or 0
                    await socket.send(json.dumps(request))
                    async for raw in socket:
                        message = json.loads(raw)
                        event_id = message.get("metadata", {}).get("eventId")
                        data = message.get("data") or {}
                        if message.get("type") == "error" and event_id is None:  # ours, unstored
                            code, text = data.get("code", "invalid"), data.get("message", "")
                            raise APIError(422, code, text)
                        if message.get("type") == "suggestion" and (event_id or 0) > seen:
                            return [str(idea) for idea in data.get("suggestions") or []]
        except TimeoutError:
            raise APIError(504, "timeout", f"no ideas within {within:g} s") from None
        except ConnectionClosed as exc:
            code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
            if code == 4410:
                raise APIError(410, "expired", reason or "session expired") from None
            raise APIError(404 if code == 1008 else 502, "closed", reason or "closed") from None
        except OSError as exc:
            raise Unreachable(self.base_url, str(exc) or type(exc).__name__) from exc
        raise APIError(502, "closed", "the socket closed before the ideas came")

    # -- pilot workflows ---------------------------------------------------------------

    async def generate_workflow(
        self, prompt: str, preferences: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A workflow drafted from a request (waits while the model works: minutes on
        the embedded model)."""
        body: dict[str, Any] = {"prompt": prompt}
        if preferences:
            body["user_preferences"] = preferences
        response = await self._request(
            "POST", "/api/workflows/generate", json=body, timeout=httpx.Timeout(30.0, read=None)
        )
        return response.json()

    async def save_workflow(self, spec: dict[str, Any] | str) -> dict[str, Any]:
        return (await self._request("POST", "/api/workflows", json={"workflow": spec})).json()

    async def workflow(self, workflow_id: str) -> dict[str, Any]:
        return (await self._request("GET", f"/api/workflows/{workflow_id}")).json()

    async def workflows(self, *, limit: int = 20) -> dict[str, Any]:
        return (await self._request("GET", "/api/workflows", params={"limit": limit})).json()

    async def update_workflow(self, workflow_id: str, spec: dict[str, Any] | str) -> dict[str, Any]:
        """Replace the workflow's spec (JSON or YAML text, or an object): validated and
        stored as its next version (APIError 422 with the problems, 409 if another edit
        landed first)."""
        path = f"/api/workflows/{workflow_id}"
        return (await self._request("PUT", path, json={"workflow": spec})).json()

    async def workflow_templates(self) -> list[dict[str, Any]]:
        """The built-in templates to start from: `{name, title, description, keywords,
        workflow}`, `workflow` a valid spec."""
        return (await self._request("GET", "/api/workflows/templates")).json()["templates"]

    async def execute_workflow(
        self,
        workflow_id: str,
        input_data: dict[str, Any],
        *,
        reviewers: list[str] | None = None,
        review_timeout: float | None = None,
        on_timeout: str | None = None,
    ) -> dict[str, Any]:
        """The job that runs the workflow (follow it like any job), with review terms as
        `create_job`'s, for the workflow's review nodes."""
        path = f"/api/workflows/{workflow_id}/execute"
        body: dict[str, Any] = {"input_data": input_data}
        body.update(_review_terms(reviewers, review_timeout, on_timeout))
        return (await self._request("POST", path, json=body)).json()

    # -- live events -----------------------------------------------------------------

    async def session_frames(
        self, session_id: str, last_event_id: int = 0, *, reconnect_delay: float = 1.0
    ) -> AsyncIterator[dict[str, Any]]:
        """A session's realtime frames: `session.state`, then every stored frame after
        `last_event_id`, then live ones, for as long as the caller reads. A dropped socket
        or a restarting server reconnects from the last `eventId` seen (and sends a fresh
        `session.state`); an unknown or foreign session raises APIError 404, an expired
        one 410."""
        last = last_event_id
        while True:
            try:
                async with websockets.connect(self._realtime_url(session_id)) as socket:
                    await socket.send(json.dumps(self._auth_frame(last)))
                    async for raw in socket:
                        message = json.loads(raw)
                        event_id = message.get("metadata", {}).get("eventId")
                        if message.get("type") != "session.state" and event_id is not None:
                            last = event_id
                        if message.get("type") != "ping":
                            yield message
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                if code == 1008:
                    raise APIError(404, "not_found", exc.rcvd.reason or "no such session") from None
                if code == 4410:
                    raise APIError(410, "expired", exc.rcvd.reason or "session expired") from None
            except OSError:
                pass
            await asyncio.sleep(reconnect_delay)

    def _realtime_url(self, session_id: str) -> str:
        base = self.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return f"{base}/api/genflow/sessions/{session_id}/realtime"

    def _auth_frame(self, last_event_id: int | None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "auth", "token": self._http.headers.get("Authorization")}
        if last_event_id:
            frame["lastEventId"] = last_event_id
        if self.person:
            frame["onBehalfOf"] = self.person
        return frame

    async def follow(
        self, job_id: str, after: int = 0, *, reconnect_delay: float = 1.0
    ) -> AsyncIterator[dict[str, Any]]:
        """Every event of the job after `after`, live, until the terminal event."""
        last = after
        while True:
            try:
                async with contextlib.aclosing(self._stream(job_id, last)) as events:
                    async for event in events:
                        if event.get("seq") is not None:
                            last = event["seq"]
                        yield event
                        if event["type"] in TERMINAL_EVENTS:
                            return
                job = await self.job(job_id)  # the stream ended without a terminal event
                if job["status"] in TERMINAL_STATUSES and last >= job["last_seq"]:
                    return
            except (httpx.TransportError, Unreachable):
                pass
            await asyncio.sleep(reconnect_delay)

    async def _stream(self, job_id: str, after: int) -> AsyncIterator[dict[str, Any]]:
        path, resume = f"/api/jobs/{job_id}/events", {"Last-Event-ID": str(after)}
        async with self._event_stream("GET", path, headers=resume) as response:
            async for event in _sse_events(response):
                yield event

    @contextlib.asynccontextmanager
    async def _event_stream(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> AsyncIterator[httpx.Response]:
        """A request answered with Server-Sent Events (no read timeout: a job may wait
        for hours); an error answer raises `APIError`."""
        headers = {**self._person_headers, "Accept": "text/event-stream", **(headers or {})}
        timeout = httpx.Timeout(30.0, read=None)
        async with self._http.stream(
            method, path, headers=headers, timeout=timeout, **kwargs
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise _error(response)
            yield response


async def _sse_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The events of a Server-Sent Events response, as they arrive."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield json.loads("\n".join(data))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def _job_body(flow: str, input_: dict[str, Any], *terms: Any, **named: Any) -> dict[str, Any]:
    """`POST /api/jobs`'s body: the flow, its input and the review terms given."""
    return {"flow": flow, "input": input_, **_review_terms(*terms, **named)}


def _review_terms(
    reviewers: list[str] | None = None,
    review_timeout: float | None = None,
    on_timeout: str | None = None,
) -> dict[str, Any]:
    """A job's review terms as a request body sends them (those given)."""
    terms = {"reviewers": reviewers, "review_timeout": review_timeout, "on_timeout": on_timeout}
    return {k: v for k, v in terms.items() if v is not None}


def _error(response: httpx.Response) -> APIError:
    try:
        error = response.json()["error"]
        return APIError(response.status_code, error["code"], error["message"], error.get("details"))
    except (ValueError, KeyError, TypeError):
        return APIError(
            response.status_code, "http_error", response.text[:200] or response.reason_phrase
        )
