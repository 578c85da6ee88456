"""What a competent model answers to the article flow's prompts.

The fakes' default answers (a short sentence, a minimal schema instance) fail the
article's quality checks, so every step repairs itself (11 calls in a row). These pass
them first time, so a benchmark of an article measures its shortest path - one call per
step - rather than its checks refusing a fake. Used by `bench.fake_llm.ArticleLLM` and by
the fake OpenAI server's `answers="article"`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.openai_server import minimal_instance

PARAGRAPH = (
    "People have argued about {topic} for longer than most of us would guess. "
    "Early records describe small groups of enthusiasts trading notes by letter. "
    "Over the following decades those notes grew into shared methods and vocabulary. "
    "Universities began to teach the subject once patrons were willing to pay for it. "
    "Critics complained that the new approach ignored older craft traditions entirely. "
    "Practitioners answered with careful experiments that anyone could repeat at home. "
    "By the middle of the century cheap printing had carried those results everywhere. "
    "Today hobbyists and professionals still disagree about which details matter most. "
    "What unites them is curiosity, patience, and a stubborn habit of checking things twice. "
    "That habit explains why the field keeps changing without losing its character."
)


def article_answer(prompt: str, schema: dict[str, Any] | None) -> str:
    topic = re.search(r"(?:article about:?|section about) (.+?)(?: in a |\.|\n|$)", prompt)
    about = topic.group(1).strip() if topic else "the subject"
    if schema is not None:
        if "sections" not in schema.get("properties", {}):
            return json.dumps(minimal_instance(schema))
        titles = ("Where it began", "How it works", "Why it matters today")
        points = ["the first people who cared", "what changed over time"]
        sections = [{"title": f"{t} ({about})", "points": points} for t in titles]
        return json.dumps({"title": f"A short guide to {about}", "sections": sections})
    if prompt.startswith("Rewrite"):
        return prompt.rpartition("\n\n")[2]  # the section, in the same words
    return PARAGRAPH.format(topic=about)
