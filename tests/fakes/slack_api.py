"""A local fake of Slack for tests: both sides of it.

As the **Web API** (point `AsyncWebClient(base_url=fake.api_url)` or GENFLOW_SLACK_API_URL
at it) it records every call and answers like Slack: `auth.test`, `chat.postMessage`,
`chat.update`, `chat.postEphemeral`, the three steps of `files_upload_v2`
(`files.getUploadURLExternal` -> POST to the returned URL -> `files.completeUploadExternal`),
`views.open`, `usergroups.users.list`, `apps.connections.open`, and `response_url` posts.
Block Kit is checked the way Slack refuses it (`invalid_blocks`): too many blocks, long
texts, duplicate action ids, image blocks naming files that were never uploaded.

As **Slack calling the app** it sends slash commands, button clicks, menu choices and modal
submissions built like Slack builds them: to an HTTP-mode bot as signed POSTs
(`X-Slack-Signature`, `X-Slack-Request-Timestamp`), or over a Socket Mode WebSocket
(`apps.connections.open` returns the fake's `ws://` URL; `hello` on connect; every
envelope waits for its `envelope_id` ack).

    async with FakeSlack(signing_secret="s3cret") as slack:
        slack.bot_url = "http://127.0.0.1:3000/slack/events"
        reply = await slack.slash("/task", "Write a haiku", user="UALICE")
        message = await slack.wait_for(lambda: slack.last_message("C_GENERAL"))
        await slack.click(message, "Approve", user="UALICE")
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from aiohttp import WSMsgType, web

T = TypeVar("T")
BOT_TOKEN, APP_TOKEN = "xoxb-fake-bot-token", "xapp-fake-app-token"
BOT_USER, TEAM = "UBOT", "TFAKE"
TRIGGER_LIFETIME = 3.0  # seconds Slack accepts a trigger_id for views.open
BLOCK_TYPES = {"section", "context", "actions", "image", "divider", "header", "input"}


@dataclass
class Call:
    """One Web API call as the fake received it (query, form and JSON merged)."""

    method: str
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fault:
    method: str
    status: int = 429
    error: str = "ratelimited"
    retry_after: int = 1


@dataclass
class Delivery:
    """The app's answer to something Slack sent it (HTTP response or Socket Mode ack)."""

    status: int
    body: Any
    elapsed: float

    @property
    def text(self) -> str:
        return self.body.get("text", "") if isinstance(self.body, dict) else str(self.body or "")


@dataclass
class FakeSlack:
    signing_secret: str = "fake-signing-secret"
    bot_token: str = BOT_TOKEN
    app_token: str = APP_TOKEN
    bot_url: str | None = None  # HTTP mode: where slash commands and clicks are POSTed
    not_member_of: set[str] = field(default_factory=set)  # chat.postMessage: not_in_channel
    user_groups: dict[str, list[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    responses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # response_url
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    port: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _triggers: dict[str, float] = field(default_factory=dict)
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> FakeSlack:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{n}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    # -- test controls and queries ---------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "ratelimited",
        times: int = 1,
        retry_after: int = 1,
    ) -> None:
        """The next `times` calls of `method` fail (HTTP 429 + Retry-After by default)."""
        self.faults += [Fault(method, status, error, retry_after) for _ in range(times)]

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200]

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first (thread replies excluded)."""
        return [
            m
            for (ch, _), m in sorted(self.messages.items(), key=lambda kv: float(kv[0][1]))
            if ch == channel and not m.get("thread_ts")
        ]

    def last_message(self, channel: str) -> dict[str, Any] | None:
        found = self.channel_messages(channel)
        return found[-1] if found else None

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [
            m
            for (ch, _), m in sorted(self.messages.items(), key=lambda kv: float(kv[0][1]))
            if ch == channel and m.get("thread_ts") == ts
        ]

    def updates(self, channel: str, ts: str) -> list[Call]:
        return [
            c
            for c in self.called("chat.update")
            if c.args.get("channel") == channel and c.args.get("ts") == ts
        ]

    def versions(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Every version the app's updates gave the message, in turn (what readers saw)."""
        return [
            {"text": c.args.get("text", ""), "blocks": _blocks(c.args)}
            for c in self.updates(channel, ts)
            if (c.response or {}).get("ok")
        ]

    def ephemerals(self, user: str | None = None) -> list[str]:
        """Texts only `user` saw: chat.postEphemeral and ephemeral response_url posts."""
        texts = [
            c.args.get("text", "")
            for c in self.called("chat.postEphemeral")
            if user is None or c.args.get("user") == user
        ]
        texts += [
            body.get("text", "")
            for _, body in self.responses
            if body.get("response_type", "ephemeral") == "ephemeral"
        ]
        return texts

    async def wait_for(
        self, check: Callable[[], T | None], timeout: float = 15.0, what: str = "a condition"
    ) -> T:
        """Wait until `check()` is truthy (re-checked on every call Slack receives)."""
        assert self._changed is not None
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                value = check()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    recent = [(c.method, c.args.get("text", "")[:80]) for c in self.calls[-8:]]
                    raise AssertionError(f"timed out waiting for {what}; last calls: {recent}")
                try:
                    await asyncio.wait_for(self._changed.wait(), min(left, 0.25))
                except TimeoutError:
                    pass

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    # -- the Web API -----------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        call = Call(method, args, token)
        self.calls.append(call)
        fault = next((f for f in self.faults if f.method == method), None)
        if fault is not None:
            self.faults.remove(fault)
            call.status = fault.status
            call.response = {"ok": False, "error": fault.error}
            headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
            await self._notify()
            return web.json_response(call.response, status=fault.status, headers=headers)
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            call.response = {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        else:
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            call.response = handler(args) if handler else {"ok": False, "error": "unknown_method"}
        await self._notify()
        return web.json_response(call.response)

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake Team",
            "user": "genflow",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": "B_BOT",
            "is_enterprise_install": False,
        }

    def _next_ts(self) -> str:
        n = next(self._ids)
        return f"{1_700_000_000 + n}.{n:06d}"

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.not_member_of:
            return {"ok": False, "error": "not_in_channel"}
        blocks = _blocks(args)
        problems = self._check_blocks(blocks)
        if problems:
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        if not args.get("text") and not blocks:
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": BOT_USER,
            "channel": channel,
            "ts": ts,
            "text": args.get("text", ""),
            "blocks": blocks,
            "thread_ts": args.get("thread_ts"),
        }
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get((args.get("channel", ""), args.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        blocks = _blocks(args)
        problems = self._check_blocks(blocks)
        if problems:
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        message.update(text=args.get("text", ""), blocks=blocks, edited=True)
        return {
            "ok": True,
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
        }

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel") or not args.get("user"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {
            "id": file_id,
            "name": args["filename"],
            "length": int(args["length"]),
            "data": None,
            "complete": False,
        }
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        entry = self.files.get(request.match_info["file_id"])
        data = await request.read()
        if entry is None or entry["complete"]:
            return web.Response(status=404, text="unknown upload")
        if len(data) != entry["length"]:
            return web.Response(status=400, text="length mismatch")
        entry["data"] = data
        self.calls.append(Call("upload", {"file_id": entry["id"], "size": len(data)}, None))
        await self._notify()
        return web.Response(text=f"OK - {len(data)}")

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            wanted = json.loads(args.get("files", "[]"))
        except json.JSONDecodeError:
            return {"ok": False, "error": "invalid_arguments"}
        done = []
        for item in wanted:
            entry = self.files.get(item.get("id", ""))
            if entry is None or entry["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            entry.update(complete=True, title=item.get("title") or entry["name"])
            done.append(
                {
                    "id": entry["id"],
                    "name": entry["name"],
                    "title": entry["title"],
                    "size": len(entry["data"]),
                    "permalink": f"https://fake.slack.test/files/{entry['id']}",
                }
            )
        channel = args.get("channel_id") or args.get("channels")
        if channel:
            ts = self._next_ts()
            self.messages[(channel, ts)] = {
                "type": "message",
                "user": BOT_USER,
                "channel": channel,
                "ts": ts,
                "text": args.get("initial_comment", ""),
                "blocks": [],
                "files": done,
                "thread_ts": args.get("thread_ts"),
            }
        return {"ok": True, "files": done}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        issued = self._triggers.get(args.get("trigger_id", ""))
        if issued is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        if time.monotonic() - issued > TRIGGER_LIFETIME:
            return {"ok": False, "error": "expired_trigger_id"}
        view = args.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        problems = self._check_blocks(view.get("blocks", []))
        if problems:
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        return {"ok": True, "view": {**view, "id": f"V{next(self._ids):08d}"}}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = args.get("usergroup", "")
        if group not in self.user_groups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": self.user_groups[group]}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket={uuid.uuid4()}"}

    def _check_blocks(self, blocks: list[dict[str, Any]]) -> list[str]:
        """What Slack would refuse in these blocks."""
        problems: list[str] = []
        if len(blocks) > 50:
            problems.append("more than 50 blocks")
        action_ids: set[str] = set()
        for i, block in enumerate(blocks):
            kind = block.get("type")
            if kind not in BLOCK_TYPES:
                problems.append(f"block {i}: unknown type {kind!r}")
            text = (block.get("text") or {}).get("text", "")
            if kind == "section" and not 0 < len(text) <= 3000:
                problems.append(f"block {i}: section text must be 1-3000 characters")
            for element in block.get("elements", []) if kind == "actions" else []:
                action_id = element.get("action_id", "")
                if action_id in action_ids:
                    problems.append(f"block {i}: duplicate action_id {action_id!r}")
                action_ids.add(action_id)
                if len(element.get("value", "")) > 2000:
                    problems.append(f"block {i}: button value over 2000 characters")
                if len(element.get("text", {}).get("text", "")) > 75:
                    problems.append(f"block {i}: button text over 75 characters")
                problems += _select_problems(i, element)
            if kind == "image":
                file_id = (block.get("slack_file") or {}).get("id")
                entry = self.files.get(file_id or "")
                if not block.get("alt_text") or (
                    not block.get("image_url") and (entry is None or not entry["complete"])
                ):
                    problems.append(f"block {i}: image is not a shared, uploaded file")
        return problems

    # -- response_url --------------------------------------------------------------------

    def response_url(self) -> str:
        return f"{self.base_url}/respond/{next(self._ids)}"

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append((str(request.url), await request.json()))
        await self._notify()
        return web.Response(text="ok")

    # -- Socket Mode -----------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 3600},
                "connection_info": {"app_id": "A_FAKE"},
            }
        )
        await self._notify()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                ack = json.loads(msg.data)
                future = self._acks.pop(ack.get("envelope_id", ""), None)
                if future is not None and not future.done():
                    future.set_result(ack)
        finally:
            self._sockets.remove(ws)
        return ws

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    # -- Slack calling the app ---------------------------------------------------------------

    def new_trigger(self) -> str:
        trigger = f"{next(self._ids)}.{uuid.uuid4().hex[:12]}"
        self._triggers[trigger] = time.monotonic()
        return trigger

    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        """The headers Slack signs a request with (v0 HMAC-SHA256 of `v0:ts:body`)."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(
            self.signing_secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256
        ).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}

    async def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        retry: int | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Delivery:
        """Send `payload` (`slash_commands` or `interactive`) the way Slack would."""
        start = time.monotonic()
        if self.bot_url is None:
            return await self._send_envelope(kind, payload, retry, timeout, start)
        if kind == "slash_commands":
            body = urllib.parse.urlencode(payload)
        else:
            body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        sent = {"Content-Type": "application/x-www-form-urlencoded", **self.sign(body)}
        if retry is not None:
            sent.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
        sent.update(headers or {})
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.post(self.bot_url, content=body, headers=sent)
        try:
            answer: Any = response.json()
        except ValueError:
            answer = response.text
        return Delivery(response.status_code, answer, time.monotonic() - start)

    async def _send_envelope(
        self, kind: str, payload: dict[str, Any], retry: int | None, timeout: float, start: float
    ) -> Delivery:
        assert self._sockets, "no Socket Mode connection and no bot_url"
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": True,
                "retry_attempt": retry or 0,
                "retry_reason": "timeout" if retry else "",
            }
        )
        ack = await asyncio.wait_for(future, timeout)
        return Delivery(200, ack.get("payload") or {}, time.monotonic() - start)

    async def slash(
        self,
        command: str,
        text: str,
        *,
        user: str = "UALICE",
        channel: str = "C_GENERAL",
        trigger_id: str | None = None,
        retry: int | None = None,
    ) -> Delivery:
        payload = {
            "token": "deprecated",
            "team_id": TEAM,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A_FAKE",
            "is_enterprise_install": "false",
            "response_url": self.response_url(),
            "trigger_id": trigger_id or self.new_trigger(),
        }
        return await self.deliver("slash_commands", payload, retry=retry)

    async def click(self, message: dict[str, Any], label: str, *, user: str = "UALICE") -> Delivery:
        """Click the button labelled `label` in `message` (as the fake stores it)."""
        for block in message.get("blocks", []):
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("text", {}).get("text") == label:
                    return await self.deliver(
                        "interactive", self._block_actions(message, block, element, user)
                    )
        raise AssertionError(f"no {label!r} button in {message.get('text')!r}")

    def _block_actions(
        self, message: dict[str, Any], block: dict[str, Any], element: dict[str, Any], user: str
    ) -> dict[str, Any]:
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
            "api_app_id": "A_FAKE",
            "token": "deprecated",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": message["channel"],
                "is_ephemeral": False,
            },
            "trigger_id": self.new_trigger(),
            "team": {"id": TEAM, "domain": "fake"},
            "channel": {"id": message["channel"], "name": "general"},
            "message": {k: message[k] for k in ("type", "user", "ts", "text", "blocks")},
            "state": {"values": {}},
            "response_url": self.response_url(),
            "actions": [
                {
                    "type": "button",
                    "action_id": element["action_id"],
                    "block_id": block.get("block_id", "b"),
                    "text": element["text"],
                    "value": element.get("value", ""),
                    "action_ts": f"{time.time():.6f}",
                    **({"style": element["style"]} if "style" in element else {}),
                }
            ],
        }

    async def select(
        self, message: dict[str, Any], option: str, *, user: str = "UALICE"
    ) -> Delivery:
        """Pick the option labelled `option` in the message's static_select menu."""
        for block in message.get("blocks", []):
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("type") != "static_select":
                    continue
                for choice in element.get("options", []):
                    if choice["text"]["text"] == option:
                        button_like = {**element, "text": element.get("placeholder") or {}}
                        payload = self._block_actions(message, block, button_like, user)
                        payload["actions"] = [
                            {
                                "type": "static_select",
                                "action_id": element["action_id"],
                                "block_id": block.get("block_id", "b"),
                                "selected_option": choice,
                                "placeholder": element.get("placeholder"),
                                "action_ts": f"{time.time():.6f}",
                            }
                        ]
                        return await self.deliver("interactive", payload)
        raise AssertionError(f"no menu option {option!r} in {message.get('text')!r}")

    async def submit(
        self, view: dict[str, Any], values: dict[str, str], *, user: str = "UALICE"
    ) -> Delivery:
        """Submit a modal the app opened, with `values` as {block_id: typed text}."""
        state: dict[str, dict[str, Any]] = {}
        for block in view.get("blocks", []):
            if block.get("type") == "input":
                element = block["element"]
                state[block["block_id"]] = {
                    element["action_id"]: {
                        "type": element["type"],
                        "value": values.get(block["block_id"]),
                    }
                }
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
            "api_app_id": "A_FAKE",
            "token": "deprecated",
            "trigger_id": self.new_trigger(),
            "view": {**view, "state": {"values": state}, "team_id": TEAM, "app_id": "A_FAKE"},
            "response_urls": [],
        }
        return await self.deliver("interactive", payload)


def _select_problems(i: int, element: dict[str, Any]) -> list[str]:
    """What Slack refuses in a static_select menu: 1-100 options, short texts and values."""
    if element.get("type") != "static_select":
        return []
    options = element.get("options") or []
    problems = [] if 0 < len(options) <= 100 else [f"block {i}: a menu needs 1-100 options"]
    for option in options:
        if not 0 < len(option.get("text", {}).get("text", "")) <= 75:
            problems.append(f"block {i}: option text must be 1-75 characters")
        if not 0 < len(option.get("value", "")) <= 150:
            problems.append(f"block {i}: option value must be 1-150 characters")
    return problems


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = args.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)
