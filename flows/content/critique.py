"""Review stage: the model reviews the draft like an editor: scores and suggestions."""

from __future__ import annotations

from typing import Any

from pocketflow import AsyncFlow, AsyncNode

from flows import checks, context
from flows.llm import complete

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "topic": {"type": "string", "minLength": 1, "maxLength": 500},
        "markdown": {"type": "string", "minLength": 1, "maxLength": 100_000},
    },
    "required": ["topic", "markdown"],
    "additionalProperties": False,
}

SCORE = {"type": "integer", "minimum": 1, "maximum": 10}
REVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "scores": {
            "type": "object",
            "properties": {"clarity": SCORE, "accuracy": SCORE, "engagement": SCORE},
            "required": ["clarity", "accuracy", "engagement"],
        },
        "summary": {"type": "string", "maxLength": 400},
        "suggestions": {
            "type": "array",
            "items": {"type": "string", "maxLength": 300},
            "minItems": 1,
            "maxItems": 5,
        },
    },
    "required": ["scores", "summary", "suggestions"],
}


class ReviewDraft(AsyncNode):
    async def prep_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        return shared

    async def exec_async(self, ask: dict[str, Any]) -> dict[str, Any]:
        context.report("Reviewing the draft")
        review = await complete(
            f"You are an editor. Review this article about {ask['topic']}. Score its "
            "clarity, accuracy and engagement from 1 to 10, sum it up in one sentence, and "
            "give 2-4 concrete suggestions (what to change, and where). Answer in JSON."
            + checks.retry_note(self)
            + f"\n\n{ask['markdown']}",
            schema=REVIEW_SCHEMA,
            stream=False,
        )
        review["suggestions"] = [s.strip() for s in review["suggestions"] if checks.is_prose(s)]
        problem = None if review["suggestions"] else "give concrete suggestions in sentences"
        checks.refuse(self, problem, review)
        return review

    async def exec_fallback_async(self, ask: dict[str, Any], exc: Exception) -> Any:
        if not isinstance(exc, checks.OutputRejected):
            raise exc
        context.report(f"The review has scores but no usable suggestions: {exc}")
        return self.last

    async def post_async(self, shared: dict[str, Any], ask: Any, review: dict[str, Any]) -> str:
        shared["result"] = {"review": review}
        scores = ", ".join(f"{k} {v}" for k, v in review["scores"].items())
        context.report(f"Scores: {scores}", 1.0)
        return "default"


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    return AsyncFlow(start=ReviewDraft(max_retries=2, wait=1))
