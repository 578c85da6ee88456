"""A JSON Schema that llama.cpp can turn into a grammar without giving up.

llama.cpp expands bounded repetitions (`maxLength`, `maxItems`, `{m,n}` in patterns)
into grammar rules and refuses a grammar whose repetitions exceed a fixed budget; through
llama-cpp-python the refusal is not an error but a crash of the whole process at the
first token. Large bounds help nothing for a small model's answer (the token limit ends
it first), so they are dropped here, and the answer is still validated against the full
schema afterwards (`flows.llm.complete`).
"""

from __future__ import annotations

from typing import Any

MAX_STRING_BOUND = 300
MAX_ITEMS_BOUND = 12
_DROPPED = ("pattern", "format")


def grammar_safe(schema: Any) -> Any:
    """A copy of `schema` with every bound llama.cpp cannot afford removed."""
    if isinstance(schema, list):
        return [grammar_safe(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    safe: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        if key in ("maxLength", "minLength") and _too_big(schema, "maxLength", MAX_STRING_BOUND):
            continue
        if key in ("maxItems", "minItems") and _too_big(schema, "maxItems", MAX_ITEMS_BOUND):
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties"):
            safe[key] = {name: grammar_safe(sub) for name, sub in value.items()}
        else:
            safe[key] = grammar_safe(value)
    return safe


def _too_big(schema: dict[str, Any], bound: str, limit: int) -> bool:
    """A bound pair goes together: keeping `minItems: 2` without its `maxItems` is fine,
    but a minimum above the limit is as costly as a maximum."""
    low = schema.get("minLength" if bound == "maxLength" else "minItems", 0)
    return schema.get(bound, 0) > limit or low > limit
