"""The OpenAPI 3.1 document of the API, and a docs page that renders it."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from backend.api import schemas, sessions
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
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
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
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CreateJob"}
                            }
                        },
                    },
                    "responses": _responses("201", 400, 401, 413, 422, 429),
                },
                "get": {
                    "summary": "The caller's jobs, newest first",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string"}},
                        {"name": "flow", "in": "query", "schema": {"type": "string"}},
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
            "/api/jobs/{job_id}": _item_path("A job"),
            "/api/jobs/{job_id}/events": _item_path(
                "Events: SSE (Accept: text/event-stream) or a JSON list", 422
            ),
            "/api/jobs/{job_id}/review": _item_path(
                "Decide the open review",
                400,
                409,
                422,
                body={"$ref": "#/components/schemas/Decision"},
                method="post",
            ),
            "/api/jobs/{job_id}/cancel": _item_path("Cancel a job", 409, method="post"),
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
