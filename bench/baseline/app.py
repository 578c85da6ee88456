"""The seed's web service on Quart: start a job, stream its progress, answer a review."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from quart import Quart, Response, request

from bench.baseline.nodes import article_flow, review_flow

HEARTBEAT = 1.0  # the seed sent a heartbeat message after 1 s without progress


def create_baseline_app(latency: float, threads: int) -> Quart:
    app = Quart("baseline")
    jobs: dict[str, dict[str, Any]] = {}  # job id -> shared store (queue, event, ...)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="job")
    tasks: set[asyncio.Task[Any]] = set()

    def run_article(shared: dict[str, Any]) -> None:
        try:
            article_flow().run(shared)
        except Exception as exc:
            shared["loop"].call_soon_threadsafe(
                shared["queue"].put_nowait, {"step": "error", "data": {"error": str(exc)}}
            )

    @app.get("/health")
    async def health() -> dict[str, Any]:
        waiting = sum(1 for shared in jobs.values() if shared.get("waiting"))
        return {"ok": True, "jobs": len(jobs), "waiting": waiting}

    @app.post("/start-job")
    async def start_job() -> dict[str, Any]:
        body = await request.get_json()
        job_id = str(uuid.uuid4())
        shared = {
            "topic": body["topic"],
            "queue": asyncio.Queue(),
            "latency": latency,
            "loop": asyncio.get_running_loop(),
        }
        jobs[job_id] = shared
        asyncio.get_running_loop().run_in_executor(pool, run_article, shared)
        return {"job_id": job_id, "status": "started"}

    @app.post("/submit")
    async def submit() -> dict[str, Any]:
        body = await request.get_json()
        job_id = str(uuid.uuid4())
        shared = {"task": body["task"], "queue": asyncio.Queue(), "event": asyncio.Event()}
        jobs[job_id] = shared
        task = asyncio.create_task(review_flow(latency).run_async(shared))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return {"job_id": job_id, "status": "started"}

    @app.post("/feedback/<job_id>")
    async def feedback(job_id: str) -> tuple[dict[str, Any], int]:
        shared = jobs.get(job_id)
        if shared is None:
            return {"error": "job not found"}, 404
        shared["decision"] = (await request.get_json())["decision"]
        shared["event"].set()
        return {"ok": True}, 200

    @app.get("/progress/<job_id>")
    async def progress(job_id: str) -> Response:
        async def stream() -> AsyncIterator[bytes]:
            shared = jobs.get(job_id)
            if shared is None:
                yield b'data: {"error": "Job not found"}\n\n'
                return
            yield b'data: {"step": "connected", "progress": 0}\n\n'
            while True:
                try:
                    message = await asyncio.wait_for(shared["queue"].get(), HEARTBEAT)
                except TimeoutError:
                    yield b'data: {"heartbeat": true}\n\n'
                    continue
                yield f"data: {json.dumps(message)}\n\n".encode()
                if message.get("step") in ("complete", "error"):
                    jobs.pop(job_id, None)
                    return

        response = Response(
            stream(), content_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
        response.timeout = None
        return response

    return app
