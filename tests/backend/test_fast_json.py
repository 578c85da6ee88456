"""`backend.fast_json` gives what the standard `json` gave on the hot paths it took over."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend import fast_json

# JSON values as a node's shared store or an event's data holds them (finite numbers:
# NaN is the one place the two differ, tested on its own).
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(values)
def test_the_same_json_as_the_standard_module(value: Any) -> None:
    expected = json.loads(json.dumps(value))
    assert json.loads(fast_json.dumps(value)) == expected
    assert fast_json.copy(value) == expected


def test_integer_keys_become_strings_and_big_integers_still_go_through() -> None:
    assert fast_json.copy({1: "a"}) == {"1": "a"}
    assert fast_json.copy({"n": 2**70}) == {"n": 2**70}  # past orjson's 64 bits
    assert fast_json.dumps([2**70]) == f"[{2**70}]"


def test_what_is_not_json_is_refused_as_json_refuses_it() -> None:
    with pytest.raises(TypeError):
        fast_json.copy({"when": object()})
    with pytest.raises(TypeError):
        fast_json.copy({"when": datetime(2026, 11, 30, tzinfo=UTC)})  # not orjson's format

    @dataclass
    class Point:
        x: int

    with pytest.raises(TypeError):
        fast_json.copy({"at": Point(1)})


def test_default_sees_datetimes_as_the_standard_module_showed_them() -> None:
    when = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    assert fast_json.dumps({"at": when}, default=str) == json.dumps(
        {"at": when}, separators=(",", ":"), default=str
    )


def test_nan_and_the_infinities_become_null() -> None:
    assert fast_json.copy({"x": math.nan, "y": math.inf}) == {"x": None, "y": None}
    assert fast_json.dumps([math.nan]) == "[null]"
