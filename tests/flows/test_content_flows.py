"""The session stage flows (flows/content) with the scripted model, under plain PocketFlow."""

from __future__ import annotations

from typing import Any

import pytest

from flows import context, llm
from flows.content import critique, markdown, research, styling, suggest, topics, writing
from flows.providers.scripted_llm import Reply, ScriptedLLM
from tests.fakes.session_answers import IDEAS, NOTES, REVIEW, TOPICS
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT


async def run(build: Any, shared: dict[str, Any], replies: list[Reply]) -> tuple[dict, ScriptedLLM]:
    model = ScriptedLLM(replies)
    with llm.backend.use(model), context.bind(context.DetachedContext()):
        await build().run_async(shared)
    return shared["result"], model


async def test_topics_are_numbered_and_distinct() -> None:
    result, model = await run(
        topics.build, {"category": "coffee", "count": 2}, [Reply(TOPICS, match="Suggest 2")]
    )
    assert [t["id"] for t in result["topics"]] == ["topic-1", "topic-2"]
    assert result["topics"][0]["title"] == "Why coffee houses mattered"
    assert "about: coffee" in model.prompts()[0]


async def test_topics_that_repeat_are_asked_again_then_the_distinct_ones_kept() -> None:
    same = {"topics": [TOPICS["topics"][0]] * 2}
    result, model = await run(
        topics.build, {"category": "coffee", "count": 2}, [Reply(same, match="Suggest")]
    )
    assert len(model.calls) == 2 and "different from each other" in model.prompts()[1]
    assert [t["title"] for t in result["topics"]] == ["Why coffee houses mattered"]


async def test_research_notes_keep_prose_and_a_distinct_outline() -> None:
    noisy = {**NOTES, "keyPoints": [*NOTES["keyPoints"], "https.comstatic3650921487-fafc"]}
    result, _ = await run(
        research.build,
        {"topic": "coffee", "questions": ["Where did coffee start?"]},
        [Reply(noisy, match="research notes")],
    )
    assert result["research"]["keyPoints"] == NOTES["keyPoints"]
    assert [s["title"] for s in result["research"]["suggestedOutline"]] == [
        "Origins",
        "Coffeehouses",
        "Today",
    ]


async def test_writing_uses_the_persons_outline_and_word_count() -> None:
    outline = [{"title": "Beans", "points": ["arabica"]}, {"title": "Roasts"}]
    result, model = await run(
        writing.build,
        {"topic": "coffee", "outline": outline, "wordCount": 240},
        [Reply(SECTION_TEXT, match="Write one paragraph")],
    )
    assert not any(p.startswith("Write an outline") for p in model.prompts())
    assert all("about 120 words" in p for p in model.prompts())
    title, sections = markdown.split(result["markdown"])
    assert title == "coffee" and [s["title"] for s in sections] == ["Beans", "Roasts"]
    assert sections[0]["text"] == SECTION_TEXT


async def test_writing_without_an_outline_plans_one() -> None:
    result, _ = await run(
        writing.build,
        {"topic": "coffee"},
        [Reply(OUTLINE, match="Write an outline"), Reply(SECTION_TEXT, match="Write one")],
    )
    assert result["title"] == "Coffee, a history" and len(result["outline"]) == 3


async def test_one_section_is_rewritten_and_the_rest_kept() -> None:
    draft = markdown.join(
        "Coffee", [{"title": "A", "text": "Old A."}, {"title": "B", "text": "Old B."}]
    )
    result, model = await run(
        writing.build_regenerate,
        {"topic": "coffee", "markdown": draft, "index": 1, "instructions": "more history"},
        [Reply(SECTION_TEXT, match="Rewrite the section 'B'")],
    )
    assert "more history" in model.prompts()[0]
    assert markdown.split(result["markdown"])[1] == [
        {"title": "A", "text": "Old A."},
        {"title": "B", "text": SECTION_TEXT},
    ]


async def test_styling_keeps_the_headings_and_uses_the_tone() -> None:
    draft = markdown.join("Coffee", [{"title": "Origins", "text": SECTION_TEXT}])
    result, model = await run(
        styling.build,
        {"topic": "coffee", "markdown": draft, "tone": "playful"},
        [Reply(STYLED_TEXT, match="Rewrite this article draft")],
    )
    assert "in a playful style" in model.prompts()[0]
    assert result["markdown"] == markdown.join(
        "Coffee", [{"title": "Origins", "text": STYLED_TEXT}]
    )


async def test_the_review_has_scores_and_suggestions() -> None:
    result, _ = await run(
        critique.build,
        {"topic": "coffee", "markdown": "# Coffee\n\n" + SECTION_TEXT},
        [Reply(REVIEW, match="Review this article")],
    )
    assert result["review"]["scores"] == {"clarity": 8, "accuracy": 6, "engagement": 7}


async def test_suggestions_are_three_different_ideas() -> None:
    result, _ = await run(
        suggest.build,
        {"stage": "writing", "topic": "coffee"},
        [Reply(IDEAS, match="headline alternatives")],
    )
    assert result["suggestions"] == IDEAS["suggestions"]


async def test_a_section_index_past_the_draft_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="has 1 sections; index 3"):
        await run(
            writing.build_regenerate,
            {"topic": "t", "markdown": "## A\n\nText.", "index": 3},
            [],
        )


def test_markdown_split_and_join_keep_every_word() -> None:
    edited = "Intro the person wrote.\n\n## One\n\nFirst.\n\n## Two\n\nSecond."
    title, sections = markdown.split(edited)
    assert title is None and sections[0] == {"title": "", "text": "Intro the person wrote."}
    assert markdown.split(markdown.join(title, sections)) == (title, sections)
