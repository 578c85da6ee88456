"""The durable runner: walks a job's PocketFlow graph node by node.

After every node the shared store and the name of the next node are saved together with
`node.finished` in one transaction. A review gate parks the job (status
`waiting_for_review`, the request stored) and the task ENDS; a decision re-enqueues the
job, and the gate's `post_async` turns the decision into the next action. Every write is
conditional on the job still being `running`, so a cancelled job's task cannot write on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from pocketflow import BaseNode

from backend.domain import Checkpoint, Job, JobStatus, Review, utcnow
from backend.events import EventType, NewEvent
from backend.ids import new_id
from backend.metrics import Metrics
from backend.runtime.bus import EventBus
from backend.runtime.context import NodeContext
from backend.runtime.execute import execute_node
from backend.runtime.graph import FlowChanged, Graph
from backend.runtime.writer import EventWriter
from backend.settings import Settings
from backend.store.base import JobUpdate, Store
from flows import context, images, llm
from flows.gate import HumanReview
from flows.images import ImageBackend
from flows.llm import LLMBackend
from flows.registry import FlowSpec

log = logging.getLogger(__name__)
RUNNING = {JobStatus.RUNNING}


class SharedNotJSON(TypeError):
    """A node put something into the shared store that cannot be checkpointed."""


class _Stopped(Exception):
    """The job left `running` under us (cancelled); stop without writing."""


class _BatchItems:
    def __init__(
        self, runner: Runner, job_id: str, key: str, writer: EventWriter, span: tuple[int, int]
    ):
        self.runner, self.job_id, self.key, self.writer = runner, job_id, key, writer
        self.span = span

    async def load(self) -> dict[int, Any]:
        return await self.runner.store.batch_items(self.job_id, self.key)

    async def save(self, index: int, value: Any) -> None:
        await self.runner.store.save_batch_item(self.job_id, self.key, index, value)

    def item_done(self, done: int, total: int) -> None:
        low, high = self.span
        self.writer.progress = low + (high - low) * done // max(1, total)


class Runner:
    def __init__(
        self,
        *,
        store: Store,
        bus: EventBus,
        flows: Mapping[str, FlowSpec],
        llm_backend: LLMBackend,
        image_backend: ImageBackend,
        settings: Settings,
        metrics: Metrics,
    ) -> None:
        self.store, self.bus, self.flows = store, bus, flows
        self.llm_backend, self.image_backend = llm_backend, image_backend
        self.settings, self.metrics = settings, metrics

    async def run(self, job_id: str) -> None:
        """Run (or resume) a job until it finishes, fails, parks at a gate, or is cancelled."""
        job = await self.store.get_job(job_id)
        if job is None or job.status not in (JobStatus.PENDING, JobStatus.RUNNING):
            return
        try:
            claimed = await self._save(
                job.id,
                JobUpdate(status=JobStatus.RUNNING, start_attempt=True),
                [NewEvent(EventType.JOB_STARTED, {"attempt": job.attempts + 1})],
                expect={JobStatus.PENDING, JobStatus.RUNNING},
            )
        except _Stopped:
            return  # cancelled (or decided elsewhere) between the read and the claim
        writer = EventWriter(
            self.store,
            self.bus,
            job.id,
            last_seq=claimed.last_seq,
            max_events=self.settings.max_events_per_job,
        )
        try:
            with llm.backend.use(self.llm_backend), images.backend.use(self.image_backend):
                await self._walk(claimed, writer)
        except _Stopped:
            return  # cancelled while we ran: the canceller wrote the terminal event
        except Exception as exc:
            log.warning("job %s failed", job.id, exc_info=True)
            await self._fail(job.id, exc, await writer.take())
        finally:
            await writer.close()

    async def _walk(self, job: Job, writer: EventWriter) -> None:
        spec = self.flows.get(job.flow)
        if spec is None:
            raise FlowChanged(f"flow {job.flow!r} is not registered on this server")
        graph = Graph(spec.build(job.input))
        shared = job.checkpoint.shared
        runtime: dict[str, Any] = dict(job.checkpoint.runtime)
        name: str | None = job.checkpoint.next_node or graph.start
        while name is not None:
            node = graph.instance(name)
            started = time.monotonic()
            node_context = self._context(job, name, writer)
            if isinstance(node, HumanReview):
                decision = runtime.pop("decision", None)
                if decision is None or runtime.get("gate") != name:
                    await self._open_review(job, name, node, shared, runtime, writer)
                    return
                request = runtime.pop("gate_request", {})
                runtime.pop("gate", None)
                with context.bind(node_context):
                    action = await node.post_async(shared, request, decision)
            else:
                action = await self._run_node(
                    job, graph, name, node, shared, runtime, writer, node_context
                )
            next_name = graph.next_name(node, action)
            finished = runtime.setdefault("finished", [])
            if name not in finished:
                finished.append(name)
            duration = time.monotonic() - started
            self.metrics.node_seconds.labels(job.flow, name).observe(duration)
            summary = node.summarize(shared) if hasattr(node, "summarize") else None
            data = {
                "node": name,
                "duration_ms": round(duration * 1000),
                "summary": summary,
                "action": action,
            }
            if usage := node_context.usage():
                data["usage"] = usage
            pending = await writer.take()  # the node's last reports, in the same transaction
            events = [*pending, NewEvent(EventType.NODE_FINISHED, data)]
            if next_name is None:  # the last node: its checkpoint completes the job
                result = shared.get("result")
                await self._save(
                    job.id,
                    JobUpdate(
                        status=JobStatus.COMPLETED,
                        result=result,
                        progress=100,
                        current_node=None,
                        checkpoint=Checkpoint(_json(shared), None, runtime),
                    ),
                    [*events, NewEvent(EventType.JOB_COMPLETED, {"result": result})],
                )
                return
            job = await self._save(
                job.id,
                JobUpdate(
                    checkpoint=Checkpoint(_json(shared), next_name, runtime),
                    progress=graph.progress(finished),
                    current_node=next_name,
                ),
                events,
            )
            writer.progress, writer.last_seq = job.progress, job.last_seq
            name = next_name

    async def _run_node(
        self,
        job: Job,
        graph: Graph,
        name: str,
        node: BaseNode,
        shared: dict[str, Any],
        runtime: dict[str, Any],
        writer: EventWriter,
        node_context: NodeContext,
    ) -> Any:
        """Run an ordinary (non-gate) node: `node.started`, then prep/exec/post; its action."""
        visits = runtime.setdefault("visits", {})
        visits[name] = visits.get(name, 0) + 1
        writer.append(NewEvent(EventType.NODE_STARTED, {"node": name, "attempt": visits[name]}))
        finished = runtime.get("finished", [])
        span = (graph.progress(finished), graph.progress([*finished, name]))
        batch = _BatchItems(self, job.id, f"{name}#{visits[name]}", writer, span)
        with context.bind(node_context):
            try:
                return await execute_node(
                    node,
                    shared,
                    on_retry=self._retry_reporter(name, writer),
                    batch=batch,
                    concurrency=self.settings.batch_concurrency,
                )
            finally:
                node_context.close()

    async def _open_review(
        self,
        job: Job,
        name: str,
        node: HumanReview,
        shared: dict[str, Any],
        runtime: dict[str, Any],
        writer: EventWriter,
    ) -> None:
        with context.bind(self._context(job, name, writer)):
            request = await node.prep_async(shared)
        review = Review(
            id=new_id("rev"),
            node=name,
            prompt=str(request.get("prompt", "")),
            options=[str(o) for o in request.get("options", node.options)],
            payload=request.get("payload") or {},
            requested_at=utcnow(),
        )
        runtime["gate"], runtime["gate_request"] = name, _json(request)
        runtime.setdefault("visits", {})[name] = runtime["visits"].get(name, 0) + 1
        pending = await writer.take()
        await self._save(
            job.id,
            JobUpdate(
                status=JobStatus.WAITING_FOR_REVIEW,
                review=review,
                current_node=name,
                checkpoint=Checkpoint(_json(shared), name, runtime),
            ),
            [
                *pending,
                NewEvent(
                    EventType.NODE_STARTED, {"node": name, "attempt": runtime["visits"][name]}
                ),
                NewEvent(EventType.REVIEW_REQUESTED, review.to_json()),
            ],
        )

    async def _fail(self, job_id: str, exc: Exception, pending: list[NewEvent]) -> None:
        error = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__}
        saved = await self.store.update_job(
            job_id,
            JobUpdate(status=JobStatus.FAILED, error=error),
            [*pending, NewEvent(EventType.JOB_FAILED, {"error": error})],
            expect=RUNNING,
        )
        if saved is not None:
            self.bus.publish(saved[1])

    async def _save(
        self,
        job_id: str,
        update: JobUpdate,
        events: list[NewEvent],
        expect: set[JobStatus] = RUNNING,
    ) -> Job:
        saved = await self.store.update_job(job_id, update, events, expect=expect)
        if saved is None:
            raise _Stopped(job_id)
        self.bus.publish(saved[1])
        return saved[0]

    def _context(self, job: Job, node: str, writer: EventWriter) -> NodeContext:
        return NodeContext(
            job_id=job.id,
            owner=job.owner,
            node=node,
            store=self.store,
            bus=self.bus,
            writer=writer,
            metrics=self.metrics,
            prices=self.settings.prices,
        )

    def _retry_reporter(self, name: str, writer: EventWriter):
        async def on_retry(attempt: int, exc: BaseException, item: int | None) -> None:
            data: dict[str, Any] = {
                "node": name,
                "attempt": attempt,
                "error": f"{type(exc).__name__}: {exc}",
            }
            if item is not None:
                data["item"] = item
            writer.append(NewEvent(EventType.NODE_RETRY, data))

        return on_retry


def _json(value: dict[str, Any]) -> dict[str, Any]:
    """Checkpoints are JSON; fail clearly when a node stored something that is not."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise SharedNotJSON(f"the shared store must hold JSON values only: {exc}") from exc
