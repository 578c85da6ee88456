"""Socket Mode wiring: the bot opens its WebSocket with the app-level token and answers
Slack's envelopes (slash commands, clicks) with envelope_id acks; no public URL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backend.client import GenFlowClient
from bots.config import SlackConfig
from bots.slack import running
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import ALICE
from tests.slack.slack_view import buttons, job_id_in, showing, shown

pytestmark = pytest.mark.timeout(60)


def socket_config(config: SlackConfig, slack: FakeSlack) -> SlackConfig:
    """The same bot with an app-level token and no signing secret: Socket Mode."""
    return replace(config, app_token=slack.app_token, signing_secret="")


async def test_commands_and_clicks_over_socket_mode(
    slack: FakeSlack, config: SlackConfig, genflow: GenFlowClient, client: GenFlowClient
) -> None:
    async with running(socket_config(config, slack), genflow) as bot:
        assert bot.url is None  # nothing listens for HTTP
        await slack.wait_for(lambda: slack.socket_connected, what="the WebSocket")
        opened = slack.called("apps.connections.open")
        assert len(opened) == 1 and opened[0].token == slack.app_token

        trigger = slack.new_trigger()
        reply = await slack.slash("/task", "Write a limerick", user=ALICE, trigger_id=trigger)
        assert reply.status == 200 and reply.elapsed < 3.0
        assert "Started your task" in reply.text  # the ack's payload, over the socket
        job_id = job_id_in(reply.text)
        repeat = await slack.slash("/task", "Write a limerick", trigger_id=trigger, retry=1)
        assert repeat.text == ""  # a redelivered envelope is acked and ignored

        waiting = await showing(
            slack, lambda m: buttons(m) == ["Approve", "Reject", "Edit"], "buttons"
        )
        await slack.click(waiting, "Approve", user=ALICE)
        done = await showing(slack, lambda m: "Done" in shown(m), "the approved job")
        assert "Approved by <@UALICE>" in shown(done)
        assert len(slack.called("chat.postMessage")) == 1

    await slack.wait_for(lambda: not slack.socket_connected, what="the socket to close")
    job = await client.job(job_id)
    assert job["status"] == "completed"
