"""A workflow's inputs as Slack sees them: the `input` node's fields (JSON-schema
properties) and how typed text becomes their values.

One reading for both ways in, the Run form and `/workflow run ID key=value…`: a text
field keeps the text as typed, a number field takes a number, and anything else (or a
key the workflow does not declare) is read as JSON when it parses, else kept as text.
The server validates the result, so this only has to be faithful, not strict. Pure
functions, no I/O.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass
from typing import Any

from bots.markdown import CURLY_QUOTES, escape, truncate

TEXT, NUMBER, INTEGER, JSON = "text", "number", "integer", "json"


@dataclass(frozen=True)
class InputField:
    name: str
    kind: str  # TEXT, NUMBER, INTEGER or JSON
    schema: dict[str, Any]

    @property
    def required(self) -> bool:
        """The server's rule (flows/pilot/spec.py input_schema): no default, required."""
        return "default" not in self.schema


def kind_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "string":
        return TEXT
    if kind in (NUMBER, INTEGER):
        return str(kind)
    return JSON


def input_fields(spec: dict[str, Any]) -> list[InputField]:
    """The fields of the workflow's `input` node: the required ones first, otherwise in
    the order the API gives them (a stored spec may come back with its keys sorted)."""
    node = next((n for n in spec.get("nodes") or [] if n.get("type") == "input"), None)
    fields = ((node or {}).get("config") or {}).get("fields") or {}
    found = [
        InputField(name, kind_of(schema), schema)
        for name, schema in fields.items()
        if isinstance(schema, dict)
    ]
    return sorted(found, key=lambda f: not f.required)


def value_of(raw: str, kind: str) -> Any:
    """Typed text as a field's value (ValueError says what is wrong with a number)."""
    if kind == TEXT:
        return raw
    if kind in (NUMBER, INTEGER):
        what = "a whole number" if kind == INTEGER else "a number"
        try:
            number = float(raw.strip()) if kind == NUMBER else int(raw.strip())
        except ValueError:
            raise ValueError(f"“{truncate(raw, 40)}” is not {what}") from None
        if not math.isfinite(number):
            raise ValueError(f"“{truncate(raw, 40)}” is not {what}")
        return int(number) if isinstance(number, float) and number.is_integer() else number
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def parse_pairs(text: str) -> dict[str, str]:
    """`key=value …` words (shell quoting, Slack's curly quotes as straight ones) as raw
    text per key; ValueError says what cannot be read."""
    try:
        words = shlex.split(text.translate(CURLY_QUOTES))
    except ValueError as exc:
        raise ValueError(f"Cannot read that: {exc}") from exc
    pairs: dict[str, str] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep or not key:
            raise ValueError(f"Expected key=value, got `{escape(word)}`")
        pairs[key] = raw
    return pairs


def input_data(pairs: dict[str, str], fields: list[InputField]) -> dict[str, Any]:
    """The execution's `input_data` from raw `key=value` texts, read by each field's kind
    (undeclared keys as JSON-or-text: the server names them if they are wrong)."""
    kinds = {f.name: f.kind for f in fields}
    data: dict[str, Any] = {}
    for key, raw in pairs.items():
        kind = kinds.get(key, JSON)
        try:
            data[key] = value_of(raw, kind)
        except ValueError:
            data[key] = raw  # the server's 422 says the value is not a number
    return data


def describe(field: InputField) -> str:
    """`topic` (text) or `audience` (text, default “general readers”): for usage lines."""
    kind = {TEXT: "text", NUMBER: "number", INTEGER: "whole number"}.get(field.kind)
    kind = kind or str(field.schema.get("type") or "JSON")
    parts = [kind]
    if "default" in field.schema:
        default = field.schema["default"]
        shown = default if isinstance(default, str) else json.dumps(default)
        parts.append(f"default “{escape(truncate(str(shown), 60))}”")
    return f"`{escape(field.name)}` ({', '.join(parts)})"
