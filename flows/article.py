"""article: outline -> sections written in parallel -> conversational style.

Input `{topic, review?}`. With `review: true` a final human review can ask for a
revision (with a comment), which rewrites the article and asks again.
"""

from __future__ import annotations

from typing import Any, TypedDict

from pocketflow import AsyncFlow, AsyncNode, AsyncParallelBatchNode

from flows import context
from flows.gate import HumanReview
from flows.llm import complete

OUTLINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "sections": {
            "type": "array",
            "minItems": 3,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "title": {"type": "string", "minLength": 1},
                    "points": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                },
                "required": ["title", "points"],
            },
        },
    },
    "required": ["title", "sections"],
}

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "topic": {
            "type": "string",
            "minLength": 1,
            "maxLength": 500,
            "description": "What the article is about",
        },
        "review": {
            "type": "boolean",
            "default": False,
            "description": "Ask a person to approve the article (or request a revision)",
        },
    },
    "required": ["topic"],
    "additionalProperties": False,
}


class Section(TypedDict):
    title: str
    points: list[str]


class ArticleShared(TypedDict, total=False):
    topic: str
    review: bool
    title: str
    outline: list[Section]
    sections: list[str]
    draft: str
    article: str
    article_artifact: str
    feedback: str | None
    result: dict[str, Any]


class GenerateOutline(AsyncNode):
    async def prep_async(self, shared: ArticleShared) -> str:
        return shared["topic"]

    async def exec_async(self, topic: str) -> dict[str, Any]:
        context.report(f"Planning an article about {topic}")
        return await complete(
            f"Write an outline for a short article about: {topic}\n"
            "Give the article a title and exactly 3 sections, each with a title and "
            "2-3 key points. Answer in JSON.",
            schema=OUTLINE_SCHEMA,
            stream=False,
        )

    async def post_async(self, shared: ArticleShared, topic: str, outline: dict[str, Any]) -> str:
        shared["title"] = outline["title"]
        shared["outline"] = outline["sections"]
        titles = ", ".join(s["title"] for s in outline["sections"])
        context.report(
            f"Outline ready: {titles}", 1.0, sections=[s["title"] for s in outline["sections"]]
        )
        return "default"

    def summarize(self, shared: ArticleShared) -> str:
        return f"{len(shared['outline'])} sections"


class WriteContent(AsyncParallelBatchNode):
    """One LLM call per section; the runner runs them in parallel under a limit."""

    max_concurrency = 3

    async def prep_async(self, shared: ArticleShared) -> list[dict[str, Any]]:
        return [
            {"topic": shared["topic"], "index": i, "total": len(shared["outline"]), **section}
            for i, section in enumerate(shared["outline"])
        ]

    async def exec_async(self, item: dict[str, Any]) -> str:
        points = "\n".join(f"- {p}" for p in item["points"])
        text = await complete(
            f"Write one paragraph (about 100 words) for the section '{item['title']}' "
            f"of an article about {item['topic']}. Cover:\n{points}",
            stream=False,
        )
        context.report(
            f"Wrote section {item['index'] + 1} of {item['total']}: {item['title']}",
            section=item["title"],
        )
        return text.strip()

    async def post_async(
        self, shared: ArticleShared, items: list[dict[str, Any]], texts: list[str]
    ) -> str:
        shared["sections"] = texts
        shared["draft"] = "\n\n".join(
            f"## {item['title']}\n\n{text}" for item, text in zip(items, texts, strict=True)
        )
        return "default"

    def summarize(self, shared: ArticleShared) -> str:
        return f"{len(shared['sections'])} sections, {len(shared['draft'].split())} words"


async def _store_article(shared: ArticleShared, body: str) -> None:
    if body.lstrip().startswith("# "):  # the model added its own title: keep one title only
        body = body.lstrip().split("\n", 1)[1] if "\n" in body.lstrip() else ""
    markdown = f"# {shared['title']}\n\n{body.strip()}\n"
    shared["article"] = markdown
    shared["article_artifact"] = await context.save_artifact(
        markdown.encode(), mime="text/markdown", kind="markdown", name="article.md"
    )


# A draft this long is an article a rewrite can lose; shorter ones are not checked.
CHECKED_DRAFT_WORDS = 120


class RewriteLostTheDraft(ValueError):
    """The style rewrite threw most of the draft away (small models answer a long
    prompt with a chatty one-liner)."""


def rewrite_problem(draft: str, styled: str) -> str | None:
    """What an editor would refuse in a rewrite of a real draft: most of it gone."""
    draft_words, styled_words = len(draft.split()), len(styled.split())
    if draft_words >= CHECKED_DRAFT_WORDS and styled_words < draft_words // 2:
        return (
            f"the rewrite has {styled_words} words but the draft has {draft_words}: "
            "rewrite all of it, section by section"
        )
    return None


class ApplyStyle(AsyncNode):
    async def prep_async(self, shared: ArticleShared) -> str:
        return shared["draft"]

    async def exec_async(self, draft: str) -> str:
        context.report("Rewriting in a conversational style")
        problem = getattr(self, "problem", None)  # the last try's, said to the model
        styled = await complete(
            "Rewrite this article draft in a warm, conversational style. Keep the "
            "markdown section headings."
            + (f" Your last rewrite was refused: {problem}." if problem else "")
            + f"\n\n{draft}"
        )
        self.problem = rewrite_problem(draft, styled)
        if self.problem:
            raise RewriteLostTheDraft(self.problem)
        return styled

    async def exec_fallback_async(self, draft: str, exc: Exception) -> str:
        if not isinstance(exc, RewriteLostTheDraft):
            raise exc
        context.report(f"Kept the draft as it is: {exc}")
        return draft

    async def post_async(self, shared: ArticleShared, draft: str, styled: str) -> str:
        await _store_article(shared, styled)
        return "default"

    def summarize(self, shared: ArticleShared) -> str:
        return f"{len(shared['article'].split())} words"


class ArticleReview(HumanReview):
    options = ("approve", "revise")
    prompt = "Approve the article, or ask for a revision (say what to change)"

    def payload(self, shared: ArticleShared) -> dict[str, Any]:
        return {
            "title": shared["title"],
            "markdown": shared["article"],
            "artifact_id": shared["article_artifact"],
        }

    def apply_decision(self, shared: ArticleShared, decision: dict[str, Any]) -> None:
        super().apply_decision(shared, decision)
        shared["feedback"] = decision.get("comment")


class ReviseArticle(AsyncNode):
    async def prep_async(self, shared: ArticleShared) -> tuple[str, str]:
        return shared["article"], shared.get("feedback") or "Make it clearer and tighter."

    async def exec_async(self, inputs: tuple[str, str]) -> str:
        article, feedback = inputs
        context.report("Revising the article", feedback=feedback)
        return await complete(f"Revise this article. Reviewer's request: {feedback}\n\n{article}")

    async def post_async(self, shared: ArticleShared, inputs: Any, revised: str) -> str:
        await _store_article(shared, revised)
        return "default"


class Finish(AsyncNode):
    async def post_async(self, shared: ArticleShared, prep_res: Any, exec_res: Any) -> str:
        shared["result"] = {
            "title": shared["title"],
            "markdown": shared["article"],
            "artifact_id": shared["article_artifact"],
        }
        return "default"


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    outline, content = GenerateOutline(max_retries=2, wait=1), WriteContent(max_retries=2, wait=1)
    style, finish = ApplyStyle(max_retries=2, wait=1), Finish()
    outline >> content >> style
    if (input_ or {}).get("review"):
        review, revise = ArticleReview(), ReviseArticle()
        style >> review
        review - "revise" >> revise >> review
        review - "approve" >> finish
    else:
        style >> finish
    return AsyncFlow(start=outline)
