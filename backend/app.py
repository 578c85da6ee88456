"""`create_app(settings, ...)`: the Quart app with every part passed in explicitly.

Tests build apps with a scripted LLM and a temporary data dir; `genflow serve` builds
one from the environment. Nothing is read from module globals.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from quart import Quart, Response, jsonify
from werkzeug.exceptions import HTTPException

from backend.api import (
    accounts,
    artifacts,
    events,
    flows,
    health,
    jobs,
    knowledge,
    openapi,
    session_realtime,
    sessions,
    workflows,
)
from backend.api.common import check_token
from backend.assembly import build_services
from backend.auth import load_secret
from backend.data_dir import prepare as prepare_data_dir
from backend.errors import GenFlowError, RateLimited
from backend.reviews.deadlines import sweep_forever
from backend.services import Services
from backend.settings import Settings
from backend.store.base import Store
from flows.images import ImageBackend
from flows.llm import LLMBackend
from flows.registry import FlowSpec

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
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
    settings.check()
    app = Quart("genflow")
    app.config.update(
        RESPONSE_TIMEOUT=None,  # SSE streams live as long as the job
        # The largest body any route takes (a knowledge upload); `json_body` holds every
        # other route to GENFLOW_MAX_BODY_BYTES.
        MAX_CONTENT_LENGTH=max(settings.max_body_bytes, settings.max_upload_bytes),
        JSON_SORT_KEYS=False,
    )
    parts = build_services(
        settings,
        store=store,
        llm_backend=llm_backend,
        image_backend=image_backend,
        flow_specs=flow_specs,
    )
    app.extensions["genflow"] = parts

    for module in (
        health,
        flows,
        jobs,
        events,
        artifacts,
        sessions,
        session_realtime,
        workflows,
        knowledge,
        accounts,
        openapi,
    ):
        app.register_blueprint(module.blueprint)
    app.before_request(check_token)
    app.before_websocket(check_token)
    _register_error_handlers(app)

    @app.before_serving
    async def start() -> None:
        prepare_data_dir(settings)  # 0700, and 0600 files (tightened if looser)
        parts.secret = load_secret(settings)
        await parts.store.initialize()
        await parts.tokens.start(parts.secret)
        await parts.accounts.ensure_first_admin()  # `admin`, password in admin.password
        parts.admin_token = await parts.tokens.ensure_admin_file(settings.admin_token_path)
        await parts.bus.start()
        await parts.queue.start()
        background = [asyncio.create_task(_sweep_sessions(parts))]
        if parts.queue.name == "local":  # with workers, these are their periodic tasks
            resumed = await parts.jobs.recover()
            if resumed:
                log.info("resuming %d interrupted job(s)", len(resumed))
            every = settings.review_sweep_seconds  # sweeps at once: deadlines passed while down
            background.append(asyncio.create_task(sweep_forever(parts.deadlines, every)))
        app.extensions["genflow_background"] = background

    @app.after_serving
    async def stop() -> None:
        for task in app.extensions["genflow_background"]:
            task.cancel()
        await parts.queue.close()
        await parts.jobs.limiter.aclose()
        await parts.accounts.aclose()
        await parts.tokens.aclose()
        await parts.bus.aclose()
        await parts.store.close()

    return app


SWEEP_SECONDS = 60.0


async def _sweep_sessions(parts: Services) -> None:
    """Expired GenFlow sessions lose their working state (SessionService.sweep)."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            swept = await parts.sessions.sweep()
        except GenFlowError:  # the store is down: next time
            continue
        if swept:
            log.info("cleared %d expired session(s)", swept)


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
