"""Reviews from Slack beyond a click: the Edit form, a deadline's reminder and timeout, and
someone who sees a job but may not decide its open review.

Fake Slack <-> bot (HTTP mode) <-> a real API process (review sweeps every second).
Decisions are sent acting for the Slack user; what GenFlow recorded is read back with the
admin client. (The last test meets a stub of GenFlow instead: the default flows have no
review that someone may see but not decide.)
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from backend.client import APIError, GenFlowClient
from bots.bot import SlackBot
from bots.config import SlackConfig
from bots.people import SlackUser
from bots.slack import RunningBot, running
from bots.store import BotStore
from tests.e2e.server import GenFlowServer
from tests.fakes.slack_api import TEAM, FakeSlack
from tests.slack.conftest import ALICE, BOB, CAROL, DAVE, principal
from tests.slack.slack_view import CHANNEL, buttons, job_id_in, showing, shown

pytestmark = pytest.mark.timeout(90)


async def status_of(client: GenFlowClient, job_id: str, wanted: str, timeout: float = 15.0) -> dict:
    async with asyncio.timeout(timeout):
        while (job := await client.job(job_id))["status"] != wanted:
            await asyncio.sleep(0.05)
    return job


def inputs(view: dict[str, Any]) -> dict[str, str | None]:
    """The form's text boxes: block id -> the text it opens with."""
    return {
        block["block_id"]: block["element"].get("initial_value")
        for block in view["blocks"]
        if block["type"] == "input"
    }


async def test_an_edit_through_the_form_is_the_clickers_decision(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    reply = await slack.slash("/task", "Write a motto", user=ALICE)
    job_id = job_id_in(reply.text)
    waiting = await showing(slack, lambda m: "Edit" in buttons(m), "the Edit button")

    await slack.click(waiting, "Edit", user=BOB)  # not his to decide: no form
    refused = await slack.wait_for(lambda: slack.ephemerals(), what="a refusal")
    assert "You may not decide this review" in refused[-1] and slack.called("views.open") == []

    clicked = await slack.click(waiting, "Edit", user=ALICE)
    assert clicked.status == 200 and clicked.elapsed < 3.0
    opened = await slack.wait_for(lambda: slack.called("views.open"), what="the Edit form")
    form = opened[0].response["view"]
    assert inputs(form) == {"output": "An answer to the task."}  # the text under review
    assert form["submit"]["text"] == "Save and approve"

    emptied = await slack.submit(form, {"output": "  "}, user=ALICE)
    assert emptied.body == {
        "response_action": "errors",
        "errors": {"output": "This cannot be empty."},
    }
    same = await slack.submit(form, {"output": "An answer to the task.\n"}, user=ALICE)
    assert same.status == 200
    told = await slack.wait_for(
        lambda: [t for t in slack.ephemerals(ALICE) if "You changed nothing" in t],
        what="that nothing changed",
    )
    assert told == [
        ":information_source: You changed nothing, so nothing was sent; the review is still "
        "open (use *Approve* to approve it as it is)."
    ]
    assert (await client.job(job_id))["status"] == "waiting_for_review"

    sent = await slack.submit(form, {"output": "Edited: fewer words, more tea."}, user=ALICE)
    assert sent.status == 200 and sent.body in ("", {})  # the form closes
    done = await showing(slack, lambda m: "Done" in shown(m), "the edited, finished job")
    assert "✏️ Edited and approved by <@UALICE> · edited: +1/-1 lines" in shown(done)
    assert buttons(done) == []
    assert "Edited: fewer words, more tea." in shown(done)

    job = await status_of(client, job_id, "completed")
    assert job["result"]["output"] == "Edited: fewer words, more tea."
    decided = [e["data"] for e in await client.events(job_id) if e["type"] == "review.decided"]
    assert len(decided) == 1
    edit = decided[0]
    assert (edit["decision"], edit["by"], edit["via"]) == ("edit", principal(ALICE), "slack")
    assert edit["edits"] == {"output": "Edited: fewer words, more tea."}
    assert "-An answer to the task.\n+Edited: fewer words, more tea.\n" in edit["diff"]["output"]


def blocks_of(call_args: dict[str, Any]) -> dict[str, Any]:
    blocks = call_args.get("blocks") or []
    return {"blocks": json.loads(blocks) if isinstance(blocks, str) else blocks}


async def test_a_reminder_is_posted_once_across_a_restart_then_the_deadline_decides(
    slack: FakeSlack, config: SlackConfig, api: GenFlowServer, client: GenFlowClient
) -> None:
    # Slash commands set no deadline; the bot shows a job Alice started with one, as if
    # it had started it (the follower is what this is about).
    job = await client.acting_for(principal(ALICE)).create_job(
        "review",
        {"task": "Sign the letter"},
        reviewers=[principal(CAROL)],
        review_timeout=10,
        on_timeout="reject",
    )
    job_id = job["id"]
    async with running(config, GenFlowClient(api.base_url, api.token)) as first_run:
        slack.bot_url = first_run.url
        await first_run.bot.show_job(job_id, "review", "Sign the letter", CHANNEL, ALICE)
        waiting = await showing(slack, lambda m: buttons(m), "the review")
        assert "◷ Due <!date^" in shown(waiting) and "then GenFlow rejects it." in shown(waiting)
        replies = await slack.wait_for(
            lambda: slack.thread(CHANNEL, waiting["ts"]), timeout=20, what="the reminder"
        )
    assert len(replies) == 1
    reminder = replies[0]["text"]
    assert reminder.startswith("◷ <@UCAROL> <@UALICE>: this review is still waiting")
    assert "It is due <!date^" in reminder and reminder.endswith("then GenFlow rejects it.")

    seen_before = len(slack.updates(CHANNEL, waiting["ts"]))
    async with running(config, GenFlowClient(api.base_url, api.token)) as second_run:
        slack.bot_url = second_run.url

        def replayed() -> bool:  # the restarted bot edited the message past the reminder
            later = slack.updates(CHANNEL, waiting["ts"])[seen_before:]
            return any("A reminder was sent." in shown(blocks_of(c.args)) for c in later)

        await slack.wait_for(replayed, what="the restarted bot's view of the reminder")
        # Still open when it was replayed: only the bot's memory kept it from posting again.
        assert (await client.job(job_id))["status"] == "waiting_for_review"
        assert len(slack.thread(CHANNEL, waiting["ts"])) == 1

        timed_out = await showing(
            slack, lambda m: "Timed out" in shown(m), "the deadline's decision", timeout=20
        )
        assert "◷ Timed out: rejected by GenFlow" in shown(timed_out)
        await client.cancel(job_id)  # the rejected task would try again; enough
        await showing(slack, lambda m: "Cancelled" in shown(m), "the cancelled job")
    audit = (await client.reviews(job_id))["reviews"][0]
    assert audit["state"] == "timed_out" and audit["decision"]["via"] == "timeout"
    assert audit["reminded_at"] is not None
    assert len(slack.thread(CHANNEL, waiting["ts"])) == 1  # one reminder in all


# -- someone who sees the job but may not decide its open review ------------------------

SECOND = {"id": "rev_2", "node": "Editor", "prompt": "Good?", "options": ["approve", "edit"],
          "assignees": [principal("UERIN")], "editable": ["output"],
          "payload": {"output": "a draft"}}  # fmt: skip


class TwoGates:
    """GenFlow as the bot meets it for Alice's job of two gates: Dave decided the first
    (so he sees the job), the second is Erin's. Acting for someone, the job with its
    `may_decide`, and a decision refused (403) to whom it is not; with the bot's own
    token, the review audit."""

    def __init__(self, as_: str | None = None) -> None:
        self.as_ = as_
        self.decided: list[tuple[str, str]] = []

    def acting_for(self, principal: str) -> TwoGates:
        return TwoGates(principal)

    def may(self) -> bool:
        return self.as_ in (principal(ALICE), principal("UERIN"))

    async def job(self, job_id: str) -> dict[str, Any]:
        return {"id": job_id, "status": "waiting_for_review", "owner": principal(ALICE),
                "review": SECOND, "may_decide": self.may()}  # fmt: skip

    async def decide(self, job_id: str, review_id: str, decision: str, **rest: Any) -> dict:
        if not self.may():
            raise APIError(403, "forbidden", "you may see this job but not decide this review")
        return {}

    async def reviews(self, job_id: str) -> dict[str, Any]:
        assert self.as_ is None, "the bot reads the audit with its own token"
        first = {"review_id": "rev_1", "assignees": [principal(DAVE)]}
        return {"job_id": job_id, "owner": principal(ALICE),
                "reviews": [first, {**SECOND, "review_id": "rev_2"}]}  # fmt: skip


async def test_who_sees_but_may_not_decide_gets_no_form_and_is_told_who_may(
    tmp_path: Path,
) -> None:
    """The bot words GenFlow's answers: a form opens only for a review the job says the
    clicker may decide (`may_decide`), and a refusal names who may (the starter and the
    review's assignees, from its request)."""
    store = await BotStore.open(tmp_path / "slack.db")
    await store.add_job("job_1", "two_gates", "Two gates", CHANNEL, ALICE)
    config = SlackConfig(bot_token="xoxb-test", data_dir=tmp_path)
    bot = SlackBot(config, cast(GenFlowClient, TwoGates()), cast(AsyncWebClient, None), store)
    dave, erin = SlackUser(TEAM, DAVE), SlackUser(TEAM, "UERIN")
    who_may = (
        ":no_entry: You may not decide this review: only <@UALICE> (who started the job), "
        "<@UERIN> or an admin may."
    )
    try:
        assert await bot.open_review("job_1", "rev_2", dave) == (None, who_may)  # no form
        assert await bot.decide("job_1", "rev_2", "approve", dave) == who_may
        assert await bot.edit("job_1", "rev_2", {"output": "mine"}, dave) == who_may
        assert await bot.open_review("job_1", "rev_2", erin) == (SECOND, None)
        assert await bot.decide("job_1", "rev_2", "approve", erin) is None
    finally:
        await store.close()
