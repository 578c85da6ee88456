"""The OpenAPI 3.1 document of the API, and a docs page that renders it."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from backend.api import accounts, knowledge, schemas, sessions, workflows
from backend.services import services

blueprint = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(ok: str, *statuses: int) -> dict[str, Any]:
    out: dict[str, Any] = {ok: {"description": "OK"}}
    for status in statuses:
        out[str(status)] = {
            "description": "error",
            "content": {"application/json": {"schema": ERROR}},
        }
    return out


def _item_path(
    summary: str,
    *statuses: int,
    body: dict[str, Any] | None = None,
    method: str = "get",
    param: str = "job_id",
    ok: str = "200",
) -> dict[str, Any]:
    """One operation on one job, artifact or session (`param` names its path id)."""
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [
            {"name": param, "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": _responses(ok, 401, 404, *statuses),
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return {method: operation}


def _session_path(summary: str, *statuses: int, **options: Any) -> dict[str, Any]:
    return _item_path(summary, 410, *statuses, param="session_id", **options)


def _knowledge_path(summary: str, *statuses: int, **options: Any) -> dict[str, Any]:
    return _item_path(summary, *statuses, param="kb_id", **options)


def _knowledge_paths() -> dict[str, Any]:
    """Knowledge bases: documents as JSON or as multipart file uploads."""
    upload = _knowledge_path(
        "Add documents (JSON {name, text} or multipart files): 201 with chunk counts",
        400,
        413,
        415,
        422,
        body={"$ref": "#/components/schemas/KnowledgeDocument"},
        method="post",
        ok="201",
    )
    upload["post"]["requestBody"]["content"]["multipart/form-data"] = {
        "schema": {
            "type": "object",
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "name": {"type": "string", "description": "the document's name (one file)"},
            },
            "required": ["file"],
        }
    }
    search = _knowledge_path("Search a knowledge base: the best chunks, best first", 422)
    search["get"]["parameters"] += [
        {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
        {
            "name": "top_k",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": knowledge.MAX_TOP_K},
        },
    ]
    return {
        "/api/knowledge": {
            "post": {
                "summary": "Create a knowledge base, optionally with documents",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/CreateKnowledgeBase"}
                        }
                    },
                },
                "responses": _responses("201", 400, 401, 409, 413, 422),
            },
            "get": {"summary": "The caller's knowledge bases", "responses": _responses("200", 401)},
        },
        "/api/knowledge/{kb_id}": {
            **_knowledge_path("A knowledge base and its documents"),
            **_knowledge_path("Delete a knowledge base", method="delete", ok="204"),
        },
        "/api/knowledge/{kb_id}/documents": upload,
        "/api/knowledge/{kb_id}/search": search,
    }


def _workflow_path(summary: str, *statuses: int, **options: Any) -> dict[str, Any]:
    return _item_path(summary, *statuses, param="workflow_id", **options)


def _workflow_paths() -> dict[str, Any]:
    """Pilot workflows (docs/pilot.md): a spec is the body, or JSON/YAML under `workflow`."""
    spec = {"$ref": "#/components/schemas/WorkflowBody"}
    listing = {
        "summary": "The caller's workflows, newest first",
        "responses": _responses("200", 401, 422),
    }
    return {
        "/api/workflows": {
            "post": {
                "summary": "Store a workflow spec (validated: 422 names node and field)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": spec}},
                },
                "responses": _responses("201", 400, 401, 413, 422),
            },
            "get": listing,
        },
        "/api/workflows/generate": {
            "post": {
                "summary": "Generate a workflow from a request (always valid)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/GenerateWorkflow"}
                        }
                    },
                },
                "responses": _responses("201", 400, 401, 413, 422, 429, 502),
            }
        },
        "/api/workflows/templates": {
            "get": {"summary": "Workflow templates", "responses": _responses("200", 401)}
        },
        "/api/workflows/tools": {
            "get": {"summary": "Tools a tool node may call", "responses": _responses("200", 401)}
        },
        "/api/workflows/{workflow_id}": {
            **_workflow_path(
                "A workflow with its estimates and `review_options` (its review nodes' "
                "options; empty: a run takes no review terms)"
            ),
            **_workflow_path(
                "Replace the spec (the next version)", 400, 409, 413, 422, body=spec, method="put"
            ),
            **_workflow_path("Delete a workflow", method="delete", ok="204"),
        },
        "/api/workflows/{workflow_id}/execute": _workflow_path(
            "Run the workflow: 201 with its job (review terms as for POST /api/jobs: "
            "reviewers, review_timeout, on_timeout, for its review nodes)",
            400,
            413,
            422,
            429,
            body={"$ref": "#/components/schemas/ExecuteWorkflow"},
            method="post",
            ok="201",
        ),
        "/api/workflows/{workflow_id}/executions": _workflow_path(
            "Executions with per-node logs", 422
        ),
        "/api/workflows/{workflow_id}/stats": _workflow_path("Per-node and per-workflow figures"),
    }


def _auth_paths() -> dict[str, Any]:
    """Log in for a token; the caller; tokens listed and revoked (docs/api.md, Auth)."""
    listing = {
        "summary": "The caller's tokens, newest first (admins: everyone's, or ?principal=)",
        "parameters": [
            {"name": "principal", "in": "query", "schema": {"type": "string"}},
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 200},
            },
            {"name": "cursor", "in": "query", "schema": {"type": "string"}},
        ],
        "responses": _responses("200", 401, 422),
    }
    return {
        "/api/auth/login": {
            "post": {
                "summary": "Log in: a token for the account (401 for a wrong name or password)",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Login"}}
                    },
                },
                "responses": _responses("200", 400, 401, 413, 422, 429),
            }
        },
        "/api/auth/me": {
            "get": {"summary": "Who the token is for", "responses": _responses("200", 401)}
        },
        "/api/auth/tokens": {"get": listing},
        "/api/auth/tokens/{token_id}": _item_path(
            "Revoke a token (yours, or any as admin): refused everywhere from now on",
            method="delete",
            param="token_id",
            ok="204",
        ),
    }


def document() -> dict[str, Any]:
    flows = services().flows
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "GenFlow API",
            "version": "0.1.0",
            "description": "Durable LLM workflows with live progress and human review.",
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An admin token may add `X-GenFlow-On-Behalf-Of: "
                    "slack:<team>:<user>` to any request to act for that Slack user (their "
                    "jobs, their rate limit, their right to decide); docs/api.md.",
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {},
                            },
                        }
                    },
                },
                "CreateJob": schemas.CREATE_JOB,
                "Decision": schemas.DECISION,
                "CreateSession": sessions.CREATE,
                "SessionAction": sessions.ACT,
                "WorkflowBody": workflows.SPEC_BODY,
                "GenerateWorkflow": workflows.GENERATE,
                "ExecuteWorkflow": workflows.EXECUTE,
                "CreateKnowledgeBase": knowledge.CREATE,
                "KnowledgeDocument": knowledge.DOCUMENT,
                "Login": accounts.LOGIN,
                **{f"Input_{name}": spec.input_schema for name, spec in flows.items()},
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/health": {
                "get": {
                    "summary": "Liveness, store and queue status",
                    "security": [],
                    "responses": _responses("200", 503),
                }
            },
            "/api/flows": {
                "get": {"summary": "Registered flows", "responses": _responses("200", 401)}
            },
            "/api/jobs": {
                "post": {
                    "summary": "Create and start a job",
                    "description": (
                        "201 with the job; with `Accept: text/event-stream`, 201 with its "
                        "event stream instead (as `GET /api/jobs/{job_id}/events` sends it, "
                        "from `job.created`), to start and follow it in one request"
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CreateJob"}
                            }
                        },
                    },
                    "responses": _responses("201", 400, 401, 403, 413, 422, 429),
                },
                "get": {
                    "summary": "The caller's jobs, newest first",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string"}},
                        {"name": "flow", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "assigned",
                            "in": "query",
                            "description": "`me`: jobs whose reviews the caller is assigned",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": _responses("200", 401, 422),
                },
            },
            "/api/jobs/{job_id}": _item_path(
                "A job (its owner's, an admin's, its assignees'), with `may_cancel`: whether "
                "the caller may cancel it, and `may_decide`: whether the caller may decide "
                "its open review (false when none is open)"
            ),
            "/api/jobs/{job_id}/reviews": _item_path(
                "The review audit: every request and decision (who, via, when, payload hash, "
                "edits and diff, reminder, timeout)"
            ),
            "/api/jobs/{job_id}/events": _item_path(
                "Events: SSE (Accept: text/event-stream) or a JSON list", 422
            ),
            "/api/jobs/{job_id}/review": _item_path(
                "Decide the open review (owner, admins, the review's assignees; 403 for "
                "others who can see the job)",
                400,
                403,
                409,
                422,
                body={"$ref": "#/components/schemas/Decision"},
                method="post",
            ),
            "/api/jobs/{job_id}/cancel": _item_path(
                "Cancel a job (owner and admins)", 403, 409, method="post"
            ),
            "/api/artifacts/{artifact_id}": {
                "get": {
                    "summary": "An artifact's bytes (or ?meta=1 for its metadata)",
                    "parameters": [
                        {
                            "name": "artifact_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": _responses("200", 401, 404),
                }
            },
            "/api/genflow/sessions": {
                "post": {
                    "summary": "Start a GenFlow session (an article in stages)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CreateSession"}
                            }
                        },
                    },
                    "responses": _responses("201", 400, 401, 413, 422),
                },
                "get": {
                    "summary": "The caller's sessions, newest first",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": _responses("200", 401, 422),
                },
            },
            "/api/genflow/sessions/{session_id}": {
                **_session_path("A session: progress, available actions, document"),
                **_session_path("Delete a session", method="delete", ok="204"),
            },
            "/api/genflow/sessions/{session_id}/actions": _session_path(
                "Act: 202 for a model action (a job), 200 for a change",
                400,
                409,
                413,
                422,
                429,
                body={"$ref": "#/components/schemas/SessionAction"},
                method="post",
            ),
            **_knowledge_paths(),
            **_workflow_paths(),
            **_auth_paths(),
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "security": [],
                    "responses": _responses("200"),
                }
            },
        },
    }


@blueprint.get("/api/openapi.json")
async def openapi_json() -> dict:
    return document()


DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>GenFlow API</title></head>
<body>
<redoc spec-url="/api/openapi.json"></redoc>
<noscript>The API document is at <a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
<script src="https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"></script>
</body></html>
"""


@blueprint.get("/api/docs")
async def docs_page() -> Response:
    return Response(DOCS_PAGE, content_type="text/html; charset=utf-8")
