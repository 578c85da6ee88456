"""The GenFlow Slack bot: entry point (`genflow slack`, `python -m bots`) and lifecycle.

Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode on GENFLOW_SLACK_PORT at
/slack/events. GenFlow is reached through `backend.client` only (GENFLOW_API_URL,
GENFLOW_API_TOKEN); Slack through GENFLOW_SLACK_API_URL. See docs/slack.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from backend.client import APIError, GenFlowClient, client_from_env
from bots.app import build_app
from bots.bot import SlackBot
from bots.config import SlackConfig
from bots.http_mode import HttpServer
from bots.socket_mode import SocketModeRunner
from bots.store import BotStore

log = logging.getLogger("genflow.slack")


def slack_client(config: SlackConfig) -> AsyncWebClient:
    """The Web API client: GENFLOW_SLACK_API_URL, and 429s retried after Retry-After."""
    return AsyncWebClient(
        token=config.bot_token,
        base_url=config.api_url,
        timeout=30,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def genflow_client() -> GenFlowClient:
    # One event stream stays open per followed job: no cap on connections.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
    return client_from_env(transport=httpx.AsyncHTTPTransport(limits=limits))


@dataclass
class RunningBot:
    bot: SlackBot
    app: AsyncApp
    server: HttpServer | SocketModeRunner

    @property
    def url(self) -> str | None:
        """Where Slack should send requests in HTTP mode (None in Socket Mode)."""
        return self.server.url if isinstance(self.server, HttpServer) else None


@contextlib.asynccontextmanager
async def running(
    config: SlackConfig,
    genflow: GenFlowClient | None = None,
    slack: AsyncWebClient | None = None,
) -> AsyncIterator[RunningBot]:
    """The bot, connected and serving, until the block ends."""
    slack = slack or slack_client(config)
    identity = await slack.auth_test()  # fails fast on a wrong token or API URL
    log.info("connected to Slack as %s in %s", identity.get("user"), identity.get("team"))
    store = await BotStore.open(config.db_path)
    bot = SlackBot(config, genflow or genflow_client(), slack, store)
    app = build_app(bot)
    server: HttpServer | SocketModeRunner = (
        SocketModeRunner(app, config.app_token)
        if config.socket_mode
        else HttpServer(app, config.host, config.port)
    )
    try:
        await server.start()
        await bot.resume()
        yield RunningBot(bot, app, server)
    finally:
        with contextlib.suppress(Exception):
            await server.stop()
        await bot.close()


async def serve(config: SlackConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(config) as bot:
        try:
            await bot.bot.genflow.health()
        except APIError as exc:
            log.warning("GenFlow API is not answering yet (%s); will keep trying", exc.message)
        where = "Socket Mode" if bot.url is None else f"HTTP mode on {bot.url}"
        print(f"GenFlow Slack bot is up ({where}).", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call is noise
    try:
        config = SlackConfig.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems = config.problems()
    if problems:
        print("error: the Slack bot cannot start:\n  " + "\n  ".join(problems), file=sys.stderr)
        print("See docs/slack.md for setting up the Slack app.", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config))
    except SlackApiError as exc:
        print(f"error: Slack refused the bot: {exc.response.get('error')}", file=sys.stderr)
        return 1
    except (aiohttp.ClientError, OSError) as exc:
        print(f"error: cannot reach Slack at {config.api_url}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
