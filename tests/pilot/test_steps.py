"""The pieces a workflow step is made of: comparisons, templates, tools, the calculator."""

from __future__ import annotations

from typing import Any

import pytest

from flows.pilot import templates
from flows.pilot.calculator import CalculationError, calculate
from flows.pilot.conditions import ConditionError, compare, holds
from flows.pilot.tools import TOOLS, ToolError, json_path


@pytest.mark.parametrize(
    ("left", "op", "right", "expected"),
    [
        (500, ">", 100, True),
        ("500", ">", 100, True),  # a numeric string against a number compares as numbers
        (5, "<", 10, True),
        (10, "<=", 10, True),
        (9, ">=", 10, False),
        ("yes", "==", "yes", True),
        ("7", "==", 7, True),
        ("a", "!=", "b", True),
        ("I am ANGRY", "contains", "angry", True),  # text: case does not matter
        (["a", "b"], "contains", "b", True),
        ("calm", "not_contains", "angry", True),
        ("", "empty", None, True),
        ([], "empty", None, True),
        (None, "empty", None, True),
        ({"a": 1}, "not_empty", None, True),
        ("order #1234", "matches", r"#\d{4}", True),
        ("order", "matches", r"^\d+$", False),
    ],
)
def test_every_operator(left: Any, op: str, right: Any, expected: bool) -> None:
    assert compare(left, op, right) is expected


def test_all_comparisons_of_a_list_must_hold() -> None:
    assert holds([{"left": 1, "op": "<", "right": 2}, {"left": "x", "op": "not_empty"}])
    assert not holds([{"left": 1, "op": "<", "right": 2}, {"left": "", "op": "not_empty"}])


def test_what_cannot_be_compared_says_so() -> None:
    with pytest.raises(ConditionError, match="one is text, the other a number"):
        compare("many", "<", 3)
    with pytest.raises(ConditionError, match="nested quantifiers"):
        compare("aaaa", "matches", "(a+)+$")


def test_a_single_reference_keeps_its_type_and_text_interpolates() -> None:
    scope = {"input": {"amount": 500, "tags": ["a", "b"]}, "llm1": {"text": "hi"}}
    assert templates.render("{{input.amount}}", scope) == 500
    assert templates.render("{{ input.tags[1] }}", scope) == "b"
    assert templates.render("Total: {{input.amount}} {{input.tags}}", scope) == (
        'Total: 500 ["a", "b"]'
    )
    assert templates.render({"x": ["{{llm1.text}}!"]}, scope) == {"x": ["hi!"]}
    assert templates.render("{{nobody.text}}", scope) is None
    assert templates.render("[{{nobody.text}}]", scope) == "[]"


@pytest.mark.parametrize(
    "escape",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ input.__class__ }}",
        "{{ input['__class__'] }}",
        "{{ self._TemplateReference__context }}",
        "{{ lipsum.__globals__.os.popen('id').read() }}",
        "{% for x in range(9) %}{{x}}{% endfor %}",
    ],
)
def test_template_escapes_render_as_harmless_text(escape: str) -> None:
    """No attribute of a Python object is ever reached: a path walks JSON only, and what is
    not a path stays the literal text."""
    scope = {"input": {"text": "x"}, "self": {}, "lipsum": {}}
    rendered = templates.render(escape, scope)
    if templates.REFERENCE.fullmatch(escape.strip()):
        assert rendered is None  # a path to a key that no JSON object here has
    else:  # not a path: never evaluated, left as it is (a path inside it finds nothing)
        assert rendered == templates.REFERENCE.sub("", escape)
    assert templates.lookup(scope, templates.Reference("input", ("__class__",))) is (
        templates.MISSING
    )


def test_the_calculator_does_arithmetic_and_nothing_else() -> None:
    assert calculate("2 + 3 * (4 - 1)") == 11
    assert calculate("sqrt(16) + round(2.5)") == 6
    assert calculate("10 / 4") == 2.5
    for hostile in ("__import__('os')", "(1).__class__", "[x for x in ()]", "9**9**9", "a + 1"):
        with pytest.raises(CalculationError):
            calculate(hostile)
    with pytest.raises(CalculationError, match="cannot compute"):
        calculate("1 / 0")


async def test_tools_take_their_arguments() -> None:
    assert await TOOLS["calculator"].run({"expression": "6 * 7"}) == 42
    now = await TOOLS["datetime"].run({"timezone": "Europe/Paris", "add_days": 1})
    assert set(now) == {"iso", "date", "weekday", "timestamp"}
    with pytest.raises(ToolError, match="unknown time zone"):
        await TOOLS["datetime"].run({"timezone": "Mars/Olympus"})
    data = {"items": [{"name": "a"}, {"name": "b"}]}
    assert json_path(data, "$.items[*].name") == ["a", "b"]
    assert await TOOLS["json_path"].run({"data": data, "path": "$.items[1].name"}) == "b"
    with pytest.raises(ToolError, match="starts with"):
        json_path(data, "items")
