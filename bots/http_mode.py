"""HTTP mode: Slack POSTs slash commands and interactivity to `/slack/events`.

An aiohttp server (what slack-bolt's own server uses) that can be started and stopped
inside a running event loop, so `main()` and the tests run it the same way. Bolt checks
`X-Slack-Signature` / `X-Slack-Request-Timestamp` against SLACK_SIGNING_SECRET and
answers 401 to a bad signature or a timestamp older than five minutes.
"""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

PATH = "/slack/events"


class HttpServer:
    def __init__(self, app: AsyncApp, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        web_app = web.Application()
        web_app.router.add_post(PATH, self._events)
        web_app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(web_app, access_log=None)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{PATH}"

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # an ephemeral port: learn which one
            server = site._server
            assert server is not None and server.sockets  # type: ignore[union-attr]
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _events(self, request: web.Request) -> web.Response:
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})
