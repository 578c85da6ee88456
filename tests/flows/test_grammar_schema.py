"""Schemas handed to llama.cpp keep within what its grammar can expand (else the process
crashes at the first token), and lose nothing a small model's answer needs."""

from __future__ import annotations

from typing import Any

from flows.pilot.generate import INTENT_SCHEMA
from flows.pilot.spec import SPEC_SCHEMA
from flows.providers.grammar_schema import MAX_ITEMS_BOUND, MAX_STRING_BOUND, grammar_safe


def bounds(schema: Any) -> list[tuple[str, int]]:
    if isinstance(schema, list):
        return [b for item in schema for b in bounds(item)]
    if not isinstance(schema, dict):
        return []
    found = [(k, v) for k, v in schema.items() if k in ("maxLength", "maxItems", "minItems")]
    return found + [b for value in schema.values() for b in bounds(value)]


def test_large_bounds_and_patterns_are_dropped_small_ones_kept() -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 100},
            "body": {"type": "string", "maxLength": 20_000},
            "id": {"type": "string", "pattern": "^[a-z]{0,63}$"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
            "nodes": {"type": "array", "items": {"type": "object"}, "maxItems": 60},
        },
    }
    safe = grammar_safe(schema)["properties"]
    assert safe["title"] == {"type": "string", "maxLength": 100}
    assert safe["body"] == {"type": "string"}
    assert safe["id"] == {"type": "string"}
    assert safe["tags"]["minItems"] == 3 == safe["tags"]["maxItems"]
    assert "maxItems" not in safe["nodes"]
    assert schema["properties"]["body"]["maxLength"] == 20_000, "the original is unchanged"


def test_the_schemas_genflow_asks_for_fit_the_grammar() -> None:
    for schema in (SPEC_SCHEMA, INTENT_SCHEMA):
        for key, value in bounds(grammar_safe(schema)):
            limit = MAX_STRING_BOUND if key == "maxLength" else MAX_ITEMS_BOUND
            assert value <= limit, (key, value)
