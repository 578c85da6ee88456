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

from flows.article import ANGLES
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
# The second and third sections: a competent model does not write one paragraph thrice.
MORE_PARAGRAPHS = (
    "Anyone who looks closely at {topic} soon notices how many small steps it takes. "
    "Each step depends on the one before it, and skipping one shows in the result. "
    "Beginners usually learn the order first and the reasons for it much later. "
    "Experienced hands adjust the timing to the weather, the season and the tools. "
    "Good notes make the difference between a lucky success and a repeatable one. "
    "Most mistakes come from rushing the quiet stages where nothing seems to happen. "
    "A patient teacher will point out the signs that tell you when to move on. "
    "Those signs are easy to miss until someone names them out loud for you. "
    "After a few attempts the rhythm starts to feel natural rather than forced. "
    "That is the moment when practice turns into something closer to craft.",
    "Interest in {topic} is growing again, and for reasons worth a closer look. "
    "Local groups meet on weekends to compare results and swap their best advice. "
    "Small businesses have found a loyal audience among people who care about quality. "
    "Schools use the subject to teach planning, measurement and a little chemistry. "
    "Researchers still publish new findings that overturn long held assumptions. "
    "Online forums keep old knowledge alive by answering the same questions kindly. "
    "Visitors travel surprising distances to see how experts do the work in person. "
    "Prices rise and fall, yet the core skills have barely changed in a century. "
    "Newcomers often say the community matters as much as the results themselves. "
    "Whatever comes next, the people involved are unlikely to lose their enthusiasm.",
)


def article_answer(prompt: str, schema: dict[str, Any] | None) -> str:
    topic = re.search(r"(?:article about:?|section about) (.+?)(?: in a |\.|\n|$)", prompt)
    about = topic.group(1).strip() if topic else "the subject"
    if schema is not None:
        if "sections" not in schema.get("properties", {}):
            return json.dumps(minimal_instance(schema))
        points = ["the first people who cared", "what changed over time"]
        sections = [{"title": f"{t} ({about})", "points": points} for t in ANGLES]
        return json.dumps({"title": f"A short guide to {about}", "sections": sections})
    if prompt.startswith("Rewrite"):
        return prompt.rpartition("\n\n")[2]  # the section, in the same words
    section = re.search(r"the section '(.+?) \(", prompt)
    index = ANGLES.index(section.group(1)) if section and section.group(1) in ANGLES else 0
    return (PARAGRAPH, *MORE_PARAGRAPHS)[index].format(topic=about)
