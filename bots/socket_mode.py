"""Socket Mode: the bot opens a WebSocket to Slack (apps.connections.open with the xapp-
token) and receives slash commands and clicks over it; no public URL needed."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp


class SocketModeRunner:
    def __init__(self, app: AsyncApp, app_token: str) -> None:
        # The handler calls apps.connections.open through the app's Web API client, so
        # GENFLOW_SLACK_API_URL redirects that call too (the tests' fake Slack does it).
        self.handler = AsyncSocketModeHandler(app, app_token, ping_interval=10)

    async def start(self) -> None:
        await self.handler.connect_async()

    async def stop(self) -> None:
        await self.handler.close_async()
