"""`/session`: a GenFlow session driven from one Slack message, offline.

Fake Slack <-> bot (HTTP mode) <-> a real API process with the scripted model. Every
click is built from the blocks the bot posted; assertions are about what a person in
the channel sees, and about the session as the API keeps it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from backend.client import GenFlowClient
from bots.config import SlackConfig
from bots.session_blocks import session_message
from bots.session_view import SessionView
from bots.slack import RunningBot, running
from tests.e2e.server import GenFlowServer
from tests.fakes.session_answers import FIVE_TOPICS
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import ALICE, BOB
from tests.slack.slack_view import CHANNEL, buttons, options, showing, shown

pytestmark = pytest.mark.timeout(90)
TITLES = [t["title"] for t in FIVE_TOPICS["topics"]]
START_BUTTONS = ["Discover topics", "Choose a topic"]


def session_id_in(text: str) -> str:
    found = re.search(r"ses_[0-9a-f]+", text)
    assert found, f"no session id in {text!r}"
    return found.group(0)


def at(stage: str) -> Any:
    """The message shows `stage` as the current step of the stepper."""
    return lambda m: f"👉 *{stage}*" in shown(m) and buttons(m)


async def click(slack: FakeSlack, message: dict[str, Any], label: str) -> None:
    answer = await slack.click(message, label, user=ALICE)
    assert answer.status == 200 and answer.elapsed < 3.0


async def test_a_whole_session_from_one_message(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient
) -> None:
    reply = await slack.slash("/session", "coffee", user=ALICE)
    assert reply.status == 200 and reply.elapsed < 3.0
    assert "Started your session" in reply.text
    session_id = session_id_in(reply.text)

    first = await showing(slack, lambda m: buttons(m) == START_BUTTONS, "the new session")
    assert "GenFlow session:* coffee" in shown(first) and f"<@{ALICE}>" in shown(first)
    assert "👉 *Topic* → ▫️ Research" in shown(first) and "Your turn" in shown(first)

    # Topics: no buttons while the model works, then a menu of what it found.
    await click(slack, first, "Discover topics")
    working = await showing(slack, lambda m: "Working: Discover topics" in shown(m), "work")
    assert buttons(working) == [] and options(working) == []
    found = await showing(slack, lambda m: options(m), "the topics to choose from")
    assert options(found) == TITLES
    assert "1. *Why coffee houses mattered* — Where news was made." in shown(found)
    assert "Topics requested by <@UALICE>" in shown(found)

    chosen = await slack.select(found, "Why coffee houses mattered", user=ALICE)
    assert chosen.status == 200 and chosen.elapsed < 3.0
    research = await showing(slack, at("Research"), "the research stage")
    assert "*Topic:* Why coffee houses mattered — _Where news was made._" in shown(research)
    assert "Topic chosen by <@UALICE>" in shown(research)
    assert buttons(research) == ["Research the topic", "Next stage"]

    await click(slack, research, "Research the topic")
    notes = await showing(slack, at("Writing"), "the research notes")
    assert "*Research notes*" in shown(notes) and "• Coffee was first brewed in Yemen." in shown(
        notes
    )
    assert "✅ Topic → ✅ Research → 👉 *Writing*" in shown(notes)
    assert buttons(notes) == ["Write the draft", "Edit the draft"]

    await click(slack, notes, "Write the draft")
    draft = await showing(slack, lambda m: "Draft v1" in shown(m) and buttons(m), "a draft")
    assert "Kaldi" in shown(draft) and "> " in shown(draft)  # an excerpt, quoted
    assert "Next stage" in buttons(draft)
    await click(slack, draft, "Next stage")
    styling = await showing(slack, at("Styling"), "the styling stage")
    await click(slack, styling, "Apply a style")
    styled = await showing(slack, lambda m: "Draft v2" in shown(m) and buttons(m), "styled")
    assert "Draft v2* (apply style)" in shown(styled) and "So, picture this" in shown(styled)
    await click(slack, styled, "Next stage")

    review = await showing(slack, at("Review"), "the review stage")
    assert buttons(review) == ["Edit the draft", "Review the article", "Approve", "Request changes"]
    await click(slack, review, "Review the article")
    scored = await showing(slack, lambda m: "8/10" in shown(m) and buttons(m), "the scores")
    assert "Clarity *8/10* · Accuracy *6/10* · Engagement *7/10*" in shown(scored)
    assert "• Name a source for the Kaldi legend in the first section." in shown(scored)
    assert "A lively history that needs sources." in shown(scored)

    # Request changes: a modal asks what to change; its submission sends it.
    await click(slack, scored, "Request changes")
    opened = await slack.wait_for(lambda: slack.called("views.open"), what="the feedback form")
    modal = opened[0].response["view"]
    assert "What should change?" in str(modal["blocks"])
    sent = await slack.submit(modal, {"feedback": "Say where the Kaldi story comes from."})
    assert sent.status == 200 and sent.body in ("", {})  # the modal closes
    rewriting = await showing(slack, at("Writing"), "the session back at writing")
    assert "Changes requested by <@UALICE>: “Say where the Kaldi story comes from.”" in shown(
        rewriting
    )
    assert "Say where the Kaldi story comes from." in shown(rewriting)
    state = await client.session(session_id)
    assert state["progress"]["stage"] == "writing"
    assert state["document"]["feedback"][-1]["text"] == "Say where the Kaldi story comes from."
    assert state["document"]["pendingFeedback"] == "Say where the Kaldi story comes from."

    await click(slack, rewriting, "Write the draft")
    third = await showing(slack, lambda m: "Draft v3" in shown(m) and buttons(m), "draft v3")
    await click(slack, third, "Next stage")
    await click(slack, await showing(slack, at("Styling"), "styling again"), "Next stage")
    final_review = await showing(slack, at("Review"), "the review stage again")
    assert "*Draft v3* (write article)" in shown(final_review)  # not v2's review as v3's
    assert "The last review read v2; this draft is newer." in shown(final_review)
    await click(slack, final_review, "Approve")

    done = await showing(slack, lambda m: "Approved by" in shown(m), "the approved session")
    assert buttons(done) == [] and options(done) == []
    assert "✅ Approved by <@UALICE>" in shown(done) and "🎉 Approved" in shown(done)
    assert "✅ Topic → ✅ Research → ✅ Writing → ✅ Styling → ✅ Review" in shown(done)
    assert "Final article: Why coffee houses mattered" in shown(done)
    posted = slack.thread(CHANNEL, done["ts"])
    assert len(posted) == 1 and "*Origins*" in shown(posted[0])  # the article, readable

    state = await client.session(session_id)
    assert state["progress"]["status"] == "completed"
    assert [v["source"] for v in state["document"]["history"]] == [
        "write_article",
        "apply_style",
        "write_article",
    ]
    assert state["document"]["final"]["markdown"] == state["document"]["draft"]["markdown"]
    assert len(slack.channel_messages(CHANNEL)) == 1  # ONE message, edited all along
    assert {c.args["ts"] for c in slack.called("chat.update")} == {done["ts"]}


async def test_an_action_no_longer_available_is_explained_privately(
    slack: FakeSlack, bot: RunningBot, client: GenFlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = await slack.slash("/session", "tea", user=ALICE)
    session_id = session_id_in(reply.text)
    first = await showing(slack, lambda m: buttons(m) == START_BUTTONS, "the new session")

    # Alice opens "Choose a topic" (a form: a topic of her own) ...
    await click(slack, first, "Choose a topic")
    opened = await slack.wait_for(lambda: slack.called("views.open"), what="the topic form")
    form = opened[0].response["view"]
    assert "tea" in str(form["blocks"])  # offered as the topic, to edit
    # ... while someone else picks a topic on the web.
    await client.session_action(session_id, "select_topic", {"title": "Tea ceremonies"})
    moved = await showing(slack, at("Research"), "the message after the web's choice")
    assert "*Topic:* Tea ceremonies" in shown(moved) and "chosen by" not in shown(moved)

    submitted = await slack.submit(form, {"title": "Green tea"}, user=ALICE)
    assert submitted.status == 200
    told = await slack.wait_for(lambda: slack.ephemerals(ALICE), what="an explanation")
    assert "no longer possible" in told[-1] and "research stage" in told[-1]

    stale = await slack.click(first, "Discover topics", user=ALICE)  # an old copy's button
    assert stale.status == 200 and stale.elapsed < 3.0
    told = await slack.wait_for(
        lambda: slack.ephemerals()[1:], what="an explanation of the stale click"
    )
    assert "no longer possible" in told[-1]
    assert "'discover_topics' is not available at the research stage" in told[-1]

    # Bob clicks in Alice's session; while GenFlow has not answered, the message is due
    # an edit (a render then showed "Research requested by <@UBOB>").
    sent, answer, edit_waits = asyncio.Event(), asyncio.Event(), asyncio.Event()
    send_action, settled = GenFlowClient.session_action, bot.bot.sessions.clicks_settled

    async def answered_later(self: GenFlowClient, *args: Any, **kwargs: Any) -> Any:
        if args[1] == "research_topic":
            sent.set()
            await answer.wait()
        return await send_action(self, *args, **kwargs)

    async def edit_waiting(session: str) -> None:
        edit_waits.set()
        await settled(session)

    monkeypatch.setattr(GenFlowClient, "session_action", answered_later)
    monkeypatch.setattr(bot.bot.sessions, "clicks_settled", edit_waiting)
    bobs = asyncio.create_task(slack.click(moved, "Research the topic", user=BOB))
    await sent.wait()
    bot.bot.sessions.followers[session_id].changed()
    await edit_waits.wait()  # the edit waits for GenFlow's answer to the click
    answer.set()
    await bobs
    refused = await slack.wait_for(lambda: slack.ephemerals()[2:], what="a refusal")
    assert "You may not drive this session: it belongs to <@UALICE>" in refused[-1]

    state = await client.session(session_id)
    assert state["progress"]["stage"] == "research" and state["document"]["topic"] == {
        "title": "Tea ceremonies"
    }
    assert await bot.bot.store.sessions.clicks(session_id) == []  # nobody did anything
    # No version of the message ever showed a refused click (recorded while it was
    # sent, a render meanwhile showed "Research requested by <@UBOB>").
    versions = slack.versions(CHANNEL, first["ts"])
    assert versions and not any("requested by" in shown(v) for v in versions)
    assert len(slack.channel_messages(CHANNEL)) == 1


async def test_a_restarted_bot_keeps_updating_the_same_message(
    slack: FakeSlack, config: SlackConfig, api: GenFlowServer, client: GenFlowClient
) -> None:
    async with running(config, GenFlowClient(api.base_url, api.token)) as first_run:
        slack.bot_url = first_run.url
        reply = await slack.slash("/session", "coffee", user=ALICE)
        session_id = session_id_in(reply.text)
        first = await showing(slack, lambda m: buttons(m) == START_BUTTONS, "the new session")
        await click(slack, first, "Discover topics")
        found = await showing(slack, lambda m: options(m), "the topics")
        record = await first_run.bot.store.sessions.get(session_id)
        assert record is not None and record.last_event_id > 0

    # While the bot is down, someone picks a topic on the web.
    await client.session_action(session_id, "select_topic", {"topicId": "topic-2"})
    assert slack.last_message(CHANNEL)["blocks"] == found["blocks"]  # nobody updated it

    async with running(config, GenFlowClient(api.base_url, api.token)) as second_run:
        slack.bot_url = second_run.url
        moved = await showing(slack, at("Research"), "the message, from the restarted bot")
        assert moved["ts"] == found["ts"]
        assert "*Topic:* The long road to espresso" in shown(moved)
        assert "Topics requested by <@UALICE>" in shown(moved)  # remembered in slack.db
        await click(slack, moved, "Research the topic")
        notes = await showing(slack, at("Writing"), "the research notes, after the restart")
        assert "Coffee was first brewed in Yemen." in shown(notes)

    assert len(slack.called("chat.postMessage")) == 1
    assert len(slack.channel_messages(CHANNEL)) == 1


def frame(kind: str, event_id: int | None, **data: Any) -> dict[str, Any]:
    return {"type": kind, "data": data, "metadata": {"eventId": event_id, "sessionId": "ses_1"}}


def state(stage: str, status: str, last_event_id: int, **document: Any) -> dict[str, Any]:
    actions = [] if status == "processing" else [{"action": "approve", "text": "Approve"}]
    return {
        "sessionId": "ses_1",
        "progress": {"stage": stage, "status": status, "currentStep": "Review the article"},
        "availableActions": actions,
        "lastMessage": "Moved on to review",
        "activeActionId": "job_9" if status == "processing" else None,
        "lastEventId": last_event_id,
        "document": document,
    }


def test_the_message_folds_frames_and_state_without_a_server() -> None:
    view = SessionView("ses_1", "coffee <!channel>", "UALICE")
    draft = {"markdown": "# Coffee\n\n## Origins\n\nHi <@UBOB>", "version": 2, "source": "edit"}
    review = {"scores": {"clarity": 9, "accuracy": 5, "engagement": 4}, "summary": "Fine."}
    for event in [
        frame("draft.updated", 1, draft={"version": 1}),
        frame("review.completed", 2, review=review),
        frame("draft.updated", 3, draft={"version": 2}),
        frame("session.state", 3, **state("review", "idle", 3, draft=draft, review=review)),
    ]:
        view.apply(event)
    assert not view.stale
    text, blocks = session_message(view)
    seen = shown({"blocks": blocks})
    assert "coffee &lt;!channel&gt;" in text and "&lt;@UBOB&gt;" in seen  # nobody is pinged
    assert "*Draft v2* (edit)" in seen and "The last review read v1" in seen
    assert buttons({"blocks": blocks}) == ["Approve"]

    view.apply(frame("progress.update", 4, status="processing", actionId="job_9"))
    assert view.stale  # a stored frame the state does not include: re-read before the edit
    view.refreshed(state("review", "processing", 4, draft=draft, review=review))
    view.apply(frame("progress.update", None, actionId="job_9", progress=40, message="Reading"))
    view.apply(frame("llm.delta", None, actionId="job_9", text="x" * 1200))
    seen = shown({"blocks": session_message(view)[1]})
    assert "Working: Review the article* · Reading · 1,200 characters written" in seen
    assert "40%" in seen and buttons({"blocks": session_message(view)[1]}) == []

    view.apply(frame("review.completed", 5, review=review))
    view.refreshed(state("review", "idle", 5, draft=draft, review=review))
    seen = shown({"blocks": session_message(view)[1]})
    assert "*Review of draft v2:* Clarity *9/10* · Accuracy *5/10* · Engagement *4/10*" in seen
