"""What a chat line asks for: `/article TOPIC`, `/image PROMPT`, `/task TEXT`, or plain text.

Flows come from `GET /api/flows`, so a flow registered later gets a command (its name)
and a place in the mode picker without any change here: the text goes into the flow's
first required string input. A JSON object instead of text is sent as the whole input,
for flows (or options, like an article's `review`) that need more than one field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Friendlier names for seed flows (Slack's too); every flow is also reachable as /<its name>.
ALIASES = {"task": "review", "imagine": "image"}
COMMANDS = {"review": "task"}  # the name shown for a flow, when it is not the flow's own


class InputProblem(ValueError):
    """The chat line cannot become a job; the message says why, for a person."""


@dataclass(frozen=True)
class StartJob:
    flow: str
    input: dict[str, Any]


@dataclass(frozen=True)
class ShowHelp:
    pass


def command_for(flow: str) -> str:
    return "/" + COMMANDS.get(flow, flow)


def text_field(flow: dict[str, Any]) -> str | None:
    """The input field that chat text fills: the first required string, else any string."""
    schema = flow.get("input_schema") or {}
    props: dict[str, Any] = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if (props.get(name) or {}).get("type") == "string":
            return name
    return next((name for name, prop in props.items() if prop.get("type") == "string"), None)


def parse(text: str, mode: str | None, flows: list[dict[str, Any]]) -> StartJob | ShowHelp:
    """Turn one chat line into a job to start (or a request for help)."""
    text = text.strip()
    if not text:
        raise InputProblem("Type something first, for example `/article The history of coffee`.")
    by_name = {flow["name"]: flow for flow in flows}
    if text.startswith("/"):
        word, _, rest = text[1:].partition(" ")
        word = word.lower()
        if word in ("help", "?", ""):
            return ShowHelp()
        name = ALIASES.get(word, word)
        if name not in by_name:
            known = ", ".join(f"`{command_for(n)}`" for n in by_name) or "none (is the API up?)"
            raise InputProblem(f"Unknown command `/{word}`. Commands: {known}, `/help`.")
    else:
        name, rest = mode or "", text
        if name not in by_name:
            raise InputProblem("Pick what to do in the mode menu, or start with a command.")
    return StartJob(name, job_input(by_name[name], rest.strip()))


def job_input(flow: dict[str, Any], text: str) -> dict[str, Any]:
    field = text_field(flow)
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputProblem(f"That looks like JSON but is not valid: {exc.msg}.") from exc
        if not isinstance(value, dict):
            raise InputProblem('A JSON input must be an object, like {"topic": "…"}.')
        return value
    if field is None:
        raise InputProblem(
            f"`{command_for(flow['name'])}` needs a JSON object as input, "
            f"for example {json.dumps(example(flow))}."
        )
    if not text:
        raise InputProblem(f"Say what to do: `{command_for(flow['name'])} {field.upper()}`.")
    return {field: text}


def example(flow: dict[str, Any]) -> dict[str, Any]:
    examples = flow.get("examples") or [{}]
    return examples[0] if isinstance(examples[0], dict) else {}


def describe(flow: str, input_: dict[str, Any]) -> str:
    """The chat line that would have started this job (for jobs reopened from a link)."""
    if flow == "workflow" and isinstance(input_.get("input_data"), dict):
        return describe_run(input_)
    values = list(input_.values())
    if len(values) == 1 and isinstance(values[0], str):
        return f"{command_for(flow)} {values[0]}"
    return f"{command_for(flow)} {json.dumps(input_, ensure_ascii=False)}"


def describe_run(input_: dict[str, Any]) -> str:
    """A workflow's run as the person asked for it: its name and the inputs they gave (its
    job's input also holds the whole spec, which is no line to show)."""
    spec = input_.get("spec") if isinstance(input_.get("spec"), dict) else {}
    name = spec.get("name") or input_.get("workflow_id") or "a workflow"
    node = next((n for n in spec.get("nodes") or [] if n.get("type") == "input"), {})
    fields = (node.get("config") or {}).get("fields") or {}
    # What the person had to give first (a field without a default), as the form asks.
    items = sorted(input_["input_data"].items(), key=lambda kv: "default" in fields.get(kv[0], {}))
    given = [
        f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for key, value in items
    ]
    return f"Run “{name}”" + (" with " + " · ".join(given) if given else "")


def help_text(flows: list[dict[str, Any]]) -> str:
    lines = ["**What you can ask for**", ""]
    for flow in flows:
        field = text_field(flow)
        usage = f"{command_for(flow['name'])} {field.upper() if field else '{JSON}'}"
        lines.append(f"- `{usage}`: {flow.get('title') or flow['name']}")
    lines += [
        "",
        "Plain text uses the flow picked in the mode menu. Send a JSON object instead of "
        'text to set every input, e.g. `/article {"topic": "Tea", "review": true}`.',
    ]
    return "\n".join(lines)
