"""Liveness with store and queue status, and Prometheus metrics. No auth."""

from __future__ import annotations

from quart import Blueprint, Response

from backend.services import services

blueprint = Blueprint("health", __name__)


@blueprint.get("/api/health")
async def health() -> tuple[dict, int]:
    parts = services()
    store_ok, store_error = True, None
    try:
        await parts.store.ping()
        if parts.store.failing:  # reads work, writes fail (a full disk, say)
            store_ok, store_error = False, "writes failing"
    except Exception as exc:  # report, never raise: this is what monitors poll
        store_ok, store_error = False, type(exc).__name__
    bus = parts.bus.status()
    healthy = store_ok and bus.get("connected", True)
    body = {
        "status": "ok" if healthy else "degraded",
        "store": {
            "ok": store_ok,
            "backend": "sqlite" if parts.store.is_sqlite else "postgresql",
            "error": store_error,
        },
        "queue": parts.queue.status(),
        "bus": bus,
        "llm": parts.runner.llm_backend.name,
        "images": parts.runner.image_backend.name,
    }
    return body, 200 if store_ok else 503


@blueprint.get("/metrics")
async def metrics() -> Response:
    parts = services()
    parts.metrics.followers.set(parts.bus.follower_count())
    body = parts.metrics.render(await parts.store.count_by_status())
    return Response(body, content_type="text/plain; version=0.0.4; charset=utf-8")
