"""Writing stage: an outline (the person's, the research's, or the model's), then the
sections written in parallel into a markdown draft; and one section rewritten on request."""

from __future__ import annotations

from typing import Any

from pocketflow import AsyncFlow, AsyncNode

from flows import checks, context
from flows.article import GenerateOutline, WriteContent
from flows.content import markdown
from flows.llm import complete

OUTLINE_ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 120},
        "points": {"type": "array", "items": {"type": "string", "maxLength": 300}, "maxItems": 8},
    },
    "required": ["title"],
}

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "topic": {"type": "string", "minLength": 1, "maxLength": 500},
        "title": {"type": "string", "maxLength": 200},
        "outline": {"type": "array", "items": OUTLINE_ITEM, "minItems": 1, "maxItems": 8},
        "wordCount": {"type": "integer", "minimum": 100, "maximum": 3000},
        "audience": {"type": "string", "maxLength": 200},
        "feedback": {"type": "string", "maxLength": 2000},
    },
    "required": ["topic"],
    "additionalProperties": False,
}

REGENERATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "topic": {"type": "string", "minLength": 1, "maxLength": 500},
        "markdown": {"type": "string", "minLength": 1, "maxLength": 100_000},
        "index": {"type": "integer", "minimum": 0},
        "instructions": {"type": "string", "maxLength": 2000},
    },
    "required": ["topic", "markdown", "index"],
    "additionalProperties": False,
}


class PlanSections(AsyncNode):
    """Use the outline the person gave (or the research suggested); else ask the model."""

    async def prep_async(self, shared: dict[str, Any]) -> list[dict[str, Any]]:
        return shared.get("outline") or []

    async def post_async(self, shared: dict[str, Any], outline: list, _: Any) -> str:
        if not outline:
            return "plan"
        shared["outline"] = [
            {"title": s["title"].strip(), "points": list(s.get("points") or [])} for s in outline
        ]
        shared.setdefault("title", shared["topic"])
        if shared.get("wordCount"):
            shared["section_words"] = max(40, shared["wordCount"] // len(outline))
        return "write"


class Draft(AsyncNode):
    async def post_async(self, shared: dict[str, Any], prep_res: Any, exec_res: Any) -> str:
        sections = [
            {"title": s["title"], "text": text}
            for s, text in zip(shared["outline"], shared["sections"], strict=True)
        ]
        shared["result"] = {
            "title": shared["title"],
            "outline": shared["outline"],
            "markdown": markdown.join(shared["title"], sections),
        }
        return "default"


class RegenerateSection(AsyncNode):
    async def prep_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        title, sections = markdown.split(shared["markdown"])
        if shared["index"] >= len(sections):
            raise ValueError(f"the draft has {len(sections)} sections; index {shared['index']}")
        return {**shared, "title": title, "sections": sections}

    async def exec_async(self, ask: dict[str, Any]) -> str:
        section = ask["sections"][ask["index"]]
        context.report(f"Rewriting section {ask['index'] + 1}: {section['title']}")
        text = await checks.tidied(
            await complete(
                f"Rewrite the section '{section['title']}' of an article about {ask['topic']}."
                + (f"\nInstructions: {ask['instructions']}" if ask.get("instructions") else "")
                + "\nAnswer with the new section text only (no heading)."
                + checks.retry_note(self)
                + f"\n\nThe section now:\n{section['text']}"
            )
        )
        problem = checks.prose_problem(text, min_words=min(40, checks.words(section["text"])))
        checks.refuse(self, problem, text)
        return text

    async def post_async(self, shared: dict[str, Any], ask: dict[str, Any], text: str) -> str:
        sections = ask["sections"]
        sections[ask["index"]] = {**sections[ask["index"]], "text": text}
        shared["result"] = {"markdown": markdown.join(ask["title"], sections)}
        return "default"


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    plan, outline = PlanSections(), GenerateOutline(max_retries=2, wait=1)
    write, draft = WriteContent(max_retries=2, wait=1), Draft()
    plan - "plan" >> outline >> write
    plan - "write" >> write
    write >> draft
    return AsyncFlow(start=plan)


def build_regenerate(input_: dict[str, Any] | None = None) -> AsyncFlow:
    return AsyncFlow(start=RegenerateSection(max_retries=2, wait=1))
