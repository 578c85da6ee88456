"""The Slack bot end to end, offline: fake Slack <-> bot (HTTP mode) <-> real API process.

Every request the fake sends is signed like Slack signs it; every click is built from the
blocks the bot actually posted. Assertions are about what a person in the channel sees.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import replace

import httpx
import pytest

from backend.client import GenFlowClient
from bots.config import SlackConfig
from bots.slack import RunningBot, running
from tests.e2e.server import GenFlowServer, free_port
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import ALICE, BOB, CAROL, DAVE, principal
from tests.slack.slack_view import CHANNEL, buttons, images, job_id_in, showing, shown

pytestmark = pytest.mark.timeout(60)


async def events_of(client: GenFlowClient, job_id: str, kind: str) -> list[dict]:
    return [e["data"] for e in await client.events(job_id) if e["type"] == kind]


async def finished(client: GenFlowClient, job_id: str, timeout: float = 15.0) -> dict:
    async with asyncio.timeout(timeout):
        while (job := await client.job(job_id))["status"] not in ("completed", "failed"):
            await asyncio.sleep(0.05)
    return job


async def test_image_regenerate_then_approve(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    reply = await slack.slash("/imagine", "A lighthouse at dawn", user=ALICE)
    assert reply.status == 200 and reply.elapsed < 3.0
    assert "Started your image" in reply.text
    job_id = job_id_in(reply.text)

    first = await showing(
        slack,
        lambda m: buttons(m) == ["Approve", "Regenerate"] and images(m),
        "the first image with review buttons",
    )
    assert "A lighthouse at dawn" in shown(first) and f"<@{ALICE}>" in shown(first)
    assert f"http://ui.test/?job={job_id}" in shown(first)
    uploads = slack.called("files.completeUploadExternal")
    assert len(uploads) == 1 and uploads[0].args["thread_ts"] == first["ts"]
    assert images(first) == [uploads[0].response["files"][0]["id"]]
    assert slack.files[images(first)[0]]["data"].startswith(b"\x89PNG")

    click = await slack.click(first, "Regenerate", user=ALICE)
    assert click.status == 200 and click.elapsed < 3.0
    second = await showing(
        slack,
        lambda m: buttons(m) and images(m) and images(m) != images(first),
        "the second image with review buttons",
    )
    assert "Regeneration requested by <@UALICE>" in shown(second)
    assert len(slack.called("files.completeUploadExternal")) == 2
    assert len(slack.thread(CHANNEL, first["ts"])) == 2  # both attempts, in the thread

    await slack.click(second, "Approve", user=ALICE)
    done = await showing(slack, lambda m: "Done" in shown(m), "the approved, finished job")
    assert "Approved by <@UALICE>" in shown(done) and buttons(done) == []
    assert images(done) == images(second)
    job = await finished(client, job_id)
    assert job["status"] == "completed"
    decided = await events_of(client, job_id, "review.decided")
    assert [(d["decision"], d["by"], d["via"]) for d in decided] == [
        ("regenerate", principal(ALICE), "slack"),
        ("approve", principal(ALICE), "slack"),
    ]
    assert len(slack.channel_messages(CHANNEL)) == 1  # ONE message per job, edited


async def test_task_rejected_with_a_comment_then_approved(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    reply = await slack.slash("/task", "Write a haiku about autumn", user=ALICE)
    job_id = job_id_in(reply.text)
    first = await showing(
        slack, lambda m: buttons(m) == ["Approve", "Reject", "Edit"], "review buttons"
    )
    assert "An answer to the task." in shown(first)

    click = await slack.click(first, "Reject", user=ALICE)
    assert click.status == 200
    opened = await slack.wait_for(lambda: slack.called("views.open"), what="the comment modal")
    modal = opened[0].response["view"]
    assert modal["type"] == "modal" and "What should change?" in str(modal["blocks"])
    submitted = await slack.submit(modal, {"comment": "Make it rhyme"}, user=ALICE)
    assert submitted.status == 200 and submitted.body in ("", {})  # the modal closes

    second = await showing(
        slack, lambda m: buttons(m) and "Second try" in shown(m), "the second attempt"
    )
    assert "Rejected by <@UALICE>" in shown(second) and "Make it rhyme" in shown(second)
    await slack.click(second, "Approve", user=ALICE)
    done = await showing(slack, lambda m: "Done" in shown(m), "the finished job")
    assert "Approved by <@UALICE>" in shown(done) and "Second try, rhyming now." in shown(done)

    job = await finished(client, job_id)
    assert job["result"]["attempts"] == 2
    reject = (await events_of(client, job_id, "review.decided"))[0]
    assert reject == {
        **reject,
        "decision": "reject",
        "comment": "Make it rhyme",
        "by": principal(ALICE),
        "via": "slack",
    }


async def test_a_decision_made_elsewhere_updates_the_message(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    reply = await slack.slash("/task", "Name a colour", user=ALICE)
    job_id = job_id_in(reply.text)
    waiting = await showing(slack, lambda m: buttons(m), "review buttons")
    review_id = (await client.job(job_id))["review"]["id"]

    await client.decide(job_id, review_id, "approve", via="web")  # the admin, on the web
    done = await showing(slack, lambda m: "Done" in shown(m), "the message after a web decision")
    assert "Approved by admin (via web)" in shown(done) and buttons(done) == []

    # Someone clicks the button of a stale copy of the message: told who was first.
    stale = await slack.click(waiting, "Approve", user=ALICE)
    assert stale.status == 200
    told = await slack.wait_for(lambda: slack.ephemerals(), what="an ephemeral answer")
    assert "already decided by admin" in told[-1]
    assert len(await events_of(client, job_id, "review.decided")) == 1


async def test_the_api_decides_who_may_decide(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    reply = await slack.slash("/task", "Count to three", user=ALICE)
    job_id = job_id_in(reply.text)
    waiting = await showing(slack, lambda m: buttons(m), "review buttons")
    job = await client.job(job_id)
    assert job["owner"] == principal(ALICE)  # the starter's job, not the bot's
    # GENFLOW_SLACK_REVIEWERS: Carol, and the editors' group (Dave) read when it started.
    assert sorted(job["reviewers"]) == [principal(CAROL), principal(DAVE)]

    # Bob is neither: GenFlow refuses his click, and he alone is told whose review it is.
    await slack.click(waiting, "Approve", user=BOB)
    refusal = await slack.wait_for(lambda: slack.ephemerals(), what="a refusal")
    assert refusal == [  # who may: the starter, the review's assignees (the reviewers)
        ":no_entry: You may not decide this review: only <@UALICE> (who started the job), "
        "<@UCAROL>, <@UDAVE> or an admin may."
    ]
    await slack.click(waiting, "Reject", user=BOB)  # no comment form for him either
    again = await slack.wait_for(lambda: slack.ephemerals()[1:], what="a second refusal")
    assert again == refusal and slack.called("views.open") == []
    assert (await client.job(job_id))["status"] == "waiting_for_review"
    audit = await client.reviews(job_id)
    assert [r["decision"] for r in audit["reviews"]] == [None]  # nothing decided by Bob
    unchanged = slack.last_message(CHANNEL)
    assert buttons(unchanged) == ["Approve", "Reject", "Edit"] and "by <@UBOB>" not in shown(
        unchanged
    )

    await slack.click(waiting, "Approve", user=DAVE)  # a member of the reviewers' group
    done = await showing(slack, lambda m: "Done" in shown(m), "the job approved by a reviewer")
    assert "Approved by <@UDAVE>" in shown(done)
    decision = (await client.reviews(job_id))["reviews"][0]["decision"]
    assert (decision["decision"], decision["by"], decision["via"]) == (
        "approve",
        principal(DAVE),
        "slack",
    )


async def test_slack_retries_never_start_a_job_twice(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    trigger = slack.new_trigger()
    first, retry = await asyncio.gather(
        slack.slash("/task", "Say hello", user=ALICE, trigger_id=trigger),
        slack.slash("/task", "Say hello", user=ALICE, trigger_id=trigger, retry=1),
    )
    later = await slack.slash("/task", "Say hello", user=ALICE, trigger_id=trigger, retry=2)
    assert {first.status, retry.status, later.status} == {200}
    started = [r for r in (first, retry, later) if "Started" in r.text]
    assert len(started) == 1
    await showing(slack, lambda m: buttons(m), "review buttons")
    assert len(slack.called("chat.postMessage")) == 1
    assert len(slack.channel_messages(CHANNEL)) == 1


async def test_unsigned_or_stale_requests_get_401(slack: FakeSlack, bot: RunningBot) -> None:
    body = "command=%2Ftask&text=hi&user_id=UALICE&channel_id=C_GENERAL&trigger_id=1.2"
    stale = slack.sign(body, timestamp=int(time.time()) - 600)
    bad = {**slack.sign(body), "X-Slack-Signature": "v0=" + "0" * 64}
    async with httpx.AsyncClient() as http:
        for headers in (bad, stale, {}):
            response = await http.post(
                bot.url,
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
            )
            assert response.status_code == 401
    assert slack.called("chat.postMessage") == []


async def test_mistakes_and_outages_get_an_ephemeral_answer(
    slack: FakeSlack, bot: RunningBot, config: SlackConfig
) -> None:
    empty = await slack.slash("/article", "   ", user=ALICE)
    assert empty.status == 200 and "/article TOPIC" in empty.text
    too_long = await slack.slash("/imagine", "x" * 4500, user=ALICE)
    assert "input" in too_long.text.lower() and "prompt" in too_long.text
    assert slack.called("chat.postMessage") == []

    dead = GenFlowClient(f"http://127.0.0.1:{free_port()}", "token")
    async with running(replace(config, data_dir=config.data_dir / "other"), dead) as lonely:
        slack.bot_url = lonely.url
        down = await slack.slash("/task", "Anything", user=ALICE)
    assert down.status == 200 and down.elapsed < 3.0
    assert "GenFlow is unreachable" in down.text
    assert slack.called("chat.postMessage") == []


async def test_a_failed_job_shows_its_error(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    reply = await slack.slash("/article", "A doomed topic", user=ALICE)
    failed = await showing(slack, lambda m: "Failed" in shown(m), "the failure")
    job = await client.job(job_id_in(reply.text))
    assert job["status"] == "failed"
    assert job["error"]["message"] in shown(failed)


async def test_the_article_is_posted_readably_in_the_thread(
    slack: FakeSlack, bot: RunningBot
) -> None:
    await slack.slash("/article", "The history of coffee", user=ALICE)
    done = await showing(slack, lambda m: "Done" in shown(m), "the finished article")
    assert "*Coffee, a history*" in shown(done) and "100%" in shown(done)
    replies = slack.thread(CHANNEL, done["ts"])
    assert len(replies) == 1 and replies[0]["blocks"][0]["type"] == "section"
    text = shown(replies[0])
    assert text.startswith("*Coffee, a history*") and text.count("Coffee, a history") == 1
    assert "*Origins*" in text and "*friendly*" in text and "<https://example.com|coffee>" in text

    await slack.slash("/article", "an epic history of coffee", user=ALICE)
    long_done = await showing(
        slack,
        lambda m: "Paragraph 0" in shown(m) and "Done" in shown(m),
        "the finished long article",
    )
    posted = slack.thread(CHANNEL, long_done["ts"])
    assert [f["name"] for f in posted[0]["files"]] == ["article.md"]
    article = slack.files[posted[0]["files"][0]["id"]]["data"].decode()
    # "Coffee, a history" leaves out a third of the topic's words: the topic is the title
    assert article.startswith("# An epic history of coffee\n") and "Paragraph 19" in article


async def test_rate_limits_are_respected_and_429_retried(
    slack: FakeSlack, bot: RunningBot, config: SlackConfig
) -> None:
    slack.fail("chat.update", status=429, retry_after=1)
    await slack.slash("/article", "The history of coffee", user=ALICE)
    done = await showing(slack, lambda m: "Done" in shown(m), "the finished article")
    refused = [c for c in slack.calls if c.method == "chat.update" and c.status == 429]
    assert len(refused) == 1
    edits = [c.at for c in slack.updates(CHANNEL, done["ts"])]
    gaps = [b - a for a, b in itertools.pairwise(edits)]
    assert gaps and min(gaps) >= config.update_interval * 0.9


async def test_the_bot_resumes_its_jobs_after_a_restart(
    slack: FakeSlack, config: SlackConfig, api: GenFlowServer, client: GenFlowClient
) -> None:
    async with running(config, GenFlowClient(api.base_url, api.token)) as first_run:
        slack.bot_url = first_run.url
        reply = await slack.slash("/imagine", "A red kite", user=ALICE)
        job_id = job_id_in(reply.text)
        first = await showing(slack, lambda m: buttons(m) and images(m), "the first image")

    # While the bot is down, someone asks for another image on the web.
    await client.decide(job_id, (await client.job(job_id))["review"]["id"], "regenerate", via="web")
    async with asyncio.timeout(15):
        while (await client.job(job_id))["status"] != "waiting_for_review":
            await asyncio.sleep(0.05)
    assert slack.last_message(CHANNEL)["blocks"] == first["blocks"]  # nobody updated it

    async with running(config, GenFlowClient(api.base_url, api.token)) as second_run:
        slack.bot_url = second_run.url
        second = await showing(
            slack,
            lambda m: buttons(m) and images(m) != images(first),
            "the second image, posted by the restarted bot",
        )
        assert "Regeneration requested by admin (via web)" in shown(second)
        assert len(slack.called("files.completeUploadExternal")) == 2  # no re-upload
        await slack.click(second, "Approve", user=ALICE)
        await showing(slack, lambda m: "Done" in shown(m), "the approved job")


async def test_article_review_asks_for_a_revision_then_approves(
    slack: FakeSlack, bot: RunningBot
) -> None:
    await slack.slash("/article", "The history of coffee --review", user=ALICE)
    first = await showing(
        slack, lambda m: buttons(m) == ["Approve", "Revise", "Edit"], "review buttons"
    )
    assert "whole article is in the thread" in shown(first)
    await slack.click(first, "Revise", user=ALICE)
    opened = await slack.wait_for(lambda: slack.called("views.open"), what="the comment modal")
    await slack.submit(opened[0].response["view"], {"comment": "Shorter"}, user=ALICE)
    second = await showing(slack, lambda m: buttons(m) and "revised" in shown(m), "the revision")
    assert "Revision requested by <@UALICE>" in shown(second) and "Shorter" in shown(second)
    await slack.click(second, "Approve", user=ALICE)
    await showing(slack, lambda m: "Done" in shown(m), "the approved article")
    drafts = slack.thread(CHANNEL, first["ts"])
    assert len(drafts) == 2 and "*revised*" in shown(drafts[1])  # each version, readable


async def test_flow_command_lists_and_starts_any_flow(slack: FakeSlack, bot: RunningBot) -> None:
    listing = await slack.slash("/flow", "", user=ALICE)
    assert "`review`" in listing.text and "`image`" in listing.text
    reply = await slack.slash("/flow", 'review task="Say hi twice"', user=ALICE)
    assert "Started" in reply.text
    waiting = await showing(slack, lambda m: buttons(m), "review buttons")
    assert "Say hi twice" in shown(waiting)


async def test_outside_a_channel_the_bot_is_in_it_posts_in_a_dm(
    slack: FakeSlack, bot: RunningBot
) -> None:
    slack.not_member_of.add("C_PRIVATE")
    reply = await slack.slash("/task", "Whisper", user=ALICE, channel="C_PRIVATE")
    assert "not a member of <#C_PRIVATE>" in reply.text
    dm = await showing(slack, lambda m: buttons(m), "the job in a DM", channel=ALICE)
    assert "Whisper" in shown(dm)


class SlowGenFlow(GenFlowClient):
    async def create_job(self, flow: str, input_: dict, **terms: object) -> dict:
        await asyncio.sleep(2.5)  # longer than the bot's ack budget
        return await super().create_job(flow, input_, **terms)


async def test_a_slow_start_is_acked_in_time_and_reported_later(
    slack: FakeSlack, config: SlackConfig, api: GenFlowServer
) -> None:
    async with running(config, SlowGenFlow(api.base_url, api.token)) as slow:
        slack.bot_url = slow.url
        reply = await slack.slash("/task", "Take your time", user=ALICE)
        assert reply.elapsed < 3.0 and "Starting your task" in reply.text
        later = await slack.wait_for(lambda: slack.responses, what="the response_url report")
        assert "Started your task" in later[0][1]["text"]
        await showing(slack, lambda m: buttons(m), "review buttons")
