"""The Slack bot's settings, read once from the environment (see docs/slack.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_API_URL = "https://slack.com/api/"


def _env(name: str, default: str = "") -> str:
    return (os.environ.get(name) or default).strip()


def _default_ui_url() -> str:
    """Where `genflow ui` listens on this machine (GENFLOW_HOST, GENFLOW_UI_PORT); a
    wildcard bind address is no place to browse to, so it reads as this machine."""
    host = _env("GENFLOW_HOST", "127.0.0.1")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{_env('GENFLOW_UI_PORT', '7860')}"


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    signing_secret: str = ""
    app_token: str = ""  # set: Socket Mode; unset: HTTP mode on host:port/slack/events
    host: str = "127.0.0.1"
    port: int = 3000
    api_url: str = DEFAULT_API_URL  # the Slack Web API (a fake one in tests)
    # Who else decides the reviews of jobs started from Slack: user ids (U…/W…) and user
    # group ids (S…), passed as each job's reviewers (bots/reviewers.py).
    reviewers: frozenset[str] = frozenset()
    ui_url: str = "http://127.0.0.1:7860"
    data_dir: Path = field(default_factory=lambda: Path.home() / ".genflow")
    update_interval: float = 1.0  # seconds between two edits of one job's message

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "slack.db"

    def job_url(self, job_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/?job={job_id}"

    def workflow_url(self, workflow_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/?workflow={workflow_id}"

    def problems(self) -> list[str]:
        """What is missing for the chosen mode, in words an operator can act on."""
        missing = []
        if not self.bot_token:
            missing.append("SLACK_BOT_TOKEN is not set (the app's xoxb- token)")
        if self.app_token and not self.app_token.startswith("xapp-"):
            missing.append("SLACK_APP_TOKEN must be an app-level xapp- token")
        if not self.app_token and not self.signing_secret:
            missing.append(
                "SLACK_SIGNING_SECRET is not set (needed in HTTP mode; or set "
                "SLACK_APP_TOKEN for Socket Mode)"
            )
        if "*" in self.reviewers:
            missing.append(
                "GENFLOW_SLACK_REVIEWERS may not be `*`: anyone who can see a job's message "
                "could then decide it, so one shared link or channel would be enough to "
                "approve. Name the reviewers' user ids (U…) or user groups (S…)"
            )
        return missing

    @classmethod
    def from_env(cls) -> SlackConfig:
        api_url = _env("GENFLOW_SLACK_API_URL", DEFAULT_API_URL)
        reviewers = _env("GENFLOW_SLACK_REVIEWERS").replace(",", " ").split()
        try:
            port = int(_env("GENFLOW_SLACK_PORT", "3000"))
            interval = float(_env("GENFLOW_SLACK_UPDATE_INTERVAL", "1.0"))
        except ValueError as exc:
            raise ValueError(f"GENFLOW_SLACK_PORT / GENFLOW_SLACK_UPDATE_INTERVAL: {exc}") from exc
        return cls(
            bot_token=_env("SLACK_BOT_TOKEN"),
            signing_secret=_env("SLACK_SIGNING_SECRET"),
            app_token=_env("SLACK_APP_TOKEN"),
            host=_env("GENFLOW_SLACK_HOST", "127.0.0.1"),
            port=port,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            reviewers=frozenset(r.lstrip("@") for r in reviewers),
            ui_url=_env("GENFLOW_UI_URL") or _default_ui_url(),
            data_dir=Path(_env("GENFLOW_DATA_DIR", str(Path.home() / ".genflow"))).expanduser(),
            update_interval=interval,
        )
