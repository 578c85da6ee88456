"""Hypothesis strategies from an OpenAPI 3.1 document: its operations, and values near
each JSON Schema in it (valid ones, ones just past a limit, wrong types, junk)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

METHODS = ("get", "post", "put", "patch", "delete")

NASTY = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ud800",
        "😀",
        "' OR 1=1 --",
        "<script>",
        "../../etc/passwd",
        "%00",
        "NaN",
        "null",
        "-1",
        "9" * 40,
        "1e999",
        "x" * 5000,
    ]
)
TEXT = st.one_of(st.text(max_size=30), NASTY)
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=10,
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    parameters: tuple[dict[str, Any], ...]
    body: dict[str, Any] | None  # the JSON schema of the request body

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                body = op.get("requestBody", {}).get("content", {}).get("application/json")
                found.append(
                    Operation(
                        method,
                        path,
                        tuple(op.get("parameters", [])),
                        body["schema"] if body else None,
                    )
                )
    return found


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def valid(schema: dict[str, Any], document: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values meeting `schema` (the subset of JSON Schema the API uses)."""
    schema = resolve(schema, document)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of(*(valid({**schema, "type": k}, document) for k in kind))
    if kind == "string":
        low, high = schema.get("minLength", 0), min(schema.get("maxLength", 40), 2000)
        return st.text(min_size=low, max_size=min(high, 40)) | st.just("x" * high)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "object":
        properties = schema.get("properties", {})
        if not properties:
            return st.dictionaries(TEXT, JSON, max_size=3)
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {n: valid(s, document) for n, s in properties.items() if n in required},
            optional={n: valid(s, document) for n, s in properties.items() if n not in required},
        )
    return JSON


def near(schema: dict[str, Any], document: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values around `schema`: valid, just invalid, fields missing or extra, or junk."""
    schema = resolve(schema, document)
    options = [valid(schema, document), JSON]
    if "maxLength" in schema:
        options.append(st.just("y" * (schema["maxLength"] + 1)))
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]).map(lambda v: f" {v}".upper()))
    if "minimum" in schema or "maximum" in schema:
        options.append(st.integers(-(2**64), 2**64))
    properties = schema.get("properties")
    if schema.get("type") == "object" and properties:
        options.append(
            st.fixed_dictionaries(
                {}, optional={n: near(s, document) for n, s in properties.items()}
            ).flatmap(
                lambda obj: st.dictionaries(TEXT, JSON, max_size=2).map(
                    lambda extra: {**extra, **obj}
                )
            )
        )
    return st.one_of(*options)


def body_bytes(schema: dict[str, Any] | None, document: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """A request body: JSON near the schema (or any JSON), byte-mangled JSON, or junk."""
    values = near(schema, document) if schema else JSON
    as_json = values.map(lambda v: json.dumps(v).encode())
    return st.one_of(
        as_json,
        as_json,
        st.binary(max_size=64),
        st.integers(1, 2000).map(lambda n: b"[" * n + b"]" * n),
        st.just(b""),
        st.just(b'"' + b"x" * 1_100_000 + b'"'),  # over the body size limit
    )
