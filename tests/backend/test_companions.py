from pathlib import Path

from backend.companions import wanted
from backend.settings import Settings


def names(env: dict[str, str]) -> list[str]:
    return [c.module for c in wanted(Settings(data_dir=Path("/tmp/x")), env)]


def test_up_runs_the_ui_and_the_slack_bot_only_with_its_tokens() -> None:
    assert names({}) == ["ui"]
    assert names({"SLACK_BOT_TOKEN": "xoxb-1"}) == ["ui"]  # half configured: not started
    assert names({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}) == ["ui", "bots"]
    assert names({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}) == ["ui", "bots"]


def test_only_the_slack_bot_is_given_the_admin_token() -> None:
    """The web chat logs each person in; only the bot acts (for Slack users) as admin."""
    both = wanted(
        Settings(data_dir=Path("/tmp/x")), {"SLACK_BOT_TOKEN": "x", "SLACK_APP_TOKEN": "y"}
    )
    assert {c.module: c.admin_token for c in both} == {"ui": False, "bots": True}
