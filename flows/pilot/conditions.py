"""A condition node's test: declarative comparisons, never `eval`.

`{left, op, right}` (or a list of them, all of which must hold) with both sides rendered
from templates first. Numbers compare as numbers (a numeric string against a number is
read as a number); `matches` is a bounded regular expression search.
"""

from __future__ import annotations

import re
from typing import Any

MAX_PATTERN = 200
MAX_SUBJECT = 20_000
# A quantified group that is itself quantified, e.g. (a+)+ : catastrophic backtracking.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")


class ConditionError(ValueError):
    """The comparison cannot be made (types that do not order, a bad pattern)."""


def pattern_problem(pattern: Any) -> str | None:
    if not isinstance(pattern, str):
        return "a `matches` pattern is a string"
    if len(pattern) > MAX_PATTERN:
        return f"a `matches` pattern has at most {MAX_PATTERN} characters"
    if _NESTED_QUANTIFIER.search(pattern):
        return "nested quantifiers such as (a+)+ can take forever: simplify the pattern"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a regular expression: {exc}"
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, int | float) or isinstance(right, int | float):
        a, b = _number(left), _number(right)
        if a is not None and b is not None:
            return a, b
    return left, right


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "nothing"
    return "a list" if isinstance(value, list) else "an object"


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return str(item).lower() in container.lower()
    if isinstance(container, list | dict):
        return item in container
    return False


def compare(left: Any, op: str, right: Any = None) -> bool:
    if op == "empty":
        return _empty(left)
    if op == "not_empty":
        return not _empty(left)
    if op == "contains":
        return _contains(left, right)
    if op == "not_contains":
        return not _contains(left, right)
    if op == "matches":
        problem = pattern_problem(right)
        if problem:
            raise ConditionError(problem)
        return re.search(right, str(left if left is not None else "")[:MAX_SUBJECT]) is not None
    a, b = _comparable(left, right)
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    try:
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
    except TypeError:
        raise ConditionError(
            f"cannot compare {left!r} {op} {right!r}: one is {_kind(a)}, the other {_kind(b)}"
        ) from None
    raise ConditionError(f"unknown operator {op!r}")


def holds(when: dict[str, Any] | list[dict[str, Any]]) -> bool:
    """All the (already rendered) comparisons hold."""
    tests = when if isinstance(when, list) else [when]
    return all(compare(t.get("left"), t["op"], t.get("right")) for t in tests)
