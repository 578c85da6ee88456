"""The seed flows with the scripted LLM: every branch, through the durable runner."""

from __future__ import annotations

from pathlib import Path

from pocketflow import AsyncFlow

from flows import article, context, image, review
from flows.llm import LLMError, backend
from flows.providers.placeholder_images import PlaceholderImages
from flows.providers.scripted_llm import Reply, ScriptedLLM
from tests.harness import OUTLINE, SECTION_TEXT, Harness, article_llm, running_app


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


async def test_article_outline_sections_style(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    done = await harness.wait_for(job["id"])
    assert done["status"] == "completed"
    assert done["progress"] == 100
    markdown = done["result"]["markdown"]
    assert markdown.startswith("# Coffee, a history")
    events = await harness.events(job["id"])
    finished = [e["data"]["node"] for e in events if e["type"] == "node.finished"]
    assert finished == ["GenerateOutline", "WriteContent", "ApplyStyle", "Finish"]
    sections = [e for e in events if e["type"] == "node.progress" and "section" in e["data"]]
    assert sorted(e["data"]["section"] for e in sections) == ["Coffeehouses", "Origins", "Today"]
    assert types(events).count("artifact.created") == 1
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


async def test_article_outline_is_repaired_when_the_model_answers_badly(tmp_path: Path) -> None:
    bad = {"title": "Coffee", "sections": [{"title": "Only one", "points": []}]}
    llm = ScriptedLLM([Reply(bad, match="outline", times=1), *article_llm().replies])
    async with running_app(tmp_path, llm) as h:
        job = await h.create("article", {"topic": "coffee"})
        done = await h.wait_for(job["id"])
    assert done["status"] == "completed"
    repair = [p for p in llm.prompts() if "That answer is invalid" in p]
    assert repair and "is too short" in repair[0]


async def test_an_outline_that_keeps_two_sections_on_one_part_gets_a_spare_angle(
    tmp_path: Path,
) -> None:
    """The later of two sections on one part goes, and a spare angle unlike the kept
    sections takes its place ("Where it began" would say what "Where cheese began" does)."""
    topic = "How cheese is made"
    titles = ["The Process of Making Cheese", "Overview of the Process of Cheese Making"]
    sections = [{"title": t, "points": []} for t in [*titles, "Where cheese began"]]
    llm = ScriptedLLM(
        [
            Reply({"title": topic, "sections": sections}, match="Write an outline"),
            *article_llm().replies,
        ]
    )
    async with running_app(tmp_path, llm) as h:
        job = await h.create("article", {"topic": topic})
        done = await h.wait_for(job["id"])
        events = await h.events(job["id"])
    assert done["status"] == "completed", done["error"]
    assert [e["data"]["node"] for e in events if e["type"] == "node.retry"] == ["GenerateOutline"]
    markdown = done["result"]["markdown"]
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == [
        "## The Process of Making Cheese",
        "## Where cheese began",
        "## How it works",
    ]
    assert any(
        "Fixed the outline" in e["data"].get("message", "")
        for e in events
        if e["type"] == "node.progress"
    )


async def test_a_section_answered_empty_twice_is_asked_a_third_time(tmp_path: Path) -> None:
    llm = ScriptedLLM([Reply("", match="section 'Today'", times=2), *article_llm().replies])
    async with running_app(tmp_path, llm) as h:
        job = await h.create("article", {"topic": "coffee"})
        done = await h.wait_for(job["id"])
        events = await h.events(job["id"])
    assert done["status"] == "completed"
    retries = [e["data"] for e in events if e["type"] == "node.retry"]
    assert [(r["node"], r["error"]) for r in retries] == [
        ("WriteContent", "OutputRejected: the answer was empty")
    ] * 2
    assert "## Today" in done["result"]["markdown"]


async def test_a_section_that_starts_like_an_earlier_one_loses_the_repeat(
    tmp_path: Path,
) -> None:
    """SmolLM2 wrote 'Where it began' and 'Where It Begins' with the same first sentence:
    the draft says it once, and the section keeps the rest of what it said."""
    opening = "In the realm of culinary arts, coffee is a humble yet revered drink of old."
    today = (
        "In the realm of culinary arts, coffee is a humble yet extraordinary drink of old. "
        "Espresso machines arrived in Milan early in the twentieth century and changed how "
        "cafes worked, pressing hot water through finely ground beans in under a minute. "
        "Baristas now compete in championships, and roasters publish the farm, the altitude "
        "and the harvest date of every bag they sell to their customers."
    )
    llm = ScriptedLLM(
        [
            Reply(f"{opening} {SECTION_TEXT}", match="section 'Origins'"),
            Reply(today, match="section 'Today'"),
            *article_llm().replies,
        ]
    )
    async with running_app(tmp_path, llm) as h:
        job = await h.create("article", {"topic": "coffee"})
        done = await h.wait_for(job["id"])
    assert done["status"] == "completed"
    rewrites = [p for p in llm.prompts() if p.startswith("Rewrite")]
    drafts = {p.rpartition("\n\n")[2] for p in rewrites}  # each section, as drafted
    assert f"{opening} {SECTION_TEXT}" in drafts
    assert today.split(". ", 1)[1] in drafts  # without its first sentence
    assert sum(d.count("In the realm of culinary arts") for d in drafts) == 1


async def test_article_with_review_revises_with_the_comment(tmp_path: Path) -> None:
    llm = article_llm()
    async with running_app(tmp_path, llm) as h:
        job = await h.create("article", {"topic": "coffee", "review": True})
        waiting = await h.wait_for(job["id"], "waiting_for_review")
        assert waiting["review"]["options"] == ["approve", "revise", "edit"]
        assert waiting["review"]["payload"]["markdown"].startswith("# Coffee")
        assert (await h.decide(job["id"], "revise", "shorter please")).status_code == 200
        again = await h.wait_for(job["id"], "waiting_for_review")
        assert again["review"]["id"] != waiting["review"]["id"]
        assert (
            again["review"]["payload"]["markdown"] == "# Coffee, a history\n\nA revised article.\n"
        )
        assert (await h.decide(job["id"], "approve")).status_code == 200
        done = await h.wait_for(job["id"])
    assert done["result"]["markdown"].endswith("A revised article.\n")
    assert any("shorter please" in p for p in llm.prompts())


async def test_review_reject_loops_with_attempt_and_comment(harness: Harness) -> None:
    job = await harness.create("review", {"task": "write a haiku"})
    first = await harness.wait_for(job["id"], "waiting_for_review")
    assert first["review"]["payload"]["attempt"] == 1
    await harness.decide(job["id"], "reject", "more autumn")
    second = await harness.wait_for(job["id"], "waiting_for_review")
    assert second["review"]["payload"]["attempt"] == 2
    await harness.decide(job["id"], "approve")
    done = await harness.wait_for(job["id"])
    assert done["result"] == {"output": "An answer to the task.", "attempts": 2}
    llm = harness.services.runner.llm_backend
    assert "attempt 2" in llm.prompts()[-1] and "more autumn" in llm.prompts()[-1]
    decided = [e["data"] for e in await harness.events(job["id"]) if e["type"] == "review.decided"]
    assert [(d["decision"], d["comment"], d["by"], d["via"]) for d in decided] == [
        ("reject", "more autumn", "alice", "api"),
        ("approve", None, "alice", "api"),
    ]


async def test_image_regenerate_keeps_every_attempt(harness: Harness) -> None:
    job = await harness.create("image", {"prompt": "a lighthouse", "size": "256x256"})
    first = await harness.wait_for(job["id"], "waiting_for_review")
    await harness.decide(job["id"], "regenerate")
    second = await harness.wait_for(job["id"], "waiting_for_review")
    assert second["review"]["payload"]["attempt"] == 2
    await harness.decide(job["id"], "approve")
    done = await harness.wait_for(job["id"])
    attempts = done["result"]["attempts"]
    assert len(attempts) == 2
    assert (
        done["result"]["artifact_id"] == attempts[1] == second["review"]["payload"]["artifact_id"]
    )
    assert first["review"]["payload"]["artifact_id"] == attempts[0]
    pictures = []
    for artifact_id in attempts:
        response = await harness.client.get(
            f"/api/artifacts/{artifact_id}", headers=harness.headers()
        )
        assert response.headers["content-type"] == "image/png"
        pictures.append(await response.get_data())
    assert pictures[0] != pictures[1] and all(p.startswith(b"\x89PNG") for p in pictures)


async def test_a_node_retries_then_succeeds_with_retry_events(tmp_path: Path) -> None:
    llm = ScriptedLLM(
        [
            Reply(LLMError("server said 503"), match="Task:", times=1),
            Reply("fine now", match="Task:"),
        ]
    )
    async with running_app(tmp_path, llm) as h:
        job = await h.create("review", {"task": "t"})
        waiting = await h.wait_for(job["id"], "waiting_for_review", timeout=15)
        events = await h.events(job["id"])
    assert waiting["review"]["payload"]["output"] == "fine now"
    retries = [e["data"] for e in events if e["type"] == "node.retry"]
    assert retries == [{"node": "Process", "attempt": 1, "error": "LLMError: server said 503"}]


async def test_a_node_that_keeps_failing_fails_the_job_clearly(tmp_path: Path) -> None:
    llm = ScriptedLLM([Reply(LLMError("the model server answered 500: boom"), match="Task:")])
    async with running_app(tmp_path, llm) as h:
        job = await h.create("review", {"task": "t"})
        done = await h.wait_for(job["id"], timeout=15)
        events = await h.events(job["id"])
    assert done["status"] == "failed"
    assert done["error"] == {"type": "LLMError", "message": "the model server answered 500: boom"}
    assert types(events)[-1] == "job.failed"
    assert types(events).count("job.failed") == 1


async def test_flows_run_under_plain_pocketflow_without_the_server() -> None:
    llm = article_llm()
    shared: dict = {"topic": "coffee"}
    detached = context.DetachedContext()
    with backend.use(llm), context.bind(detached):
        await article.build({"topic": "coffee"}).run_async(shared)
    assert shared["result"]["title"] == OUTLINE["title"]
    assert any("Outline ready" in message for message, _, _ in detached.reports)
    assert shared["article_artifact"] in detached.artifacts


async def test_review_gates_take_decisions_from_a_detached_context() -> None:
    shared: dict = {"task": "t"}
    decisions = [{"decision": "reject", "comment": "again"}, {"decision": "approve"}]
    from flows import images

    with (
        backend.use(article_llm()),
        images.backend.use(PlaceholderImages()),
        context.bind(context.DetachedContext(decisions=decisions)),
    ):
        flow: AsyncFlow = review.build()
        await flow.run_async(shared)
        assert shared["result"]["attempts"] == 2
        picture: dict = {"prompt": "p", "size": "256x256"}
        with context.bind(context.DetachedContext(decisions=[{"decision": "approve"}])):
            await image.build().run_async(picture)
        assert len(picture["result"]["attempts"]) == 1


async def test_the_reviewer_sees_the_answer_without_its_wrapping(tmp_path: Path) -> None:
    """SmolLM2's second attempt at a welcome note (a hand check through the API)."""
    wrapped = (
        "Here's a rewritten version of your previous answer:\n"
        '"The new tea club is here to celebrate the end of our busy week."'
    )
    llm = ScriptedLLM([Reply(wrapped, match="Task:")])
    async with running_app(tmp_path, llm) as h:
        job = await h.create("review", {"task": "Write a welcome note for the tea club"})
        waiting = await h.wait_for(job["id"], "waiting_for_review")
    assert waiting["review"]["payload"]["output"] == (
        "The new tea club is here to celebrate the end of our busy week."
    )
