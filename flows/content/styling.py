"""Styling stage: the draft rewritten in a tone, section by section, streamed."""

from __future__ import annotations

from typing import Any

from pocketflow import AsyncFlow, AsyncNode

from flows.article import STYLE, ApplyStyle
from flows.content import markdown

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "topic": {"type": "string", "minLength": 1, "maxLength": 500},
        "markdown": {"type": "string", "minLength": 1, "maxLength": 100_000},
        "tone": {"type": "string", "maxLength": 200},
        "instructions": {"type": "string", "maxLength": 2000},
        "feedback": {"type": "string", "maxLength": 2000},
    },
    "required": ["topic", "markdown"],
    "additionalProperties": False,
}


class SplitDraft(AsyncNode):
    async def post_async(self, shared: dict[str, Any], prep_res: Any, exec_res: Any) -> str:
        title, sections = markdown.split(shared["markdown"])
        shared["title"] = title or shared["topic"]
        shared["outline"] = [{"title": s["title"], "points": []} for s in sections]
        shared["sections"] = [s["text"] for s in sections]
        tone = shared.get("tone")
        shared["style"] = f"a {tone} style" if tone else STYLE
        return "default"


class Styled(AsyncNode):
    async def post_async(self, shared: dict[str, Any], prep_res: Any, exec_res: Any) -> str:
        shared["result"] = {
            "markdown": shared["article"],
            "artifact_id": shared["article_artifact"],
        }
        return "default"


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    split = SplitDraft()
    split >> ApplyStyle(max_retries=2, wait=1) >> Styled()
    return AsyncFlow(start=split)
