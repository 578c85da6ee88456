"""Research stage: notes on the chosen topic (key points, questions answered, an outline)."""

from __future__ import annotations

from typing import Any

from pocketflow import AsyncFlow, AsyncNode

from flows import checks, context
from flows.article import OUTLINE_SCHEMA
from flows.llm import complete

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "topic": {"type": "string", "minLength": 1, "maxLength": 500},
        "angle": {"type": "string", "maxLength": 500},
        "audience": {"type": "string", "maxLength": 200},
        "questions": {
            "type": "array",
            "items": {"type": "string", "maxLength": 300},
            "maxItems": 3,
        },
        "feedback": {"type": "string", "maxLength": 2000},
    },
    "required": ["topic"],
    "additionalProperties": False,
}

NOTES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "keyPoints": {
            "type": "array",
            "items": {"type": "string", "maxLength": 200},
            "minItems": 3,
            "maxItems": 5,
        },
        "questions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "question": {"type": "string", "maxLength": 150},
                    "answer": {"type": "string", "maxLength": 300},
                },
                "required": ["question", "answer"],
            },
            "maxItems": 3,
        },
        "suggestedOutline": {
            "type": "array",
            "items": OUTLINE_SCHEMA["properties"]["sections"]["items"],
            "minItems": 3,
            "maxItems": 3,
        },
    },
    "required": ["keyPoints", "questions", "suggestedOutline"],
}


class ResearchTopic(AsyncNode):
    async def prep_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        return shared

    async def exec_async(self, ask: dict[str, Any]) -> dict[str, Any]:
        topic = ask["topic"]
        context.report(f"Researching {topic}")
        asked = "".join(f"\n- {q}" for q in ask.get("questions") or [])
        notes = await complete(
            f"Prepare research notes for an article about: {topic}"
            + (f" ({ask['angle']})" if ask.get("angle") else "")
            + (f". The readers are {ask['audience']}" if ask.get("audience") else "")
            + ".\nGive 3-5 key points (facts a reader should learn), answers to "
            + (f"these questions:{asked}\n" if asked else "2-3 questions a reader would ask, ")
            + "and a suggested outline of exactly 3 sections with different titles, each "
            "with 2-3 points. Answer in JSON."
            + (f"\nThe editor asked for: {ask['feedback']}" if ask.get("feedback") else "")
            + checks.retry_note(self),
            schema=NOTES_SCHEMA,
            stream=False,
        )
        notes["keyPoints"] = [p.strip() for p in notes["keyPoints"] if checks.is_prose(p)]
        for section in notes["suggestedOutline"]:
            section["points"] = [p.strip() for p in section["points"] if checks.is_prose(p)]
        problem = checks.outline_problem(topic, topic, notes["suggestedOutline"])
        if not notes["keyPoints"]:
            problem = "the key points must be sentences a reader can learn from"
        checks.refuse(self, problem, notes)
        return notes

    async def exec_fallback_async(self, ask: dict[str, Any], exc: Exception) -> Any:
        """Notes with a weak outline are still notes: the writing stage plans its own."""
        if not isinstance(exc, checks.OutputRejected) or not self.last["keyPoints"]:
            raise exc
        context.report(f"Kept the notes without their outline: {exc}")
        return {**self.last, "suggestedOutline": []}

    async def post_async(self, shared: dict[str, Any], ask: Any, notes: dict[str, Any]) -> str:
        shared["result"] = {"research": notes}
        context.report(f"{len(notes['keyPoints'])} key points", 1.0)
        return "default"


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    return AsyncFlow(start=ResearchTopic(max_retries=2, wait=1))
