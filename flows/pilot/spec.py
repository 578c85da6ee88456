"""What a workflow spec is: its JSON shape, the node types and their configs, the routes.

A spec is `{name, description, nodes:[{id, type, config, position?}], connections:[{source,
target, type}]}`; a connection's `type` is the action that leaves its source. The JSON
Schemas here serve three readers: validation, the model that drafts specs (structured
output), and the API docs.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

NODE_ID = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
MAX_NODES = 60
MAX_ITERATIONS = 1000
INPUT_ALIAS = "input"  # `{{input.field}}` is the execution's input, whatever the node's id

_TEMPLATE = {"type": "string", "maxLength": 20_000}
_VALUE: dict[str, Any] = {}  # any JSON: a template string, a number, an object of templates
_COMPARISON = {
    "type": "object",
    "properties": {
        "left": _VALUE,
        "op": {
            "enum": [
                "==",
                "!=",
                "<",
                "<=",
                ">",
                ">=",
                "contains",
                "not_contains",
                "empty",
                "not_empty",
                "matches",
            ]
        },
        "right": _VALUE,
    },
    "required": ["left", "op"],
    "additionalProperties": False,
}


def _config(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


CONFIGS: dict[str, dict[str, Any]] = {
    "input": _config({"fields": {"type": "object", "additionalProperties": {"type": "object"}}}),
    "llm": _config(
        {
            "prompt": _TEMPLATE,
            "system": _TEMPLATE,
            "schema": {"type": "object"},
            "model": {"type": "string", "maxLength": 100},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        },
        ["prompt"],
    ),
    "condition": _config(
        {"when": {"anyOf": [_COMPARISON, {"type": "array", "items": _COMPARISON, "minItems": 1}]}},
        ["when"],
    ),
    "loop": _config(
        {
            "over": _TEMPLATE,
            "times": {"type": "integer", "minimum": 0, "maximum": MAX_ITERATIONS},
            "max_iterations": {"type": "integer", "minimum": 1, "maximum": MAX_ITERATIONS},
            "collect": _VALUE,
        },
        ["max_iterations"],
    ),
    "api": _config(
        {
            "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
            "url": _TEMPLATE,
            "headers": {"type": "object", "additionalProperties": _TEMPLATE},
            "body": _VALUE,
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
        },
        ["method", "url"],
    ),
    "knowledge": _config(
        {
            "base": {"type": "string", "minLength": 1, "maxLength": 200},
            "query": _TEMPLATE,
            "top_k": {"type": "integer", "minimum": 1, "maximum": 20},
        },
        ["base", "query"],
    ),
    "tool": _config(
        {
            "tool": {"type": "string", "minLength": 1, "maxLength": 100},
            "args": {"type": "object"},
        },
        ["tool"],
    ),
    "review": _config(
        {
            "prompt": {"type": "string", "maxLength": 2000},
            "options": {
                "type": "array",
                "items": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,31}$"},
                "minItems": 1,
                "maxItems": 6,
                "uniqueItems": True,
            },
            "show": _VALUE,
        }
    ),
    "output": _config({"value": _VALUE}, ["value"]),
}
NODE_TYPES = tuple(CONFIGS)

# What each type's output holds (the first field of a `{{node.field}}` reference).
OUTPUTS: dict[str, frozenset[str]] = {
    "input": frozenset(),  # the input node's fields, from its config
    "llm": frozenset({"text", "json"}),
    "condition": frozenset({"result"}),
    "loop": frozenset({"item", "index", "results", "count"}),
    "api": frozenset({"status", "body", "json", "headers"}),
    "knowledge": frozenset({"chunks", "text"}),
    "tool": frozenset({"result"}),
    "review": frozenset({"decision", "comment", "by"}),
    "output": frozenset(),
}

DEFAULT_REVIEW_OPTIONS = ("approve", "reject")


def routes(node: dict[str, Any]) -> tuple[str, ...]:
    """The actions that must leave a node, each connected to exactly one target."""
    kind = node.get("type")
    if kind == "condition":
        return ("true", "false")
    if kind == "loop":
        return ("next", "done")
    if kind == "review":
        return tuple((node.get("config") or {}).get("options") or DEFAULT_REVIEW_OPTIONS)
    if kind == "output":
        return ()
    return ("default",)


def review_options(spec: dict[str, Any]) -> tuple[str, ...]:
    """The options of every review the spec's review nodes can ask for, in node order
    (none: it asks for no reviews, so takes no review terms)."""
    found = (o for n in spec.get("nodes") or () if n.get("type") == "review" for o in routes(n))
    return tuple(dict.fromkeys(found))


SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": 2000},
        "nodes": {
            "type": "array",
            "minItems": 2,
            "maxItems": MAX_NODES,
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "pattern": NODE_ID},
                    "type": {"enum": list(NODE_TYPES)},
                    "config": {"type": "object"},
                    "position": {
                        "type": "object",
                        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                    },
                },
                "required": ["id", "type", "config"],
                "additionalProperties": False,
            },
        },
        "connections": {
            "type": "array",
            "maxItems": MAX_NODES * 6,
            "items": {
                "type": "object",
                "properties": {
                    "source": {"type": "string", "maxLength": 64},
                    "target": {"type": "string", "maxLength": 64},
                    "type": {"type": "string", "maxLength": 32, "default": "default"},
                },
                "required": ["source", "target"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["name", "nodes", "connections"],
    "additionalProperties": False,
}


class SpecSyntaxError(ValueError):
    """The text is neither JSON nor YAML of an object."""


def parse(source: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """A spec from JSON or YAML text (or an object already parsed)."""
    if isinstance(source, dict):
        return source
    text = source.decode() if isinstance(source, bytes) else source
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecSyntaxError(f"the spec is neither JSON nor YAML: {exc}") from None
    if not isinstance(value, dict):
        raise SpecSyntaxError("a spec is an object with name, nodes and connections")
    return value


def input_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of an execution's `input_data`: the input node's fields, each
    required unless it has a default."""
    node = next((n for n in spec.get("nodes", []) if n.get("type") == "input"), None)
    fields = ((node or {}).get("config") or {}).get("fields") or {}
    return {
        "type": "object",
        "properties": fields,
        "required": [name for name, f in fields.items() if "default" not in f],
    }


def edge_type(connection: dict[str, Any]) -> str:
    return connection.get("type") or "default"
