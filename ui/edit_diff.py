"""What a reviewer's edit changed, as the chat shows it under the decision line.

An `edit` decision's `review.decided` event carries a unified diff per changed text field
(computed once, by the API: backend/reviews/edits.py), and the shared view keeps it on the
`Decision`. So everyone following the job — its owner, another tab, a page opened later —
reads what was changed from the events they already get, with no extra request. It is a
collapsible block (ChatMessage metadata, like a step): open when short, closed when long
(an article's rewrite would push the rest of the chat away), its size in the title line.
"""

from __future__ import annotations

import re
from typing import Any

from backend.client import Decision

# How an editable payload field reads to a person (the review editor labels its boxes so).
FIELD_NAMES = {"output": "the answer", "title": "the title", "markdown": "the article (Markdown)"}
OPEN_UP_TO = 20  # diff lines shown open; a longer diff starts closed


def field_name(name: str) -> str:
    return FIELD_NAMES.get(name, name)


def changes_message(decided: Decision) -> dict[str, Any] | None:
    """The decision's changes as a collapsible chat message; None when it changed no text."""
    if not decided.diff:
        return None
    bodies = {field_name(name): hunks(diff) for name, diff in decided.diff.items()}
    if len(bodies) == 1:
        content = code_block(next(iter(bodies.values())))
    else:  # each field under its name
        content = "\n\n".join(f"**{name}**\n\n{code_block(b)}" for name, b in bodies.items())
    added, removed = decided.lines_changed
    metadata: dict[str, Any] = {
        "title": f"Changes to {' and '.join(bodies)}",
        "log": f"+{added} -{removed} lines",
    }
    if sum(body.count("\n") + 1 for body in bodies.values()) > OPEN_UP_TO:
        metadata["status"] = "done"  # Gradio starts a "done" block closed
    return {"role": "assistant", "content": content, "metadata": metadata}


def hunks(diff: str) -> str:
    """A unified diff without its `---`/`+++` header: the block already names the field."""
    lines = diff.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("@@")), 0)
    return "\n".join(lines[start:])


def code_block(text: str) -> str:
    """`text` verbatim in a fenced block whose fence no backtick run in it can close (an
    article's own code blocks)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}diff\n{text}\n{fence}"
