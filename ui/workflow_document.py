"""A workflow as a person reads it before running it: what it is and where it came from,
its diagram, what it costs, what to fill in, and why a save was refused.

Markdown for Gradio's `gr.Markdown`, which draws a ```mermaid block as a diagram (an
SVG). The flowchart itself is `backend.client.mermaid`, the one the CLI prints. Pure
functions, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from backend.client import mermaid
from ui.workflow_view import WorkflowTab

SOURCES = {
    "model": "drafted by the model",
    "repaired": "drafted by the model, then repaired from its validation errors",
    "template": "adapted from a template (the model's drafts did not validate)",
    "hand": "written by hand",
    "edited": "edited by hand (first drafted or adapted from a template)",
}
EMPTY = (
    "**No workflow yet.** Describe what you want and *Generate*, pick a template, or open "
    "one of *Your workflows*. Its steps are drawn here, with its estimated cost and time; "
    "its spec goes in the editor, where you can also write one by hand (JSON or YAML) and "
    "*Save* it."
)


def code(text: Any) -> str:
    """Inline code that stays inline whatever the text holds."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def problem_line(problem: dict[str, Any]) -> str:
    """`node `x`, config.prompt: message`: where, then what is wrong and how to fix it."""
    where = [f"node {code(problem['node'])}"] if problem.get("node") else []
    if problem.get("field"):
        where.append(str(problem["field"]))
    message = str(problem.get("message") or "").strip()
    return f"{', '.join(where)}: {message}" if where else message


def problems_markdown(problems: list[dict[str, Any]], heading: str) -> str:
    if not problems:
        return ""
    return f"**{heading}**\n\n" + "\n".join(f"- {problem_line(p)}" for p in problems)


def errors_markdown(errors: list[dict[str, Any]]) -> str:
    """Why the editor's spec was not saved (a 422's details), next to the editor."""
    return problems_markdown(errors, "⚠ Not saved: the workflow is not valid")


def figures_line(workflow: dict[str, Any]) -> str:
    """Its estimated cost and time: computed by the server from the price table and the
    graph's critical path, not asked of the model."""
    cost, seconds = workflow.get("estimated_cost"), workflow.get("execution_time")
    if cost is None or seconds is None:
        return ""
    model = workflow.get("model") or "the model"
    return (
        f"**Estimated cost** ${float(cost):.4f} · **time** about {float(seconds):.0f} s "
        f"with {code(model)} (review time not counted)"
    )


def summary_markdown(tab: WorkflowTab) -> str:
    """Its name, description, origin, figures, placeholders and warnings."""
    spec = tab.spec
    if spec is None:
        return EMPTY
    lines = [f"### {spec.get('name') or 'Untitled workflow'}"]
    if spec.get("description"):
        lines.append(str(spec["description"]))
    made = tab.made
    if made is None:
        lines.append(
            f"Adapted from the template *{tab.template}* · **not saved yet**: Save it to "
            "run it and see its estimated cost."
        )
        return "\n\n".join(lines)
    origin = SOURCES.get(str(made.get("source")), str(made.get("source") or ""))
    steps = len(spec.get("nodes") or [])
    lines.append(
        f"{origin[:1].upper()}{origin[1:]} · {steps} steps · version {made.get('version', 1)} "
        f"· {code(made['workflow_id'])}"
    )
    if figures := figures_line(made.get("workflow") or {}):
        lines.append(figures)
    validation = made.get("validation") or {}
    lines += [
        text
        for text in (
            problems_markdown(validation.get("placeholders") or [], "To fill in before running"),
            problems_markdown(validation.get("warnings") or [], "Warnings"),
        )
        if text
    ]
    return "\n\n".join(lines)


def diagram_markdown(spec: dict[str, Any] | None) -> str:
    """The workflow as a flowchart, drawn by the page (Mermaid)."""
    if not spec or not spec.get("nodes"):
        return ""
    return f"```mermaid\n{mermaid(spec)}\n```"


def editor_text(spec: dict[str, Any] | None) -> str:
    """The spec for the editor: JSON, indented (YAML typed there is accepted too)."""
    return json.dumps(spec, indent=2, ensure_ascii=False) if spec else ""
