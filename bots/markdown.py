"""Markdown (what the flows write) -> Slack mrkdwn, in pieces a section block accepts;
and the curly quotes Slack puts into typed commands."""

from __future__ import annotations

import re

CHUNK = 2900  # under Slack's limit of 3,000 characters for a section block's text
CURLY_QUOTES = {0x201C: '"', 0x201D: '"', 0x2018: "'", 0x2019: "'"}  # what Slack may send


def escape(text: str) -> str:
    """Slack's three control characters; everything else is literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    out: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            out.append("```")
            continue
        if fenced:
            out.append(escape(line))
            continue
        out.append(_line(line))
    return "\n".join(out).strip()


def _line(line: str) -> str:
    quote = re.match(r"^\s*>\s?", line)
    body = line[quote.end() :] if quote else line
    heading = re.match(r"^\s*#{1,6}\s+(.*)$", body)
    body = escape(heading.group(1).strip() if heading else body)
    body = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r"<\2|\1>", body)
    body = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", "\x00\\2\x00", body)
    body = re.sub(r"(?<![\*\w])\*(?=\S)([^*]+?)(?<=\S)\*(?!\*)", r"_\1_", body)
    body = re.sub(r"^(\s*)[-*+]\s+", r"\1• ", body)
    body = body.replace("\x00", "*")
    if heading:
        body = f"*{body.strip('*')}*"
    return ("> " if quote else "") + body


def chunks(text: str, limit: int = CHUNK) -> list[str]:
    """Split at paragraph (then line, then hard) boundaries into pieces <= `limit`."""
    pieces: list[str] = []
    current = ""
    for para in text.split("\n\n"):
        candidate = f"{current}\n\n{para}" if current else para
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(para) > limit:
            cut = para.rfind("\n", 0, limit)
            cut = cut if cut > limit // 2 else limit
            pieces.append(para[:cut])
            para = para[cut:].lstrip("\n")
        current = para
    if current:
        pieces.append(current)
    return pieces


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
