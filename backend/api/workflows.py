"""Pilot workflows over REST: store, edit, run and measure workflow specs.

A spec is sent as the body itself (`{name, nodes, connections, …}`) or under `workflow`,
where it may also be YAML or JSON text. Invalid specs get 422 with every problem, each
naming the node and the field.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from backend.api import jobs
from backend.api.common import int_arg, json_body, principal
from backend.reviews import terms
from backend.services import services
from backend.workflows.model import Workflow
from flows.pilot.library import TEMPLATES
from flows.pilot.tools import TOOLS

blueprint = Blueprint("workflows", __name__)

SPEC_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {"workflow": {"type": ["object", "string"], "maxLength": 200_000}},
}
GENERATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 3, "maxLength": 4000},
        "user_preferences": {
            "type": "object",
            "properties": {
                "complexity": {"enum": ["simple", "moderate", "complex"]},
                "integrations": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": 100},
                    "maxItems": 10,
                },
            },
            "additionalProperties": False,
        },
        "wait": {"type": "boolean", "default": True},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}
EXECUTE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "input_data": {"type": "object"},
        **terms.SCHEMA,  # reviewers, review_timeout, on_timeout: as POST /api/jobs
    },
    "additionalProperties": False,
}


def _spec_source(body: dict[str, Any]) -> Any:
    return body["workflow"] if "workflow" in body and "nodes" not in body else body


def _summary(workflow: Workflow) -> dict[str, Any]:
    return {
        "workflow_id": workflow.id,
        "name": workflow.name,
        "description": workflow.description,
        "version": workflow.version,
        "source": workflow.source,
        "nodes": len(workflow.spec.get("nodes", [])),
        "valid": workflow.validation.get("valid", True),
        "updated_at": workflow.to_json()["updated_at"],
    }


@blueprint.post("/api/workflows")
async def create_workflow() -> tuple[dict, int, dict]:
    body = await json_body(SPEC_BODY)
    parts = services()
    workflow = await parts.workflows.create(principal(), _spec_source(body))
    return parts.workflows.describe(workflow), 201, {"Location": f"/api/workflows/{workflow.id}"}


@blueprint.post("/api/workflows/generate")
async def generate() -> tuple[dict, int, dict]:
    body = await json_body(GENERATE)
    parts = services()
    workflow, job = await parts.workflows.generate(
        principal(), body["prompt"], body.get("user_preferences"), wait=body.get("wait", True)
    )
    if workflow is None:  # not waiting: follow the job; the workflow is stored when it ends
        accepted = {"workflow_id": job.workflow_id, "job_id": job.id, "status": "generating"}
        return accepted, 202, {"Location": f"/api/jobs/{job.id}"}
    shown = parts.workflows.describe(workflow)
    shown["job_id"] = job.id
    return shown, 201, {"Location": f"/api/workflows/{workflow.id}"}


@blueprint.get("/api/workflows")
async def list_workflows() -> dict:
    limit = int_arg("limit", 20, low=1, high=100)
    found = await services().workflows.list(
        principal(), limit=limit, before=request.args.get("cursor") or None
    )
    return {
        "workflows": [_summary(w) for w in found],
        "next_cursor": found[-1].id if len(found) == limit else None,
    }


@blueprint.get("/api/workflows/templates")
async def templates() -> dict:
    principal()
    return {"templates": [template.to_json() for template in TEMPLATES.values()]}


@blueprint.get("/api/workflows/tools")
async def tools() -> dict:
    principal()
    return {"tools": [tool.to_json() for tool in TOOLS.values()]}


@blueprint.get("/api/workflows/<workflow_id>")
async def get_workflow(workflow_id: str) -> dict:
    parts = services()
    return parts.workflows.describe(await parts.workflows.get(workflow_id, principal()))


@blueprint.put("/api/workflows/<workflow_id>")
async def put_workflow(workflow_id: str) -> dict:
    body = await json_body(SPEC_BODY)
    parts = services()
    workflow = await parts.workflows.update(workflow_id, principal(), _spec_source(body))
    return parts.workflows.describe(workflow)


@blueprint.delete("/api/workflows/<workflow_id>")
async def delete_workflow(workflow_id: str) -> tuple[str, int]:
    await services().workflows.delete(workflow_id, principal())
    return "", 204


@blueprint.post("/api/workflows/<workflow_id>/execute")
async def execute(workflow_id: str) -> tuple[dict, int, dict]:
    body = await json_body(EXECUTE)
    caller = principal()
    job = await services().workflows.execute(
        workflow_id,
        caller,
        body.get("input_data") or {},
        reviewers=body.get("reviewers"),
        review_timeout=body.get("review_timeout"),
        on_timeout=body.get("on_timeout"),
    )
    return jobs.shown(job, caller), 201, {"Location": f"/api/jobs/{job.id}"}


@blueprint.get("/api/workflows/<workflow_id>/executions")
async def executions(workflow_id: str) -> dict:
    limit = int_arg("limit", 20, low=1, high=100)
    caller = principal()
    found = await services().workflows.executions(
        workflow_id, caller, limit=limit, before=request.args.get("cursor") or None
    )
    return {
        "executions": [{**run, "job": jobs.shown(run["job"], caller)} for run in found],
        "next_cursor": found[-1]["job"].id if len(found) == limit else None,
    }


@blueprint.get("/api/workflows/<workflow_id>/stats")
async def stats(workflow_id: str) -> dict:
    return await services().workflows.stats(workflow_id, principal())
