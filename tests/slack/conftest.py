"""Fixtures for the Slack bot tests: a real `genflow serve` process with a scripted model,
the fake Slack (tests/fakes/slack_api.py), and the bot in HTTP mode between them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.client import GenFlowClient
from bots.config import SlackConfig
from bots.slack import RunningBot, running
from tests.e2e.server import GenFlowServer, write_script
from tests.fakes.session_answers import FIVE_TOPICS, SESSION_RULES
from tests.fakes.slack_api import TEAM, FakeSlack
from tests.fakes.workflow_answers import TEA, TEA_RULES, TEA_SPEC
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT

# `/workflow`: generation's two model calls (the intent, then the drafted spec: the
# content_generation template, as tests/e2e/test_workflow_process.py scripts it) and the
# answer of its `draft` llm node. First, so no rule below answers generation's prompts.
WORKFLOW_DRAFT, WORKFLOW_SPEC, WORKFLOW_RULES = TEA, TEA_SPEC, TEA_RULES

# First matching rule wins (a rule matches on any text of the prompt).
# A long article (~9,000 chars) whose paragraphs say different things: tidying removes a
# clause said twice (flows/checks.py), so repeated filler would shrink it to one paragraph.
LONG = "\n\n".join(
    f"Paragraph {i}: " + " ".join(f"bean{i}x{k}" for k in range(60)) + "." for i in range(20)
)
SCRIPT: list[dict[str, Any]] = [
    *WORKFLOW_RULES,
    {"answer": "EPIC section text.", "match": "article about an epic"},
    {"answer": f"# The epic\n\n{LONG}", "match": "EPIC section text"},
    {"answer": "no JSON here", "match": "doomed"},  # this topic's outline never validates
    {"answer": "# Coffee\n\nA **revised** article.", "match": "Revise this article"},
    {"answer": f"## Origins\n\n{STYLED_TEXT} A **friendly** cup of [coffee](https://example.com).",
     "match": "conversational"},
    {"answer": OUTLINE, "match": "Write an outline"},
    {"answer": SECTION_TEXT, "match": "Write one paragraph"},
    {"answer": "Second try, rhyming now.", "match": "Reviewer's comment"},
    {"answer": "An answer to the task.", "match": "Task:"},
    # GenFlow sessions (`/session`): "Discover topics" asks for the default 5, slowly
    # enough that the message is seen while the model works.
    {"answer": FIVE_TOPICS, "match": "Suggest 5", "delay": 1.0},
    *SESSION_RULES,
]  # fmt: skip

CHANNEL, ALICE, BOB, CAROL, DAVE = "C_GENERAL", "UALICE", "UBOB", "UCAROL", "UDAVE"
EDITORS = "SEDITORS"  # a user group of reviewers
SWEEP_SECONDS = 1  # how often the API applies review reminders and deadlines


def principal(user: str) -> str:
    """Who a Slack user of the fake workspace is to GenFlow (the bot acts for them)."""
    return f"slack:{TEAM}:{user}"


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GenFlowServer]:
    """One real API process for every Slack test (jobs are told apart by id)."""
    script = write_script(tmp_path_factory.mktemp("slack-script") / "llm.json", SCRIPT)
    server = GenFlowServer(
        data_dir=tmp_path_factory.mktemp("slack-api"),
        script=script,
        extra_env={"GENFLOW_REVIEW_SWEEP_SECONDS": str(SWEEP_SECONDS)},
    )
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(user_groups={EDITORS: [DAVE]}) as fake:
        yield fake


@pytest.fixture
def config(slack: FakeSlack, tmp_path: Path) -> SlackConfig:
    return SlackConfig(
        bot_token=slack.bot_token,
        signing_secret=slack.signing_secret,
        port=0,
        api_url=slack.api_url,
        reviewers=frozenset({CAROL, EDITORS}),
        ui_url="http://ui.test",
        data_dir=tmp_path / "bot",
        update_interval=0.2,
    )


@pytest.fixture
def genflow(api: GenFlowServer) -> GenFlowClient:
    """The bot's own client of the API (the bot closes it)."""
    return GenFlowClient(api.base_url, api.token)


@pytest.fixture
async def bot(
    slack: FakeSlack, config: SlackConfig, genflow: GenFlowClient
) -> AsyncIterator[RunningBot]:
    async with running(config, genflow) as running_bot:
        slack.bot_url = running_bot.url
        yield running_bot


@pytest.fixture
async def client(api: GenFlowServer) -> AsyncIterator[GenFlowClient]:
    """The test's own client of the API (as the web UI or a script would decide)."""
    async with GenFlowClient(api.base_url, api.token) as c:
        yield c
