"""What the bot says about workflows, in words: the usage of `/workflow`, why a draft or
a run did not happen, and what a 422 from executing one means.

A 422 lists its problems in `details`: `{field, message}` for the input (`input_data`,
`input_data.count`) and `{node, field, message}` for placeholders and validation errors.
Each becomes one line a person can act on.
"""

from __future__ import annotations

import re
from typing import Any

from backend.client import APIError, Unreachable
from bots import texts
from bots.markdown import escape, truncate
from bots.workflow_inputs import InputField, describe

USAGE = "\n".join(
    [
        "*`/workflow`* drafts a workflow from what you describe, and runs it:",
        "• `/workflow WHAT IT SHOULD DO` drafts one and shows its steps, estimated cost and"
        " time, with *Run* (a form for its inputs) and *Open in web*.",
        "• `/workflow run ID key=value …` runs a stored workflow (`wf_…`) with these inputs;"
        " a value is read as JSON when it parses, else as text"
        ' (`/workflow run wf_123 topic="green tea" count=3`).',
        "• `/workflow help` shows this.",
    ]
)
REQUIRED = re.compile(r"^'(.+)' is a required property$")


def problems(exc: APIError, fields: list[InputField] | None = None) -> str:
    """Why a workflow could not run, one line per problem; with the workflow's inputs
    when they are known, so the person sees what to type instead."""
    if exc.status != 422:
        return not_run(exc)
    lines = [f":warning: The workflow did not run: {escape(exc.message)}."]
    for detail in _details(exc.details):
        lines.append(f"• {_problem(detail)}")
    if fields is not None:
        takes = ", ".join(describe(f) for f in fields) or "no input"
        lines.append(f"It takes: {takes}.")
    return "\n".join(lines)


def not_run(exc: Exception) -> str:
    """A failure to run that is not about the input (GenFlow down, no such workflow…)."""
    if isinstance(exc, APIError) and not isinstance(exc, Unreachable) and exc.status == 404:
        return ":mag: There is no such workflow (or it is not yours to run)."
    return texts.api_error(exc, "run the workflow")


def not_drafted(exc: Exception) -> str:
    """Why `/workflow PROMPT` has no workflow to show."""
    if isinstance(exc, Unreachable) or not isinstance(exc, APIError):
        return texts.api_error(exc, "draft the workflow")
    if exc.status == 422:
        details = "; ".join(_problem(d) for d in _details(exc.details))
        return f":warning: GenFlow refused the request: {escape(exc.message)}" + (
            f" ({details})" if details else ""
        )
    if exc.status >= 500:
        return f":warning: The model could not draft a workflow: {escape(exc.message)}"
    return texts.api_error(exc, "draft the workflow")


def placeholders(found: list[dict[str, Any]], url: str) -> str:
    """A workflow that still has values only a person can supply cannot run yet."""
    lines = [":pencil: This workflow has values to fill in before it can run:"]
    lines += [f"• {_problem(p)}" for p in found[:10]]
    lines.append(f"Fill them in on the web (<{url}|open it>), then run it.")
    return "\n".join(lines)


def _problem(detail: dict[str, Any]) -> str:
    field = str(detail.get("field") or "")
    message = escape(truncate(str(detail.get("message") or ""), 300))
    node = detail.get("node")
    if node:
        where = f"`{escape(str(node))}`" + (f" {escape(field)}" if field else "")
        return f"{where}: {message}"
    name = field.removeprefix("input_data").lstrip(".")
    required = REQUIRED.match(str(detail.get("message") or ""))
    if required and not name:
        return f"`{escape(required.group(1))}` is required"
    return f"`{escape(name)}`: {message}" if name else message


def _details(details: Any) -> list[dict[str, Any]]:
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
