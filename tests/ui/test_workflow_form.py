"""The Run form: the input node's fields as boxes, and the boxes' values as `input_data`."""

from __future__ import annotations

from typing import Any

import pytest

from ui.workflow_form import (
    BOOLEAN,
    CHOICE,
    INTEGER,
    JSON,
    NUMBER,
    TEXT,
    Incomplete,
    form_fields,
    initial,
    input_data,
)


def spec(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "W",
        "nodes": [
            {"id": "start", "type": "input", "config": {"fields": fields}},
            {"id": "out", "type": "output", "config": {"value": "{{input}}"}},
        ],
        "connections": [{"source": "start", "target": "out"}],
    }


FIELDS = {
    "audience": {"type": "string", "default": "everyone", "description": "Who reads it"},
    "count": {"type": "integer", "default": 3},
    "topic": {"type": "string", "description": "What about"},
    "ratio": {"type": "number"},
    "tone": {"type": "string", "enum": ["warm", "dry"], "default": "warm"},
    "strict": {"type": "boolean", "default": False},
    "tags": {"type": "array", "default": ["a"]},
}


def test_each_field_gets_its_kind_of_box_required_ones_first() -> None:
    fields = form_fields(spec(FIELDS))
    assert [(f.name, f.kind, f.required) for f in fields] == [
        ("topic", TEXT, True),
        ("ratio", NUMBER, True),
        ("audience", TEXT, False),
        ("count", INTEGER, False),
        ("tone", CHOICE, False),
        ("strict", BOOLEAN, False),
        ("tags", JSON, False),
    ]
    by_name = {f.name: f for f in fields}
    assert by_name["topic"].info == "What about (required)"
    assert by_name["count"].info == "Optional"
    assert form_fields({"nodes": []}) == [] and form_fields(None) == []


def test_defaults_are_filled_in_as_each_box_shows_them() -> None:
    by_name = {f.name: f for f in form_fields(spec(FIELDS))}
    assert initial(by_name["audience"]) == "everyone"
    assert initial(by_name["count"]) == 3
    assert initial(by_name["tags"]) == '[\n  "a"\n]'
    assert initial(by_name["strict"]) is False
    assert initial(by_name["topic"]) == "" and initial(by_name["ratio"]) is None


def test_values_become_the_runs_input() -> None:
    fields = form_fields(spec(FIELDS))
    values = ["Tea", 0.5, "", 4.0, "dry", False, '{"k": [1, 2]}']
    assert input_data(fields, values) == {
        "topic": "Tea",
        "ratio": 0.5,
        "count": 4,  # an integer, not 4.0
        "tone": "dry",
        "strict": False,  # a checkbox always has a value
        "tags": {"k": [1, 2]},
    }  # the empty audience is left out: its default applies


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (["", None, "", 3, "warm", False, ""], "Fill in topic, ratio."),
        (["Tea", 1, "", 2.5, "warm", False, ""], "count: a whole number is needed."),
        (["Tea", 1, "", 2, "warm", False, "[1,"], "tags: not valid JSON"),
    ],
)
def test_what_is_missing_or_unreadable_is_said_before_anything_is_sent(
    values: list[Any], problem: str
) -> None:
    with pytest.raises(Incomplete, match=problem.replace(".", r"\.")):
        input_data(form_fields(spec(FIELDS)), values)
