"""The processes `genflow up` runs next to the API: the web UI and, with Slack tokens, the bot.

They are separate processes (what the Procfile runs as `ui` and `slack`), started once the
API is serving and the admin token exists, and stopped when the API stops. Each one talks
to the API over HTTP like any other client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from dataclasses import dataclass

from backend.settings import Settings

STOP_TIMEOUT = 5.0


@dataclass
class Companion:
    name: str
    module: str
    url: str
    # The Slack bot acts for Slack users with the admin token; the web UI logs each person
    # in and holds no token of its own, so it is not given one.
    admin_token: bool = False
    process: asyncio.subprocess.Process | None = None


def reachable_host(settings: Settings) -> str:
    """Where a local client finds a server bound to `settings.host` (0.0.0.0 binds all)."""
    return "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host


def wanted(settings: Settings, env: dict[str, str] | None = None) -> list[Companion]:
    """The UI always; the Slack bot when its tokens are set (docs/slack.md)."""
    env = dict(os.environ) if env is None else env
    host = reachable_host(settings)
    companions = [Companion("Web UI", "ui", f"http://{host}:{settings.ui_port}/")]
    if env.get("SLACK_BOT_TOKEN") and (
        env.get("SLACK_APP_TOKEN") or env.get("SLACK_SIGNING_SECRET")
    ):
        port = env.get("GENFLOW_SLACK_PORT") or "3000"
        where = (
            "Socket Mode" if env.get("SLACK_APP_TOKEN") else f"http://{host}:{port}/slack/events"
        )
        companions.append(Companion("Slack", "bots", where, admin_token=True))
    return companions


async def start(companions: list[Companion], settings: Settings, admin_token: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "GENFLOW_API_TOKEN"},
        "GENFLOW_API_URL": f"http://{reachable_host(settings)}:{settings.port}",
        "GENFLOW_DATA_DIR": str(settings.data_dir),
        "GENFLOW_HOST": settings.host,
        "GENFLOW_UI_PORT": str(settings.ui_port),
    }
    for companion in companions:
        token = {"GENFLOW_API_TOKEN": admin_token} if companion.admin_token else {}
        companion.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", companion.module, env={**env, **token}
        )


async def stop(companions: list[Companion]) -> None:
    for companion in companions:
        process = companion.process
        if process is None or process.returncode is not None:
            continue
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
