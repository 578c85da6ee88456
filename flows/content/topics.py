"""Topic stage: the model proposes article topics for a category (or around a topic)."""

from __future__ import annotations

from typing import Any

from pocketflow import AsyncFlow, AsyncNode

from flows import checks, context
from flows.llm import complete

MAX_TOPICS = 10

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "maxLength": 200},
        "topic": {"type": "string", "maxLength": 500},
        "audience": {"type": "string", "maxLength": 200},
        "count": {"type": "integer", "minimum": 1, "maximum": MAX_TOPICS, "default": 5},
        "keywords": {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 10},
    },
    "additionalProperties": False,
}


def topics_schema(count: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "topics": {
                "type": "array",
                "minItems": count,
                "maxItems": count,
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string", "minLength": 3, "maxLength": 100},
                        "angle": {"type": "string", "maxLength": 240},
                        "keywords": {
                            "type": "array",
                            "items": {"type": "string", "maxLength": 40},
                            "maxItems": 5,
                        },
                    },
                    "required": ["title", "angle", "keywords"],
                },
            }
        },
        "required": ["topics"],
    }


def subject(input_: dict[str, Any]) -> str:
    return input_.get("topic") or input_.get("category") or "anything worth reading about"


class DiscoverTopics(AsyncNode):
    async def prep_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        return {**shared, "count": int(shared.get("count") or 5)}

    async def exec_async(self, ask: dict[str, Any]) -> list[dict[str, Any]]:
        about = subject(ask)
        context.report(f"Looking for {ask['count']} topics about {about}")
        extra = ""
        if ask.get("keywords"):
            extra += f" Use these keywords where they fit: {', '.join(ask['keywords'])}."
        if ask.get("audience"):
            extra += f" The readers are {ask['audience']}."
        answer = await complete(
            f"Suggest {ask['count']} different article topics about: {about}.{extra}\n"
            "Each topic has a title, an angle (one sentence: what the article explains or "
            "argues) and 2-4 keywords. Answer in JSON." + checks.retry_note(self),
            schema=topics_schema(ask["count"]),
            stream=False,
        )
        topics = [
            {
                "title": t["title"].strip(),
                "angle": t["angle"].strip(),
                "keywords": [k.strip() for k in t["keywords"] if k.strip()],
            }
            for t in answer["topics"]
        ]
        checks.refuse(self, _problem(topics), topics)
        return topics

    async def exec_fallback_async(self, ask: dict[str, Any], exc: Exception) -> Any:
        if not isinstance(exc, checks.OutputRejected):
            raise exc
        distinct = _distinct(self.last)
        if not distinct:
            raise exc
        context.report(f"Kept {len(distinct)} of the topics: {exc}")
        return distinct

    async def post_async(self, shared: dict[str, Any], ask: Any, topics: list[dict]) -> str:
        numbered = [{"id": f"topic-{i + 1}", **t} for i, t in enumerate(topics)]
        shared["result"] = {"topics": numbered}
        context.report(f"Found {len(numbered)} topics", 1.0)
        return "default"


def _distinct(topics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    kept = []
    for topic in topics:
        key = topic["title"].lower()
        if key not in seen and not checks.heading_problem(topic["title"]):
            seen.add(key)
            kept.append(topic)
    return kept


def _problem(topics: list[dict[str, Any]]) -> str | None:
    for topic in topics:
        problem = checks.heading_problem(topic["title"])
        if problem:
            return problem.replace("section titles", "topic titles")
    if len(_distinct(topics)) < len(topics):
        return "the topics must be different from each other"
    return None


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    return AsyncFlow(start=DiscoverTopics(max_retries=2, wait=1))
