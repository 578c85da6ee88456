"""Cached JSON Schema validators: checking a schema and building its validator once.

`jsonschema.validate(value, schema)` re-checks the schema against the meta-schema on
every call (milliseconds for the article outline); the same few schemas are used for
every job, so their validators are built once and kept.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema
import orjson
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator


def validator(schema: dict[str, Any], *, check: bool = True) -> Validator:
    """The validator of `schema`.

    With `check` (what `jsonschema.validate` does): the draft named by `$schema` (default
    2020-12), after checking the schema itself. Without: a 2020-12 validator, unchecked.
    """
    return _cached(_text(schema), check)


def _text(schema: dict[str, Any]) -> str:
    """The schema's cache key: its JSON with sorted keys (by orjson: the key is made on
    every call, and `json.dumps` was most of a cached look-up's time)."""
    try:
        return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(schema, sort_keys=True)


@lru_cache(maxsize=256)
def _cached(text: str, check: bool) -> Validator:
    schema = json.loads(text)
    if not check:
        return jsonschema.Draft202012Validator(schema)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(value: Any, schema: dict[str, Any]) -> None:
    """Like `jsonschema.validate`: raise the most relevant ValidationError, if any."""
    error = best_match(validator(schema).iter_errors(value))
    if error is not None:
        raise error
