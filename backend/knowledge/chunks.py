"""Cut a text or markdown document into chunks a search can return on their own.

A chunk is a few paragraphs (roughly 80-200 words) of ONE section: headings always end a
chunk, because "the refund section" is what a question about refunds should find, and a
chunk that runs into the next section would answer two questions badly. Each chunk starts
with its heading trail (`FAQ > Refunds`), so the words of the heading are searchable and
a model reading the chunk knows what it is about; `source` names the file and the
nearest heading (`faq.md#Refunds`). Paragraphs stay whole unless one alone is longer than
a chunk, which is then cut at sentence ends (or, failing those, between words).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from backend.knowledge.model import Chunk

MIN_WORDS = 80
MAX_WORDS = 200
MAX_HEADING_CHARS = 200

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class _Section:
    trail: list[str]
    paragraphs: list[str] = field(default_factory=list)


def chunk_document(text: str, name: str) -> list[Chunk]:
    """The chunks of `text` (a document called `name`), in document order."""
    chunks: list[Chunk] = []
    for section in _sections(text):
        context = " > ".join(section.trail)
        source = f"{name}#{section.trail[-1]}" if section.trail else name
        for body in _pack(section.paragraphs):
            chunks.append(Chunk(text=f"{context}\n\n{body}" if context else body, source=source))
    return chunks


def words(text: str) -> int:
    return len(text.split())


# -- sections: headings and paragraphs -------------------------------------------------


def _sections(text: str) -> list[_Section]:
    """Paragraphs grouped under their heading trail (`#` and underlined headings; blank
    lines inside a fenced code block do not end its paragraph)."""
    sections = [_Section(trail=[])]
    levels: list[tuple[int, str]] = []  # the open headings, outermost first
    lines: list[str] = []
    fenced = False

    def end_paragraph() -> None:
        if lines:
            paragraph = "\n".join(lines).strip()
            if paragraph:
                sections[-1].paragraphs.append(paragraph)
            lines.clear()

    def open_heading(level: int, title: str) -> None:
        end_paragraph()
        title = " ".join(title.split())[:MAX_HEADING_CHARS]
        while levels and levels[-1][0] >= level:
            levels.pop()
        if title:
            levels.append((level, title))
        sections.append(_Section(trail=[t for _, t in levels]))

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            lines.append(line)
            continue
        if fenced:
            lines.append(line)
            continue
        atx = _ATX.match(line)
        if atx:
            open_heading(len(atx.group(1)), atx.group(2))
        elif len(lines) == 1 and lines[0].strip() and _SETEXT.match(line):
            title = lines.pop()
            open_heading(1 if line.strip().startswith("=") else 2, title)
        elif _RULE.match(line):
            end_paragraph()
        elif line.strip():
            lines.append(line.rstrip())
        else:
            end_paragraph()
    end_paragraph()
    return [s for s in sections if s.paragraphs]


# -- packing paragraphs into chunks ----------------------------------------------------


def _pack(paragraphs: list[str]) -> list[str]:
    """Whole paragraphs, packed into as few chunks of at most MAX_WORDS as evenly as the
    paragraph boundaries allow (so a 220-word section becomes two of ~110, not 200 + 20)."""
    pieces = [piece for p in paragraphs for piece in _split_long(p)]
    total = sum(words(p) for p in pieces)
    target = math.ceil(total / math.ceil(total / MAX_WORDS)) if total else 0
    chunks: list[list[str]] = [[]]
    size = 0
    for piece in pieces:
        count = words(piece)
        if chunks[-1] and (size + count > MAX_WORDS or size >= target):
            chunks.append([])
            size = 0
        chunks[-1].append(piece)
        size += count
    if len(chunks) > 1 and sum(words(p) for p in chunks[-1]) < MIN_WORDS // 2:
        # a short tail reads better with what it follows than as a chunk of its own
        tail = chunks.pop()
        chunks[-1].extend(tail)
    return ["\n\n".join(chunk) for chunk in chunks if chunk]


def _split_long(paragraph: str) -> list[str]:
    """A paragraph longer than a chunk, cut at sentence ends into pieces of at most
    MAX_WORDS (a sentence longer than that is cut between words)."""
    if words(paragraph) <= MAX_WORDS:
        return [paragraph]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in _SENTENCE_END.split(paragraph):
        for part in _split_words(sentence):
            count = words(part)
            if current and size + count > MAX_WORDS:
                pieces.append(" ".join(current))
                current, size = [], 0
            current.append(part)
            size += count
    if current:
        pieces.append(" ".join(current))
    return pieces


def _split_words(sentence: str) -> list[str]:
    tokens = sentence.split()
    if len(tokens) <= MAX_WORDS:
        return [sentence.strip()] if tokens else []
    return [" ".join(tokens[i : i + MAX_WORDS]) for i in range(0, len(tokens), MAX_WORDS)]
