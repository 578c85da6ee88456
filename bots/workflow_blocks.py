"""Block Kit for `/workflow`'s one message: "Drafting…" while the model works, then the
workflow's summary (what it is, where it came from, its steps, estimated cost and time,
what to fill in, warnings) with *Run* and *Open in web*; or why there is none.

Pure functions; `workflow_bot.py` decides when to send them. Everything in a workflow was
written by a model or a person, so it is escaped: it can never ping anyone.
"""

from __future__ import annotations

import json
from typing import Any

from bots.blocks import Blocks, context, plain, section
from bots.markdown import escape, truncate
from bots.workflow_inputs import describe, input_fields

RUN_ACTION = "genflow_workflow_run"  # the Run button: opens the input form
OPEN_ACTION = "genflow_workflow_open"  # the Open in web link button (acked, nothing else)
SOURCES = {
    "model": "drafted by the model",
    "repaired": "drafted by the model, then repaired from its validation errors",
    "template": "adapted from a template (the model's drafts did not validate)",
    "hand": "written by hand",
}
MAX_STEPS = 30  # steps listed in the message; the web UI shows them all
Message = tuple[str, Blocks]


def drafting_message(prompt: str, user: str) -> Message:
    return (
        f"Drafting a workflow: “{escape(truncate(prompt, 80))}”",
        [
            section(f"*🧩 Drafting a workflow…*\n{_quote(prompt)}"),
            context(
                f"Requested by <@{user}> · the model is drafting it and GenFlow checks it; "
                "this message shows it when it is ready"
            ),
        ],
    )


def failed_message(prompt: str, user: str, why: str) -> Message:
    return (
        f"Could not draft a workflow: “{escape(truncate(prompt, 80))}”",
        [
            section(f"*🧩 No workflow drafted*\n{_quote(prompt)}"),
            section(truncate(why, 2900)),
            context(f"Requested by <@{user}> · try again with `/workflow WHAT IT SHOULD DO`"),
        ],
    )


def summary_message(made: dict[str, Any], user: str, web_url: str) -> Message:
    """The drafted (or stored) workflow, as `genflow workflow generate` shows it."""
    spec = made.get("workflow") or {}
    validation = made.get("validation") or {}
    workflow_id = str(made.get("workflow_id") or "")
    name = escape(truncate(str(spec.get("name") or "Untitled workflow"), 200))
    head = f"*🧩 Workflow:* {name}"
    if spec.get("description"):
        head += f"\n{escape(truncate(str(spec['description']), 600))}"
    source = SOURCES.get(str(made.get("source")), escape(str(made.get("source") or "stored")))
    blocks: Blocks = [
        section(head),
        context(f"Requested by <@{user}> · `{escape(workflow_id)}` · {source}"),
        section(_steps(spec.get("nodes") or [])),
    ]
    fields = input_fields(spec)
    takes = ", ".join(describe(f) for f in fields) if fields else "nothing"
    blocks.append(section(f"*Input:* {truncate(takes, 2900)}"))
    blocks.append(context(estimate(spec)))
    example = " ".join(f"{escape(f.name)}=…" for f in fields if f.required)
    command = f"/workflow run {escape(workflow_id)} {example}".rstrip()
    blocks.append(context(f"Or run it with `{command}`"))
    if validation.get("placeholders"):
        lines = [
            f"• {_where(p)}{escape(str(p.get('message')))}" for p in validation["placeholders"]
        ]
        blocks.append(section("*📝 To fill in before it can run*\n" + "\n".join(lines[:15])))
    if validation.get("warnings"):
        lines = [f"• {_where(w)}{escape(str(w.get('message')))}" for w in validation["warnings"]]
        blocks.append(section("*⚠️ Warnings*\n" + "\n".join(lines[:15])))
    blocks.append(workflow_actions(workflow_id, web_url))
    steps = len(spec.get("nodes") or [])
    return f"Workflow “{name}”: {steps} steps, {_cost(spec)}", blocks


def estimate(spec: dict[str, Any]) -> str:
    """`💰 about $0.0012 · ⏱️ about 8 s with gpt-4o-mini (review time not counted)`."""
    seconds = float(spec.get("execution_time") or 0)
    took = f"about {seconds:.0f} s" if seconds < 90 else f"about {seconds / 60:.0f} min"
    model = escape(str(spec.get("model") or "the model"))
    return f"💰 Estimated cost {_cost(spec)} · ⏱️ {took} with `{model}` (review time not counted)"


def workflow_actions(workflow_id: str, web_url: str) -> dict[str, Any]:
    value = json.dumps({"workflow": workflow_id})
    return {
        "type": "actions",
        "block_id": "workflow_actions",
        "elements": [
            {
                "type": "button",
                "action_id": RUN_ACTION,
                "text": plain("Run"),
                "style": "primary",
                "value": value,
            },
            {
                "type": "button",
                "action_id": OPEN_ACTION,
                "text": plain("Open in web"),
                "url": web_url,
                "value": value,
            },
        ],
    }


def _steps(nodes: list[dict[str, Any]]) -> str:
    lines = [
        f"{n}. `{escape(str(node.get('id')))}` ({escape(str(node.get('type')))})"
        for n, node in enumerate(nodes[:MAX_STEPS], 1)
    ]
    if len(nodes) > MAX_STEPS:
        lines.append(f"… and {len(nodes) - MAX_STEPS} more (all of them on the web)")
    return "*Steps*\n" + ("\n".join(lines) or "_none_")


def _cost(spec: dict[str, Any]) -> str:
    cost = float(spec.get("estimated_cost") or 0)
    if cost == 0:
        return "$0"  # a model without a price (the embedded one)
    if cost < 0.0001:
        return "under $0.0001"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def _where(problem: dict[str, Any]) -> str:
    node, field = problem.get("node"), problem.get("field")
    where = " ".join(
        f"`{escape(str(p))}`" if p == node else escape(str(p)) for p in (node, field) if p
    )
    return f"{where}: " if where else ""


def _quote(text: str) -> str:
    return "> " + escape(truncate(" ".join(text.split()), 500))
