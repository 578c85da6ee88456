"""Templates: `{{node_id.field}}` references to earlier outputs, and nothing else.

The sandbox is the grammar. A reference is a node id followed by field names and list
indexes; it is looked up in plain dicts and lists, never through Python attributes, and
a value inserted into text is never rendered again. Anything else between braces
(`{{ ''.__class__ }}`, filters, calls) is not a reference: validation reports it, and
rendering leaves it as the literal text it is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_SEGMENT = r"[A-Za-z_][A-Za-z0-9_-]*"
REFERENCE = re.compile(
    r"\{\{\s*(?P<node>" + _SEGMENT + r")(?P<path>(?:\." + _SEGMENT + r"|\[\d+\])*)\s*\}\}"
)
BRACES = re.compile(r"\{\{(.*?)\}\}", re.S)
_PATH = re.compile(r"\.(" + _SEGMENT + r")|\[(\d+)\]")
MISSING = object()
PLACEHOLDER = re.compile(r"^<<(?P<what>[^<>]{1,200})>>$")


@dataclass(frozen=True)
class Reference:
    node: str
    path: tuple[str | int, ...]

    @property
    def field(self) -> str | None:
        first = self.path[0] if self.path else None
        return first if isinstance(first, str) else None

    def __str__(self) -> str:
        tail = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return "{{" + self.node + tail + "}}"


def _reference(match: re.Match[str]) -> Reference:
    path: list[str | int] = []
    for name, index in _PATH.findall(match.group("path")):
        path.append(int(index) if index else name)
    return Reference(match.group("node"), tuple(path))


def strings(value: Any, where: str = "") -> list[tuple[str, str]]:
    """Every string inside a config value, with its field path (for error messages)."""
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in strings(item, f"{where}.{key}" if where else str(key))
        ]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in strings(item, f"{where}[{i}]")]
    return []


def references(text: str) -> list[Reference]:
    return [_reference(m) for m in REFERENCE.finditer(text)]


def not_references(text: str) -> list[str]:
    """What sits between braces but is not a reference (code, filters, typos)."""
    return [
        m.group(0) for m in BRACES.finditer(text) if not REFERENCE.fullmatch(m.group(0).strip())
    ]


def lookup(scope: dict[str, Any], reference: Reference) -> Any:
    value: Any = scope.get(reference.node, MISSING)
    for step in reference.path:
        if isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return MISSING
    return value


def _as_text(value: Any) -> str:
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def render(value: Any, scope: dict[str, Any]) -> Any:
    """Fill a config value's references from `scope` (node id -> its output).

    A string that is exactly one reference keeps the referenced value's type; references
    inside longer text become text (objects as JSON, missing values as nothing).
    """
    if isinstance(value, dict):
        return {key: render(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    if not isinstance(value, str):
        return value
    whole = REFERENCE.fullmatch(value.strip())
    if whole:
        found = lookup(scope, _reference(whole))
        return None if found is MISSING else found
    return REFERENCE.sub(lambda m: _as_text(lookup(scope, _reference(m))), value)


def placeholders(value: Any, where: str = "") -> list[tuple[str, str]]:
    """`<<what the person must supply>>` strings left in a config: (field, what)."""
    return [
        (field, match.group("what").strip())
        for field, text in strings(value, where)
        if (match := PLACEHOLDER.match(text.strip()))
    ]
