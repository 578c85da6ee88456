"""Cached schema validators behave like jsonschema.validate, built once per schema."""

from __future__ import annotations

import jsonschema
import pytest

from flows import schemas
from flows.article import OUTLINE_SCHEMA


def test_a_validator_is_built_once_per_schema() -> None:
    assert schemas.validator(OUTLINE_SCHEMA) is schemas.validator(dict(OUTLINE_SCHEMA))


@pytest.mark.parametrize(
    "value",
    [{}, {"title": "t", "sections": []}, {"title": "", "sections": [{"title": "a"}] * 3}],
)
def test_validate_raises_what_jsonschema_raises(value: dict) -> None:
    with pytest.raises(jsonschema.ValidationError) as ours:
        schemas.validate(value, OUTLINE_SCHEMA)
    with pytest.raises(jsonschema.ValidationError) as theirs:
        jsonschema.validate(value, OUTLINE_SCHEMA)
    assert ours.value.message == theirs.value.message


def test_an_invalid_schema_is_refused_when_checked() -> None:
    with pytest.raises(jsonschema.SchemaError):
        schemas.validate({}, {"type": "no-such-type"})
    assert list(schemas.validator({"type": "object"}, check=False).iter_errors({})) == []
