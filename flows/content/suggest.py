"""Suggestions on request: three ideas for the session's current stage."""

from __future__ import annotations

from typing import Any

from pocketflow import AsyncFlow, AsyncNode

from flows import checks
from flows.content import STAGES
from flows.llm import complete

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "stage": {"enum": list(STAGES)},
        "topic": {"type": "string", "maxLength": 500},
        "text": {"type": "string", "maxLength": 5000},
        "field": {"type": "string", "maxLength": 100},
    },
    "required": ["stage"],
    "additionalProperties": False,
}

SUGGESTIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "suggestions": {
            "type": "array",
            "items": {"type": "string", "minLength": 3, "maxLength": 200},
            "minItems": 3,
            "maxItems": 3,
        }
    },
    "required": ["suggestions"],
}

WHAT = {
    "topic": "article topic ideas",
    "research": "questions the research should answer",
    "writing": "headline alternatives",
    "styling": "style tips",
    "review": "ways to make the article better",
}


class Suggest(AsyncNode):
    async def prep_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        return shared

    async def exec_async(self, ask: dict[str, Any]) -> list[str]:
        what = WHAT[ask["stage"]] if not ask.get("field") else f"ideas for the {ask['field']}"
        answer = await complete(
            f"Give 3 different {what}"
            + (f" for an article about {ask['topic']}" if ask.get("topic") else "")
            + (f", starting from: {ask['text']}" if ask.get("text") else "")
            + ". Each one short. Answer in JSON."
            + checks.retry_note(self),
            schema=SUGGESTIONS_SCHEMA,
            stream=False,
        )
        ideas = [s.strip() for s in answer["suggestions"]]
        problem = None
        if len({s.lower() for s in ideas}) < len(ideas) or not all(map(checks.words, ideas)):
            problem = "the 3 suggestions must be different from each other"
        checks.refuse(self, problem, ideas)
        return ideas

    async def exec_fallback_async(self, ask: dict[str, Any], exc: Exception) -> Any:
        if not isinstance(exc, checks.OutputRejected):
            raise exc
        return list(dict.fromkeys(s for s in self.last if s))

    async def post_async(self, shared: dict[str, Any], ask: Any, ideas: list[str]) -> str:
        shared["result"] = {"suggestions": ideas}
        return "default"


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    return AsyncFlow(start=Suggest(max_retries=2, wait=1))
