"""JSON on the hot paths (a node's checkpoint, an event, the store's JSON columns), by orjson.

Every node copies the shared store through JSON for its checkpoint, and every event is
encoded once for its followers; with the standard `json` module these were about a
twentieth of the event loop's time in a 1,000-job burst (docs/performance.md). orjson
does the same work several times faster. It is held to what `json` gives here: integer
keys become strings, a datetime or dataclass goes to `default` (or is refused) instead
of orjson's own format, and a value orjson cannot take (an integer past 64 bits) goes
through `json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Compact JSON text (`json.dumps(value, separators=(",", ":"), default=default)`),
    except that NaN and the infinities, which are not JSON, become null."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), default=default)


def copy(value: Any) -> Any:
    """A deep copy that holds JSON values only (NaN and the infinities become null, as a
    JSON column would have them); raises TypeError or ValueError, as `json` does, for
    anything else."""
    try:
        return orjson.loads(orjson.dumps(value, option=_OPTIONS))
    except orjson.JSONEncodeError:
        return json.loads(json.dumps(value))
