"""What may become a document: UTF-8 text or markdown, named, within the size limit.

Uploads come as JSON (`{name, text}`: already text, so only its size and name are checked)
or as files in a multipart form, whose bytes must be UTF-8 text of a text type. Browsers
and curl label a `.md` file `application/octet-stream`, so an unlabelled file is judged
by its extension. Anything else is refused with 415 saying what is accepted; nothing
binary (a NUL byte) is stored, which PostgreSQL's text columns could not hold anyway.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from backend.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

MARKDOWN, PLAIN = "text/markdown", "text/plain"
MIMES = (MARKDOWN, PLAIN)
MAX_NAME_CHARS = 200
_DECLARED = {PLAIN: PLAIN, MARKDOWN: MARKDOWN, "text/x-markdown": MARKDOWN}
_UNLABELLED = {"", "application/octet-stream"}
_EXTENSIONS = {
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".mdown": MARKDOWN,
    ".txt": PLAIN,
    ".text": PLAIN,
    "": PLAIN,
}
_CHARSETS = {"utf-8", "utf8", "us-ascii", "ascii"}
ACCEPTED = "UTF-8 text: text/markdown or text/plain (.md, .markdown, .txt files)"


@dataclass(frozen=True)
class Upload:
    name: str
    text: str
    mime: str

    @property
    def size(self) -> int:
        return len(self.text.encode())


def from_json(name: str, text: str, mime: str | None, *, limit: int, field: str) -> Upload:
    """A document sent as JSON; `field` names it in errors (`documents[2]`)."""
    name = document_name(name, field=f"{field}.name")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise PayloadTooLarge(f"{name}: {size} bytes; documents may have at most {limit} bytes")
    if "\x00" in text:
        raise InvalidInput(
            f"{name}: the text contains NUL characters",
            [{"field": f"{field}.text", "message": "text must not contain NUL (\\u0000)"}],
        )
    if not text.strip():
        raise InvalidInput(
            f"{name}: the document has no text",
            [{"field": f"{field}.text", "message": "empty"}],
        )
    return Upload(name=name, text=text, mime=mime or _by_extension(name) or PLAIN)


def from_file(filename: str, content_type: str, data: bytes, *, limit: int) -> Upload:
    """A document sent as a file: 415 unless it is UTF-8 text or markdown."""
    name = document_name(filename, field="file")
    if len(data) > limit:
        raise PayloadTooLarge(
            f"{name}: {len(data)} bytes; documents may have at most {limit} bytes"
        )
    mime = _file_mime(name, content_type)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedMediaType(
            f"{name} is not UTF-8 text (byte {exc.start}); accepted: {ACCEPTED}"
        ) from exc
    if "\x00" in text:
        raise UnsupportedMediaType(f"{name} looks binary (it has NUL bytes); accepted: {ACCEPTED}")
    if not text.strip():
        raise InvalidInput(
            f"{name}: the document has no text", [{"field": "file", "message": "empty"}]
        )
    return Upload(name=name, text=text, mime=mime)


def document_name(raw: str, *, field: str) -> str:
    """The file name without any directory a client sent along (`C:\\docs\\faq.md`)."""
    name = posixpath.basename(raw.replace("\\", "/")).strip()
    problem = None
    if not name:
        problem = "a document needs a name (its file name, e.g. faq.md)"
    elif len(name) > MAX_NAME_CHARS:
        problem = f"at most {MAX_NAME_CHARS} characters"
    elif any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in name):
        problem = "no control characters"
    if problem:
        raise InvalidInput(
            f"invalid document name: {problem}", [{"field": field, "message": problem}]
        )
    return name


def _file_mime(name: str, content_type: str) -> str:
    declared, _, params = (content_type or "").partition(";")
    declared = declared.strip().lower()
    charset = _charset(params)
    if charset is not None and charset not in _CHARSETS:
        raise UnsupportedMediaType(f"{name} is {charset}; accepted: {ACCEPTED}")
    if declared in _DECLARED:
        return _DECLARED[declared]
    if declared in _UNLABELLED:
        mime = _by_extension(name)
        if mime:
            return mime
        raise UnsupportedMediaType(f"{name}: not a text document; accepted: {ACCEPTED}")
    raise UnsupportedMediaType(f"{name} is {declared}; accepted: {ACCEPTED}")


def _by_extension(name: str) -> str | None:
    return _EXTENSIONS.get(posixpath.splitext(name)[1].lower())


def _charset(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None
