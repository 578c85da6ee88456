"""A draft as the session keeps it: markdown with one `## ` heading per section."""

from __future__ import annotations

import re
from typing import TypedDict


class Section(TypedDict):
    title: str
    text: str


def split(markdown: str) -> tuple[str | None, list[Section]]:
    """The `# ` title (if any) and the `## ` sections; text before the first section
    heading becomes an untitled first section, so a person's edit never loses words."""
    title: str | None = None
    sections: list[Section] = []
    current: Section | None = None
    lead: list[str] = []
    for line in markdown.strip().splitlines():
        if line.startswith("# ") and title is None and current is None and not lead:
            title = line[2:].strip()
        elif line.startswith("## "):
            current = {"title": line[3:].strip(), "text": ""}
            sections.append(current)
        elif current is not None:
            current["text"] += line + "\n"
        else:
            lead.append(line)
    if "".join(lead).strip():
        sections.insert(0, {"title": "", "text": "\n".join(lead)})
    for section in sections:
        section["text"] = re.sub(r"\n{3,}", "\n\n", section["text"]).strip()
    return title, sections


def join(title: str | None, sections: list[Section]) -> str:
    parts = [f"# {title}"] if title else []
    for section in sections:
        heading = f"## {section['title']}\n\n" if section["title"] else ""
        parts.append(f"{heading}{section['text']}".strip())
    return "\n\n".join(parts).strip() + "\n"
