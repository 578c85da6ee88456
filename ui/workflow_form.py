"""The Run form: the workflow's `input` node fields (JSON-schema properties) as boxes to
fill in, and what was filled in as the run's `input_data`.

A string is a text box (a menu when it lists its values), a number or an integer a number
box, a boolean a checkbox, anything else a JSON box; defaults are filled in. A field
without a default is required (the server's rule, flows/pilot/spec.py `input_schema`).
The server validates the input again, so this only has to be faithful, and to say what
is missing before anything is sent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import gradio as gr

TEXT, NUMBER, INTEGER, BOOLEAN = "text", "number", "integer", "boolean"
CHOICE, JSON = "choice", "json"


class Incomplete(ValueError):
    """The form cannot become `input_data` yet; the message says what to fix."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # TEXT, NUMBER, INTEGER, BOOLEAN, CHOICE or JSON
    schema: dict[str, Any]

    @property
    def required(self) -> bool:
        return "default" not in self.schema

    @property
    def default(self) -> Any:
        return self.schema.get("default")

    @property
    def info(self) -> str:
        """What the field is for, and whether it may be left empty."""
        about = str(self.schema.get("description") or "").strip()
        need = "required" if self.required else "optional"
        return f"{about} ({need})" if about else need.capitalize()


def kind_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "string":
        return CHOICE if isinstance(schema.get("enum"), list) else TEXT
    if kind in (NUMBER, INTEGER, BOOLEAN):
        return str(kind)
    return JSON


def form_fields(spec: dict[str, Any] | None) -> list[Field]:
    """The input node's fields: the required ones first, otherwise in the spec's order
    (a stored spec may come back with its keys sorted)."""
    nodes = (spec or {}).get("nodes") or []
    node = next((n for n in nodes if isinstance(n, dict) and n.get("type") == "input"), None)
    fields = ((node or {}).get("config") or {}).get("fields") or {}
    found = [
        Field(str(name), kind_of(schema), schema)
        for name, schema in fields.items()
        if isinstance(schema, dict)
    ]
    return sorted(found, key=lambda f: not f.required)


def initial(field: Field) -> Any:
    """What the box holds before the person types: the default, as that box shows it."""
    default = field.default
    if field.kind == JSON:
        return "" if default is None else json.dumps(default, indent=2, ensure_ascii=False)
    if field.kind == TEXT:
        return "" if default is None else str(default)
    if field.kind == BOOLEAN:
        return bool(default)
    return default


def component(field: Field) -> gr.Component:
    """The box for one field, in the current Blocks context."""
    common: dict[str, Any] = dict(label=field.name, elem_id=f"gw-field-{field.name}")
    if field.kind == TEXT:
        long = int(field.schema.get("maxLength") or 0) > 500
        return gr.Textbox(
            initial(field), info=field.info, lines=3 if long else 1, max_lines=12, **common
        )
    if field.kind in (NUMBER, INTEGER):
        return gr.Number(
            initial(field),
            info=field.info,
            precision=0 if field.kind == INTEGER else None,
            minimum=field.schema.get("minimum"),
            maximum=field.schema.get("maximum"),
            **common,
        )
    if field.kind == BOOLEAN:
        return gr.Checkbox(initial(field), info=field.info, **common)
    if field.kind == CHOICE:
        choices = [str(c) for c in field.schema["enum"]]
        return gr.Dropdown(choices, value=initial(field), info=field.info, **common)
    return gr.Code(initial(field), language="json", lines=3, **common)


def input_data(fields: list[Field], values: list[Any]) -> dict[str, Any]:
    """The run's input from the boxes' values (in `fields`' order). An empty optional
    field is left out (the workflow's default applies); Incomplete lists what is missing
    or unreadable."""
    data: dict[str, Any] = {}
    missing: list[str] = []
    unreadable: list[str] = []
    for field, value in zip(fields, values, strict=True):
        if empty(value) and field.kind != BOOLEAN:
            if field.required:
                missing.append(field.name)
            continue
        try:
            data[field.name] = read(field, value)
        except ValueError as exc:
            unreadable.append(f"{field.name}: {exc}")
    problems = []
    if missing:
        problems.append("Fill in " + ", ".join(missing) + ".")
    if unreadable:
        problems.append("; ".join(unreadable) + ".")
    if problems:
        raise Incomplete(" ".join(problems))
    return data


def empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read(field: Field, value: Any) -> Any:
    """One box's value as the field's JSON value (ValueError: what is wrong with it)."""
    if field.kind == BOOLEAN:
        return bool(value)
    if field.kind in (NUMBER, INTEGER):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("not a number")
        if field.kind == INTEGER:
            if not number.is_integer():
                raise ValueError("a whole number is needed")
            return int(number)
        return int(number) if number.is_integer() else number
    if field.kind == JSON:
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from None
    return str(value)
