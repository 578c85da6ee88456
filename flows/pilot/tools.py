"""The tools a workflow's `tool` node may call, by name.

Each tool says what arguments it takes (a JSON Schema, checked in validation and again
before the call) and whether it sends data out of GenFlow (`sends_out`: validation warns
when no review comes before such a tool).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flows.pilot import guarded_http
from flows.pilot.calculator import calculate
from flows.pilot.knowledge import searcher


class ToolError(ValueError):
    """The tool cannot do what it was asked (bad arguments, nothing found)."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: dict[str, Any]  # JSON Schema of the arguments (after rendering)
    run: Callable[[dict[str, Any]], Awaitable[Any]]
    sends_out: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "args": self.args,
            "sends_out": self.sends_out,
        }


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


async def _calculator(args: dict[str, Any]) -> Any:
    try:
        return calculate(str(args["expression"]))
    except ValueError as exc:
        raise ToolError(str(exc)) from None


async def _datetime(args: dict[str, Any]) -> dict[str, Any]:
    try:
        zone = ZoneInfo(args.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"unknown time zone {args.get('timezone')!r}") from None
    moment = datetime.now(UTC).astimezone(zone) + timedelta(
        days=float(args.get("add_days") or 0), hours=float(args.get("add_hours") or 0)
    )
    return {
        "iso": moment.isoformat(timespec="seconds"),
        "date": moment.date().isoformat(),
        "weekday": moment.strftime("%A"),
        "timestamp": int(moment.timestamp()),
    }


_JSON_PATH_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+|\*)\]|\['([^']*)'\]")


def json_path(data: Any, path: str) -> list[Any]:
    """A JSONPath subset: `$`, `.field`, `['field']`, `[index]`, `[*]`."""
    if not path.startswith("$"):
        raise ToolError("a path starts with $, e.g. $.items[0].name")
    rest, values = path[1:], [data]
    while rest:
        step = _JSON_PATH_STEP.match(rest)
        if step is None:
            raise ToolError(f"cannot read the path at {rest!r}: use .field, [index] or [*]")
        name, index, quoted = step.groups()
        found: list[Any] = []
        for value in values:
            key = name or quoted
            if key is not None and isinstance(value, dict) and key in value:
                found.append(value[key])
            elif index == "*" and isinstance(value, list | dict):
                found.extend(value if isinstance(value, list) else value.values())
            elif index and index != "*" and isinstance(value, list) and int(index) < len(value):
                found.append(value[int(index)])
        values, rest = found, rest[step.end() :]
    return values


async def _json_path(args: dict[str, Any]) -> Any:
    found = json_path(args.get("data"), str(args["path"]))
    return found[0] if len(found) == 1 else found


async def _http_get(args: dict[str, Any]) -> dict[str, Any]:
    answer = await guarded_http.request("GET", str(args["url"]), headers=args.get("headers"))
    return {"status": answer.status, "body": answer.text, "json": answer.json}


async def _knowledge_search(args: dict[str, Any]) -> list[dict[str, Any]]:
    top_k = int(args.get("top_k") or 4)
    return await searcher.get().search(str(args["base"]), str(args["query"]), top_k)


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in [
        Tool(
            "calculator",
            "Arithmetic on numbers: + - * / // % **, parentheses, abs round min max sqrt.",
            _schema({"expression": {"type": ["string", "number"]}}, ["expression"]),
            _calculator,
        ),
        Tool(
            "datetime",
            "The current date and time in a time zone, optionally shifted by days/hours.",
            _schema(
                {
                    "timezone": {"type": "string"},
                    "add_days": {"type": "number"},
                    "add_hours": {"type": "number"},
                },
                [],
            ),
            _datetime,
        ),
        Tool(
            "json_path",
            "Pick values out of JSON data with a path such as $.items[*].name.",
            _schema({"data": {}, "path": {"type": "string"}}, ["data", "path"]),
            _json_path,
        ),
        Tool(
            "http_get",
            "GET a public http(s) URL through the guarded client.",
            _schema(
                {"url": {"type": "string"}, "headers": {"type": "object"}},
                ["url"],
            ),
            _http_get,
            sends_out=True,
        ),
        Tool(
            "knowledge_search",
            "The best chunks of one of your knowledge bases for a query.",
            _schema(
                {
                    "base": {"type": "string"},
                    "query": {"type": "string"},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": 20},
                },
                ["base", "query"],
            ),
            _knowledge_search,
        ),
    ]
}
