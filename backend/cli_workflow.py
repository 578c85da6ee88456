"""`genflow workflow generate "…"` and `genflow workflow run ID key=value…`.

Generate prints what a person needs to decide whether to run it: the steps in order,
where it came from (the model, a repair, a template), its estimated cost and time, the
placeholders to fill in and any warnings. Run starts it and follows it like `genflow run`;
`--reviewer NAME` (repeated), `--review-timeout SECONDS` and `--on-timeout ACTION` give
the job review terms, as `POST /api/jobs` takes them (docs/api.md, Reviews).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from backend.cli_follow import follow_job, refused
from backend.client import APIError, GenFlowClient
from flows.pilot.diagram import mermaid

SOURCES = {
    "model": "drafted by the model",
    "repaired": "drafted by the model, then repaired",
    "template": "adapted from a template (the model's drafts did not validate)",
    "hand": "written by hand",
}


def show(made: dict[str, Any], out: TextIO = sys.stdout, *, diagram: bool = False) -> None:
    spec, validation = made["workflow"], made["validation"]
    out.write(f"workflow {made['workflow_id']}: {spec['name']}\n")
    if spec.get("description"):
        out.write(f"  {spec['description']}\n")
    out.write(f"  {SOURCES.get(made['source'], made['source'])}\n")
    for node in spec["nodes"]:
        out.write(f"  - {node['id']} ({node['type']})\n")
    out.write(
        f"  estimated cost ${spec['estimated_cost']:.4f}, about {spec['execution_time']:.0f} s "
        f"with {spec.get('model', 'the model')} (not counting review time)\n"
    )
    for placeholder in validation.get("placeholders", []):
        out.write(
            f"  to fill in: {placeholder['node']}.{placeholder['field']}: "
            f"{placeholder['message']}\n"
        )
    for warning in validation.get("warnings", []):
        out.write(f"  warning: {warning['node']}: {warning['message']}\n")
    if diagram:
        out.write(mermaid(spec) + "\n")


async def generate(client: GenFlowClient, prompt: str, *, diagram: bool = False) -> int:
    print("generating… (the model drafts, the server validates)", file=sys.stderr)
    try:
        made = await client.generate_workflow(prompt)
    except APIError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    show(made, diagram=diagram)
    print(f"run it: genflow workflow run {made['workflow_id']} key=value…", file=sys.stderr)
    return 0


async def run(
    client: GenFlowClient, workflow_id: str, input_data: dict[str, Any], **terms: Any
) -> int:
    """Run the workflow and follow it; `terms` are the job's review terms (`reviewers`,
    `review_timeout`, `on_timeout`: `execute_workflow`'s)."""
    try:
        job = await client.execute_workflow(workflow_id, input_data, **terms)
    except APIError as exc:
        return refused(exc)
    print(f"job {job['id']} (workflow {workflow_id}) started", file=sys.stderr)
    return await follow_job(client, job)
