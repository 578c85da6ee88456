"""article: outline -> sections written in parallel -> conversational style.

Input `{topic, review?}`. With `review: true` a final human review can ask for a
revision (with a comment), which rewrites the article and asks again.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

from pocketflow import AsyncFlow, AsyncNode, AsyncParallelBatchNode

from flows import checks, context
from flows.checks import OutputRejected
from flows.gate import HumanReview
from flows.llm import complete
from flows.ordered_stream import OrderedStream

# The length bounds keep a small model's grammar-constrained answer from rambling on
# inside one string until it runs out of tokens.
OUTLINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 120},
        "sections": {
            "type": "array",
            "minItems": 3,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": 80},
                    "points": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": 200},
                        "maxItems": 5,
                    },
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


# Parts an article can cover, offered to the model and used when its outline repeats.
ANGLES = ("Where it began", "How it works", "Why it matters today")
SECTION_WORDS = 120  # asked for per section
FULL_SECTION_WORDS = 100  # less than this, and the model is asked to go on
CONTINUATIONS = 2  # ... at most this many times
MIN_SECTION_WORDS = 40  # less than this is not a paragraph
KEEP = 0.85  # of a section's words, that its style rewrite must keep


# The number a model puts before a section title: "2. ", "Section 2: ", "Part 2) ".
_NUMBERED = re.compile(r"^\W*(?:(?:section|part|chapter)\s+)?\d+[.):]\s+", re.IGNORECASE)
_NUMBERED_AFTER = re.compile(r"\s*\(\d{1,2}\)$")  # SmolLM2's "How Bicycles Work: The Basics (3)"
_ARTICLE_BEFORE_QUESTION = re.compile(r"^(the|an?)\s+(?=(how|why|what|where|when|who)\b)", re.I)
_IT_BEGUN = re.compile(r"\b(it|they|this|that)\s+(b)egun\b", re.I)  # SmolLM2's "Where It Begun"


def _heading(title: str) -> str:
    """A section title as a heading: without the numbers a model puts around it, "The"
    before a question word ("The How It Works") and "Begun" for "Began", and starting
    with a capital (the embedded model's "how tides work"; "iPhone" stays as it is)."""
    title = _NUMBERED_AFTER.sub("", _NUMBERED.sub("", title))
    title = _ARTICLE_BEFORE_QUESTION.sub("", title.strip())
    title = _IT_BEGUN.sub(lambda m: f"{m[1]} {m[2]}egan", title)
    title = title.strip(' ,.;:-"')
    first = title.split(maxsplit=1)[0] if title else ""
    return _as_title(title) if first.islower() else title


def _without_shared_subtitle(sections: list[dict[str, Any]]) -> None:
    """Titles without the subtitle all of them end with, which tells no section from
    another (SmolLM2's "Where It Begins: The Leaf's Transformation", "How It Works: The
    Leaf's Transformation"... for 'Why leaves change color')."""
    parts = [section["title"].partition(":") for section in sections]
    subtitles = {subtitle.strip().lower() for _, _, subtitle in parts}
    if len(parts) > 1 and len(subtitles) == 1 and "" not in subtitles:
        for section, (title, _, _) in zip(sections, parts, strict=True):
            section["title"] = title


def _as_title(topic: str) -> str:
    topic = topic.strip()
    return topic[:1].upper() + topic[1:]


class GenerateOutline(AsyncNode):
    async def prep_async(self, shared: ArticleShared) -> str:
        return shared["topic"]

    async def exec_async(self, topic: str) -> dict[str, Any]:
        context.report(f"Planning an article about {topic}")
        outline = await complete(
            f"Write an outline for a short article about: {topic}\n"
            "Give it a title and exactly 3 sections. Each section covers a different part "
            f"of the topic (for example: {'; '.join(a.lower() for a in ANGLES)}), has its "
            "own title, and 2-3 key points. Answer in JSON." + checks.retry_note(self),
            schema=OUTLINE_SCHEMA,
            stream=False,
        )
        _without_shared_subtitle(outline["sections"])
        for section in outline["sections"]:
            section["title"] = _heading(section["title"])
            section["points"] = [p.strip() for p in section["points"] if checks.is_prose(p)]
        checks.refuse(
            self, checks.outline_problem(topic, outline["title"], outline["sections"]), outline
        )
        return outline

    async def exec_fallback_async(self, topic: str, exc: Exception) -> dict[str, Any]:
        if not isinstance(exc, OutputRejected):
            raise exc
        outline: dict[str, Any] = self.last
        seen: set[str] = set()
        sections: list[dict[str, Any]] = []
        for section in outline["sections"]:
            title = section["title"]
            if (
                title.lower() not in seen
                and not checks.heading_problem(title)
                and not any(checks.too_alike(topic, title, s["title"]) for s in sections)
            ):
                seen.add(title.lower())
                sections.append(section)
        # The spare angles, those unlike every kept section first (the angles are unlike
        # each other, so one added does not make the next one alike).
        spare = sorted(
            (a for a in ANGLES if a.lower() not in seen),
            key=lambda a: any(checks.too_alike(topic, a, s["title"]) for s in sections),
        )
        sections += [{"title": a, "points": []} for a in spare[: 3 - len(sections)]]
        if checks.outline_problem(topic, outline["title"], sections):
            outline["title"] = topic
        context.report(f"Fixed the outline: {exc}")
        return {**outline, "sections": sections}

    async def post_async(self, shared: ArticleShared, topic: str, outline: dict[str, Any]) -> str:
        title = outline["title"]  # a small model's may miss the point: then the topic's own
        shared["title"] = title if checks.names_topic(topic, title) else _as_title(topic)
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
    longest = ""  # the longest real paragraph of this item's tries, kept if none is enough

    async def prep_async(self, shared: ArticleShared) -> list[dict[str, Any]]:
        words = shared.get("section_words") or SECTION_WORDS
        notes = _editor_notes(shared)
        return [
            {
                "topic": shared["topic"],
                "index": i,
                "total": len(shared["outline"]),
                "words": words,
                "notes": notes,
                **section,
            }
            for i, section in enumerate(shared["outline"])
        ]

    async def exec_async(self, item: dict[str, Any]) -> str:
        points = "".join(f"\n- {p}" for p in item["points"])
        about = f"the section '{item['title']}' of an article about {item['topic']}"
        text = await checks.tidied(
            await complete(
                f"Write one paragraph (about {item.get('words', SECTION_WORDS)} words) for "
                f"{about}."
                + (f" Cover:{points}" if points else "")
                + item.get("notes", "")
                + "\nAnswer with the paragraph only."
                + checks.retry_note(self),
                stream=False,
            )
        )
        text = checks.without_title_said(text, item["title"], item["topic"])
        checks.refuse(self, checks.not_the_work(text), text)
        for _ in range(CONTINUATIONS):  # small models stop early: ask them to go on
            if checks.words(text) >= min(FULL_SECTION_WORDS, item.get("words", SECTION_WORDS)):
                break
            more = await checks.tidied(
                await complete(
                    f"Here is the start of {about}:\n\n{text}\n\nWrite the next paragraph "
                    "of this section. Do not repeat what it already says. Answer with the "
                    "paragraph only.",
                    stream=False,
                )
            )
            if not more or checks.not_the_work(more) or checks.adds_little(text, more):
                break  # nothing, or the first paragraph again: asking more brings the same
            text = await checks.tidied(f"{text}\n\n{more}")
        self.longest = max(self.longest, text, key=checks.words)
        checks.refuse(self, checks.prose_problem(text, min_words=MIN_SECTION_WORDS), text)
        context.report(
            f"Wrote section {item['index'] + 1} of {item['total']}: {item['title']}",
            section=item["title"],
        )
        return text

    async def exec_fallback_async(self, item: dict[str, Any], exc: Exception) -> str:
        """The longest short paragraph of the tries is kept, and said to be short (a last
        try that came back empty or refused does not lose it); a refusal never is."""
        if not isinstance(exc, OutputRejected) or not self.longest:
            raise exc
        problem = checks.prose_problem(self.longest, min_words=MIN_SECTION_WORDS)
        context.report(
            f"Kept a short section {item['index'] + 1} of {item['total']}: {problem}",
            section=item["title"],
        )
        return self.longest

    async def post_async(
        self, shared: ArticleShared, items: list[dict[str, Any]], texts: list[str]
    ) -> str:
        texts = checks.distinct_parts(texts, min_words=MIN_SECTION_WORDS)  # written apart
        shared["sections"] = texts
        shared["draft"] = _markdown(items, texts)
        return "default"

    def summarize(self, shared: ArticleShared) -> str:
        return f"{len(shared['sections'])} sections, {len(shared['draft'].split())} words"


STYLE = "a warm, conversational style"


def _editor_notes(shared: Any) -> str:
    """What a person asked for (a session's tone, instructions, review feedback)."""
    notes = [
        f"{label}: {shared[key]}"
        for key, label in (
            ("audience", "The readers are"),
            ("instructions", "Instructions"),
            ("feedback", "The editor asked for"),
        )
        if shared.get(key)
    ]
    return "".join(f"\n{n}" for n in notes)


async def _body(section: str, title: str, topic: str) -> str:
    """A rewritten section without the headings and the title the model repeated (the
    article has its own)."""
    lines = (await checks.tidied(section)).splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("#")):
        lines.pop(0)
    return checks.without_title_said("\n".join(lines).strip(), title, topic)


def _markdown(sections: list[dict[str, Any]], texts: list[str]) -> str:
    return "\n\n".join(
        f"## {section['title']}\n\n{text}" if section["title"] else text
        for section, text in zip(sections, texts, strict=True)
    )


async def _store_article(shared: ArticleShared, body: str) -> None:
    if body.lstrip().startswith("# "):  # the model added its own title: keep one title only
        body = body.lstrip().split("\n", 1)[1] if "\n" in body.lstrip() else ""
    markdown = f"# {shared['title']}\n\n{body.strip()}\n"
    shared["article"] = markdown
    shared["article_artifact"] = await context.save_artifact(
        markdown.encode(), mime="text/markdown", kind="markdown", name="article.md"
    )


class ApplyStyle(AsyncParallelBatchNode):
    """The draft rewritten section by section, streamed: the headings stay by
    construction, and a rewrite that loses a section's text is caught per section
    (a whole-article rewrite lost the draft with small models and short contexts).
    The sections are rewritten at once; their streamed text still reads in section
    order (`OrderedStream`), since watchers append it as it comes."""

    max_concurrency = 3  # an article's three sections at once (a longer draft's, 3 at a time)
    lanes: OrderedStream  # made by prep_async, per run; the runner's item copies share it

    async def prep_async(self, shared: ArticleShared) -> list[dict[str, Any]]:
        style = shared.get("style") or STYLE
        items = [
            {
                "topic": shared["topic"],
                "style": style,
                "notes": _editor_notes(shared),
                "index": i,
                "total": len(shared["outline"]),
                "title": section["title"],
                "text": text,
            }
            for i, (section, text) in enumerate(
                zip(shared["outline"], shared["sections"], strict=True)
            )
        ]
        if items:  # said once per run, here: the items run at once, and some may not run
            context.report(f"Rewriting in {style}")
        self.lanes = OrderedStream(len(items))
        return items

    async def exec_async(self, item: dict[str, Any]) -> str:
        style = item.get("style", STYLE)
        with self.lanes.attempt(item["index"]):
            context.stream(f"\n\n## {item['title']}\n\n")
            styled = await _body(
                await complete(
                    f"Rewrite this article draft section about {item['topic']} in {style}. "
                    "Keep every sentence and every fact; change only the tone. Answer with "
                    "the rewritten text only."
                    + item.get("notes", "")
                    + checks.retry_note(self)
                    + f"\n\n{item['text']}"
                ),
                item["title"],
                item["topic"],
            )
            if f"in {style}".lower() not in item["text"].lower():  # else the draft said it
                styled = checks.without_instruction(styled, f"in {style}")
            checks.refuse(self, checks.rewrite_problem(item["text"], styled, keep=KEEP), styled)
            return styled

    async def exec_fallback_async(self, item: dict[str, Any], exc: Exception) -> str:
        with self.lanes.fallback(item["index"]):
            if not isinstance(exc, OutputRejected):
                raise exc
            context.report(
                f"Kept section {item['index'] + 1} ({item['title']}) as drafted: {exc}",
                section=item["title"],
            )
            return item["text"]

    async def post_async(
        self, shared: ArticleShared, items: list[dict[str, Any]], styled: list[str]
    ) -> str:
        self.lanes.close()
        await _store_article(shared, _markdown(items, styled))
        return "default"

    def summarize(self, shared: ArticleShared) -> str:
        return f"{len(shared['article'].split())} words"


class ArticleReview(HumanReview):
    options = ("approve", "revise", "edit")
    prompt = "Approve the article, edit it yourself, or ask for a revision (say what to change)"
    editable = ("title", "markdown")

    def payload(self, shared: ArticleShared) -> dict[str, Any]:
        return {
            "title": shared["title"],
            "markdown": shared["article"],
            "artifact_id": shared["article_artifact"],
        }

    def apply_decision(self, shared: ArticleShared, decision: dict[str, Any]) -> None:
        super().apply_decision(shared, decision)
        shared["feedback"] = decision.get("comment")

    async def apply_edits_async(self, shared: ArticleShared, edits: dict[str, Any]) -> None:
        """The reviewer's markdown is the article, word for word; a new title alone
        replaces the article's heading. Either way the edited article is stored anew."""
        if "title" in edits:
            shared["title"] = edits["title"].strip() or shared["title"]
        if "markdown" in edits:
            markdown = edits["markdown"].strip() + "\n"
            shared["article"] = markdown
            shared["article_artifact"] = await context.save_artifact(
                markdown.encode(), mime="text/markdown", kind="markdown", name="article.md"
            )
        elif "title" in edits:
            await _store_article(shared, shared["article"])


class ReviseArticle(AsyncNode):
    async def prep_async(self, shared: ArticleShared) -> tuple[str, str]:
        return shared["article"], shared.get("feedback") or "Make it clearer and tighter."

    async def exec_async(self, inputs: tuple[str, str]) -> str:
        article, feedback = inputs
        context.report("Revising the article", feedback=feedback)
        revised = await checks.tidied(
            await complete(
                f"Revise this article. Reviewer's request: {feedback}"
                + checks.retry_note(self)
                + f"\n\n{article}"
            )
        )
        checks.refuse(self, checks.not_the_work(revised), revised)
        return revised

    async def exec_fallback_async(self, inputs: tuple[str, str], exc: Exception) -> str:
        if not isinstance(exc, OutputRejected):
            raise exc
        context.report(f"Kept the article as it was: {exc}")
        return inputs[0]

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


# A section gets one try more than the other steps: with the three written at once, a
# small model's occasional empty or refused answer for one of them (the embedded SmolLM2
# gave two in a row) would otherwise fail the whole article.
SECTION_TRIES = 3


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    outline = GenerateOutline(max_retries=2, wait=1)
    content = WriteContent(max_retries=SECTION_TRIES, wait=1)
    style, finish = ApplyStyle(max_retries=2, wait=1), Finish()
    outline >> content >> style
    if (input_ or {}).get("review"):
        review, revise = ArticleReview(), ReviseArticle(max_retries=2, wait=1)
        style >> review
        review - "revise" >> revise >> review
        review - "approve" >> finish
    else:
        style >> finish
    return AsyncFlow(start=outline)
