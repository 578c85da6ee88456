"""`create_app(settings, ...)`: the Quart app with every part passed in explicitly.

Tests build apps with a scripted LLM and a temporary data dir; `genflow serve` builds
one from the environment. Nothing is read from module globals.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Quart, Response, jsonify
from werkzeug.exceptions import HTTPException

from backend.api import artifacts, events, flows, health, jobs, openapi
from backend.auth import ensure_admin_token, load_secret
from backend.errors import GenFlowError, RateLimited
from backend.metrics import Metrics
from backend.ratelimit import RateLimiter
from backend.runtime.bus import LocalBus
from backend.runtime.jobs import JobService
from backend.runtime.queue import LocalQueue
from backend.runtime.runner import Runner
from backend.services import Services
from backend.settings import Settings
from backend.store.base import Store
from backend.store.sqlalchemy import SQLStore
from flows import images, llm
from flows.images import ImageBackend
from flows.llm import LLMBackend
from flows.registry import FlowSpec, default_flows

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    llm_backend: LLMBackend | None = None,
    image_backend: ImageBackend | None = None,
    flow_specs: dict[str, FlowSpec] | None = None,
) -> Quart:
    if settings.queue != "local":
        raise ValueError(f"GENFLOW_QUEUE={settings.queue!r} is not available yet; use 'local'")
    app = Quart("genflow")
    app.config.update(
        RESPONSE_TIMEOUT=None,  # SSE streams live as long as the job
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    store = store or SQLStore(settings.resolved_database_url)
    bus = LocalBus()
    metrics = Metrics()
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    flow_specs = flow_specs if flow_specs is not None else default_flows()
    runner = Runner(
        store=store,
        bus=bus,
        flows=flow_specs,
        llm_backend=llm_backend
        or llm.make_backend(
            settings.llm,
            model=settings.model,
            timeout=settings.llm_timeout,
            script=settings.llm_script,
        ),
        image_backend=image_backend
        or images.make_backend(
            settings.image_backend, model=settings.image_model, timeout=settings.llm_timeout
        ),
        settings=settings,
        metrics=metrics,
    )
    queue = LocalQueue(runner.run, max_concurrent=settings.max_concurrent_jobs)
    parts = Services(
        settings=settings,
        store=store,
        bus=bus,
        queue=queue,
        runner=runner,
        jobs=JobService(
            store=store,
            bus=bus,
            queue=queue,
            flows=flow_specs,
            settings=settings,
            metrics=metrics,
            limiter=limiter,
        ),
        flows=flow_specs,
        metrics=metrics,
    )
    app.extensions["genflow"] = parts

    for module in (health, flows, jobs, events, artifacts, openapi):
        app.register_blueprint(module.blueprint)
    _register_error_handlers(app)

    @app.before_serving
    async def start() -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        parts.secret = load_secret(settings)
        parts.admin_token = ensure_admin_token(settings, parts.secret)
        await store.initialize()
        resumed = await parts.jobs.recover()
        if resumed:
            log.info("resuming %d interrupted job(s)", len(resumed))

    @app.after_serving
    async def stop() -> None:
        await queue.close()
        await store.close()

    return app


def _error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _register_error_handlers(app: Quart) -> None:
    @app.errorhandler(GenFlowError)
    async def genflow_error(exc: GenFlowError) -> Response:
        headers = (
            {"Retry-After": str(max(1, round(exc.retry_after)))}
            if isinstance(exc, RateLimited)
            else None
        )
        return _error(exc.status, exc.to_json(), headers)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 413:
            message = "the request body is too large"
        code = HTTP_CODES.get(status, "http_error")
        valid_methods = getattr(exc, "valid_methods", None)  # 405 must say what is allowed
        headers = {"Allow": ", ".join(valid_methods)} if valid_methods else None
        return _error(status, {"error": {"code": code, "message": message}}, headers)

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return _error(500, {"error": {"code": "internal", "message": "internal server error"}})
