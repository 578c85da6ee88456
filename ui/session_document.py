"""A GenFlow session's document as the page shows it: markdown for the research notes, the
draft's heading, the review, the running action and the ideas; choices for the topics.

Pure functions of what the API returned (`document` of GET /api/genflow/sessions/{id}),
so a page that followed the session live and one reopened later show the same thing.
"""

from __future__ import annotations

from typing import Any

from ui.session_view import Live

SCORES = ("clarity", "accuracy", "engagement")
SOURCES = {  # who made a draft version, as its heading says it
    "write_article": "written by the model",
    "edit": "your edit",
    "regenerate_section": "a section rewritten",
    "apply_style": "styled",
}


def topic_choices(topics: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, topic id) for the topic picker."""
    choices = []
    for topic in topics:
        label = str(topic.get("title") or "")
        if topic.get("angle"):
            label += f" — {topic['angle']}"
        choices.append((label, str(topic.get("id") or topic.get("title") or "")))
    return choices


def research_markdown(research: dict[str, Any] | None) -> str:
    """Key points, questions and answers, and the outline the research suggests."""
    if not research:
        return ""
    parts = []
    if points := research.get("keyPoints"):
        parts.append("**Key points**\n\n" + "\n".join(f"- {p}" for p in points))
    if questions := research.get("questions"):
        answered = [f"- **{q.get('question', '')}** {q.get('answer', '')}" for q in questions]
        parts.append("**Questions and answers**\n\n" + "\n".join(answered))
    if outline := research.get("suggestedOutline"):
        sections = [f"{n}. {s.get('title', '')}" for n, s in enumerate(outline, 1)]
        parts.append("**Suggested outline**\n\n" + "\n".join(sections))
    return "\n\n".join(parts)


def draft_heading(draft: dict[str, Any] | None) -> str:
    if not draft:
        return ""
    source = SOURCES.get(str(draft.get("source")), str(draft.get("source") or ""))
    made = f" · {source}" if source else ""
    return f"### Draft · version {draft.get('version', '?')}{made}"


def review_markdown(review: dict[str, Any] | None) -> str:
    """The model's scores (out of 10), its summary and its suggestions."""
    if not review:
        return ""
    scores = review.get("scores") or {}
    cells = " · ".join(f"{name.capitalize()} **{scores.get(name, '?')}/10**" for name in SCORES)
    parts = ["### Review", cells]
    if review.get("summary"):
        parts.append(str(review["summary"]))
    if suggestions := review.get("suggestions"):
        parts.append("\n".join(f"- {s}" for s in suggestions))
    return "\n\n".join(parts)


def final_markdown(document: dict[str, Any]) -> str:
    """The approved article, under a line that says it is the final one."""
    final = document.get("final") or {}
    if not final.get("markdown"):
        return ""
    return "✔ *The approved article*\n\n" + str(final["markdown"])


def live_markdown(live: Live, current_step: str | None) -> str:
    """What the running action has done so far: its progress lines, then its text."""
    title = current_step or "Working"
    percent = f" · {live.progress}%" if live.progress else ""  # 0: no measure yet
    parts = [f"**⚙ {title}…**{percent}"]
    if live.lines:
        parts.append("\n".join(f"- {line}" for line in live.lines))
    if live.text.strip():
        parts.append(quote(live.text))
    return "\n\n".join(parts)


def ideas_markdown(ideas: list[str], *, waiting: bool) -> str:
    if waiting:
        return "*Asking the model for ideas…*"
    if not ideas:
        return ""
    return "**Ideas**\n\n" + "\n".join(f"- {idea}" for idea in ideas)


def quote(text: str) -> str:
    """Streamed text as a block quote: model text, not the page's own words."""
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.strip().splitlines())
