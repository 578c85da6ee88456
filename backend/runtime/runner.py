"""The durable runner: walks a job's PocketFlow graph node by node.

After every node the shared store and the name of the next node are saved together with
`node.finished` in one transaction. A review gate parks the job (status
`waiting_for_review`, the request stored) and the task ENDS; a decision re-enqueues the
job, and the gate's `post_async` turns the decision into the next action.

A run starts by *claiming* the job (a lease and a fence, the attempt number); every
write after that is conditional on the job still being `running` under that same
attempt, so neither a cancelled job's task nor a runner whose lease another worker took
over can write one more event or checkpoint. With workers in other processes
(`distributed`), the run renews its lease while it works and watches the bus, so a
cancel made on any replica stops it (model call included) within moments.

Infrastructure failures (StoreUnavailable) are not the job's: they propagate to the
queue, which runs the job again later from its last checkpoint; `job.failed` is only
for the job's own errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pocketflow import BaseNode

from backend import fast_json
from backend.domain import TERMINAL_STATUSES, Checkpoint, Job, JobStatus, Review, utcnow
from backend.errors import StoreUnavailable
from backend.events import Event, EventType, NewEvent
from backend.ids import new_id
from backend.knowledge.search import OwnedKnowledge
from backend.metrics import Metrics
from backend.reviews.terms import review_terms
from backend.runtime import states
from backend.runtime.bus import LAGGED, EventBus
from backend.runtime.context import NodeContext
from backend.runtime.execute import execute_node
from backend.runtime.graph import FlowChanged, Graph
from backend.runtime.states import JobLost
from backend.runtime.writer import Entry, EventWriter, durable, in_order
from backend.settings import Settings
from backend.store.base import BatchItem, JobUpdate, Store
from flows import context, images, llm
from flows.gate import HumanReview
from flows.images import ImageBackend
from flows.llm import LLMBackend
from flows.pilot import guarded_http
from flows.pilot.knowledge import searcher
from flows.registry import FlowSpec

log = logging.getLogger(__name__)
RUNNING = states.CHECKPOINT.sources


class SharedNotJSON(TypeError):
    """A node put something into the shared store that cannot be checkpointed."""


class _BatchItems:
    def __init__(
        self,
        runner: Runner,
        job: Job,
        key: str,
        writer: EventWriter,
        span: Callable[[], tuple[int, int]],
        fresh: bool,
    ):
        self.runner, self.job, self.key, self.writer = runner, job, key, writer
        self._span = span  # worked out only for batch nodes, which report per item
        self._bounds: tuple[int, int] | None = None
        self.fresh = fresh  # nothing can have been saved under `key`: skip the read

    async def load(self) -> dict[int, Any]:
        if self.fresh:
            return {}
        return await self.runner.store.batch_items(self.job.id, self.key)

    async def save(self, index: int, value: Any) -> None:
        """Queued with the node's progress lines: their next write stores it, fenced."""
        if self.writer.lost:
            raise JobLost(self.job.id)
        self.writer.save_item(BatchItem(self.key, index, value))

    def item_done(self, done: int, total: int) -> None:
        if self._bounds is None:
            self._bounds = self._span()
        low, high = self._bounds
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
        worker_id: str = "local",
        distributed: bool = False,
    ) -> None:
        self.store, self.bus, self.flows = store, bus, flows
        self.llm_backend, self.image_backend = llm_backend, image_backend
        self.settings, self.metrics = settings, metrics
        self.worker_id, self.distributed = worker_id, distributed
        # What workflow `api` nodes and the http_get tool may reach (flows/pilot).
        self.network = guarded_http.NetworkPolicy(allow_private=settings.allow_private_networks)
        # Where a run hands its job back when this process stops mid-job (a worker
        # shutting down); set by the worker to its queue's `enqueue`.
        self.requeue: Callable[[str], Awaitable[None]] | None = None
        # Told when a job ends (completed, failed or cancelled), in whichever process ran
        # it: a session folds its action's result, a generated workflow is stored. Each
        # listener picks its own jobs; set by the assembly.
        self.on_job_end: list[Callable[[Job], Awaitable[object]]] = []

    async def run(self, job_id: str, *, steal: bool = False) -> None:
        """Run (or resume) a job until it finishes, fails, parks at a gate, or is cancelled.

        `steal` takes the job even from a live lease: the one-process local queue's
        recovery after a crash. Raises StoreUnavailable (the job is left to be run
        again) when the database fails. The claim itself checks that the job is
        claimable (one conditional UPDATE), so the job is not read before it."""
        claimed = await self.store.claim_job(
            job_id, owner=self.worker_id, lease_seconds=self.settings.lease_seconds, steal=steal
        )
        if claimed is None:
            return  # another runner holds it, or it was cancelled or decided meanwhile
        job = claimed[0]
        self.bus.publish(claimed[1])
        walk = asyncio.create_task(self._run_claimed(job), name=f"walk:{job.id}")
        guards = self._guards(job, walk) if self.distributed else []
        try:
            await asyncio.shield(walk)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is None or not current.cancelling():  # a guard stopped the walk
                log.info("job %s: stopped (cancelled or taken over elsewhere)", job.id)
                return
            walk.cancel()  # this run itself was cancelled: a cancel here, or shutdown
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await walk
            await self._hand_back(job)
            raise
        finally:
            for guard in guards:
                guard.cancel()

    async def _run_claimed(self, job: Job) -> None:
        writer = EventWriter(
            self.store,
            self.bus,
            job.id,
            fence=job.attempts,
            last_seq=job.last_seq,
            max_events=self.settings.max_events_per_job,
        )
        try:
            with (
                llm.backend.use(self.llm_backend),
                images.backend.use(self.image_backend),
                searcher.use(OwnedKnowledge(self.store, job.owner)),  # the owner's bases only
                guarded_http.policy.use(self.network),
            ):
                await self._walk(job, writer)
        except JobLost:  # cancelled or taken over: whoever did it wrote what follows
            log.info("job %s: stopped, no longer this runner's (nothing written)", job.id)
        except StoreUnavailable:
            raise  # the infrastructure's failure, not the job's: run it again later
        except Exception as exc:
            log.warning("job %s failed", job.id, exc_info=True)
            await self._fail(job, exc, await writer.take())
        finally:
            await writer.close()

    def _guards(self, job: Job, walk: asyncio.Task[None]) -> list[asyncio.Task[None]]:
        """Keep the lease alive, and stop the walk as soon as the job is lost: cancelled
        on any replica (the bus says so), or its lease gone (the renewal says so)."""
        return [
            asyncio.create_task(self._keep_lease(job, walk), name=f"lease:{job.id}"),
            asyncio.create_task(self._watch_cancel(job, walk), name=f"watch:{job.id}"),
        ]

    async def _keep_lease(self, job: Job, walk: asyncio.Task[None]) -> None:
        interval = self.settings.lease_seconds / 3
        while not walk.done():
            await asyncio.sleep(interval)
            try:
                held = await self.store.renew_lease(
                    job.id, fence=job.attempts, lease_seconds=self.settings.lease_seconds
                )
            except StoreUnavailable:
                continue  # keep working; if the lease runs out, the fence stops our writes
            if not held:
                log.info("job %s: lease lost (cancelled or taken over); stopping", job.id)
                walk.cancel()
                return

    async def _watch_cancel(self, job: Job, walk: asyncio.Task[None]) -> None:
        """A cancel made on any replica arrives as `job.cancelled` on the bus. When the
        bus may have lost events (LAGGED: Redis down or reconnecting), ask the store."""
        subscription = self.bus.subscribe(job.id)
        try:
            while not walk.done():
                items = await subscription.get_ready(3600)
                cancelled = any(
                    getattr(item, "type", None) is EventType.JOB_CANCELLED for item in items
                )
                if not cancelled and LAGGED in items:  # also once the subscription is live
                    with contextlib.suppress(StoreUnavailable):
                        status = await self.store.job_status(job.id)
                        cancelled = status is None or status is JobStatus.CANCELLED
                if cancelled:
                    log.info("job %s: cancelled elsewhere; stopping its run", job.id)
                    walk.cancel()
                    return
        finally:
            subscription.close()

    async def _hand_back(self, job: Job) -> None:
        """This process is stopping mid-job: free the lease and queue the job again, so
        another worker resumes it now rather than when the lease runs out."""
        if self.requeue is None:
            return
        try:
            await self.store.release_lease(job.id, fence=job.attempts)
            await self.requeue(job.id)  # a cancelled job's run returns at once
        except Exception:  # the lease expires and the periodic re-queue finds it
            log.warning("job %s: could not hand back; it resumes when its lease expires", job.id)

    async def _walk(self, job: Job, writer: EventWriter) -> None:
        spec = self.flows.get(job.flow)
        if spec is None:
            raise FlowChanged(f"flow {job.flow!r} is not registered on this server")
        graph = Graph(spec.build(job.input))
        shared = job.checkpoint.shared
        runtime: dict[str, Any] = dict(job.checkpoint.runtime)
        name: str | None = job.checkpoint.next_node or graph.start
        # Items of a batch node are saved under its name and visit number. Only the node
        # this run starts at can have some from an earlier run (a crash mid-node); a node
        # reached after this run's own checkpoint is a new visit. A first run has none.
        fresh = job.attempts == 1
        announced = False  # the node's `node.started` went out with the last checkpoint
        while name is not None:
            node = graph.instance(name)
            started = time.monotonic()
            visit = runtime.get("visits", {}).get(name, 0) + 1
            node_context = self._context(job, name, writer, visit)
            if isinstance(node, HumanReview):
                decision = runtime.pop("decision", None)
                if decision is None or runtime.get("gate") != name:
                    await self._open_review(job, name, node, shared, runtime, writer)
                    return
                request = runtime.pop("gate_request", {})
                runtime.pop("gate", None)
                with context.bind(node_context):
                    action = await node.post_async(shared, request, decision)
                node_context.close()  # what it streamed goes before its node.finished
            else:
                action = await self._run_node(
                    job, graph, name, node, shared, runtime, writer, node_context, fresh, announced
                )
            next_name = graph.next_name(node, action)
            finished = runtime.setdefault("finished", [])
            if name not in finished:
                finished.append(name)
            duration = time.monotonic() - started
            self.metrics.observe_node(job.flow, name, duration)
            summary = node.summarize(shared) if hasattr(node, "summarize") else None
            data = {
                "node": name,
                "duration_ms": round(duration * 1000),
                "summary": summary,
                "action": action,
            }
            if usage := node_context.usage():
                data["usage"] = usage
            if job.workflow_id and job.flow == "workflow":
                self.metrics.workflow_node(job.workflow_id, name, "completed", duration, usage)
            pending = await writer.take()  # the node's last reports, in the same transaction
            events = [*pending, NewEvent(EventType.NODE_FINISHED, data)]
            if next_name is None:  # the last node: its checkpoint completes the job
                result = shared.get("result")
                await self._save(
                    job,
                    states.COMPLETE,
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
            progress = graph.progress(finished)
            # The next node starts as soon as this checkpoint commits: say so in it, one
            # write instead of two (a gate says it in the write that parks the job).
            announced = not isinstance(graph.nodes.get(next_name), HumanReview | None)
            if announced:
                visits = runtime.get("visits", {}).get(next_name, 0)
                events.append(_node_started(next_name, visits + 1))
            stored = await self._checkpoint(
                job,
                JobUpdate(
                    checkpoint=Checkpoint(_json(shared), next_name, runtime),
                    progress=progress,
                    current_node=next_name,
                ),
                events,
            )
            writer.progress, writer.last_seq = progress, stored[-1].seq or writer.last_seq
            name, fresh = next_name, True

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
        fresh: bool,
        announced: bool,
    ) -> Any:
        """Run an ordinary (non-gate) node: `node.started` (unless the checkpoint before
        it `announced` it), then prep/exec/post; its action."""
        visits = runtime.setdefault("visits", {})
        visits[name] = visits.get(name, 0) + 1
        if not announced:
            writer.append(_node_started(name, visits[name]))
        finished = list(runtime.get("finished", []))

        def span() -> tuple[int, int]:
            return graph.progress(finished), graph.progress([*finished, name])

        batch = _BatchItems(self, job, f"{name}#{visits[name]}", writer, span, fresh)
        with context.bind(node_context):
            try:
                return await execute_node(
                    node,
                    shared,
                    on_retry=self._retry_reporter(node_context),
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
        visit = runtime.get("visits", {}).get(name, 0) + 1
        gate_context = self._context(job, name, writer, visit)
        with context.bind(gate_context):
            request = await node.prep_async(shared)
        gate_context.close()  # what it streamed goes before the review it opens
        options = [str(o) for o in request.get("options", node.options)]
        now = utcnow()
        terms = review_terms(job, request, options, now)  # assignees, edits, deadline
        review = Review(
            id=new_id("rev"),
            node=name,
            prompt=str(request.get("prompt", "")),
            options=options,
            payload=request.get("payload") or {},
            requested_at=now,
            assignees=terms.assignees,
            editable=terms.editable,
            deadline=terms.deadline,
            on_timeout=terms.on_timeout,
            remind_at=terms.remind_at,
        )
        runtime["gate"], runtime["gate_request"] = name, _json(request)
        runtime.setdefault("visits", {})[name] = runtime["visits"].get(name, 0) + 1
        pending = await writer.take()
        await self._save(
            job,
            states.PARK,
            JobUpdate(
                status=JobStatus.WAITING_FOR_REVIEW,
                review=review,
                current_node=name,
                checkpoint=Checkpoint(_json(shared), name, runtime),
            ),
            [
                *pending,
                _node_started(name, runtime["visits"][name]),
                NewEvent(EventType.REVIEW_REQUESTED, review.to_json()),
            ],
        )

    async def _fail(self, job: Job, exc: Exception, pending: list[Entry]) -> None:
        error = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__}
        with contextlib.suppress(JobLost):
            await self._save(
                job,
                states.FAIL,
                JobUpdate(status=JobStatus.FAILED, error=error),
                [*pending, NewEvent(EventType.JOB_FAILED, {"error": error})],
            )

    async def _checkpoint(self, job: Job, update: JobUpdate, entries: list[Entry]) -> list[Event]:
        """A node's fenced checkpoint and events, one transaction; the job is not read
        back (the runner knows what it wrote), so its JSON is not parsed again."""
        stored = await self.store.append_events(
            job.id,
            durable(entries),
            update_=update,
            expect=states.CHECKPOINT.sources,
            fence=job.attempts,
        )
        if stored is None:
            raise JobLost(job.id)
        self.bus.publish(in_order(entries, stored))
        return stored

    async def _save(
        self,
        job: Job,
        transition: states.Transition,
        update: JobUpdate,
        entries: list[Entry],
    ) -> Job:
        """A fenced runner write: refused (JobLost) once the job is not ours any more.
        A completion is not read back: the runner knows what it wrote (a failure is, for
        the node it failed in; parking stores a review)."""
        events = durable(entries)
        if transition is states.COMPLETE:
            stored = await self.store.append_events(
                job.id, events, update_=update, expect=transition.sources, fence=job.attempts
            )
            if stored is None:
                raise JobLost(job.id)
            ended = update.applied_to(job, last_seq=stored[-1].seq, updated_at=utcnow())
        else:
            saved = await self.store.update_job(
                job.id, update, events, expect=transition.sources, fence=job.attempts
            )
            if saved is None:
                raise JobLost(job.id)
            ended, stored = saved
        self.bus.publish(in_order(entries, stored))
        if ended.workflow_id and ended.flow == "workflow" and ended.status in TERMINAL_STATUSES:
            self.metrics.workflow_ended(ended)
        if ended.status in TERMINAL_STATUSES:
            for listener in self.on_job_end:
                try:
                    await listener(ended)
                except StoreUnavailable:
                    pass  # the next reader folds the result (a session, a workflow)
                except Exception:
                    log.exception("job %s: a listener failed on its end", ended.id)
        return ended

    def _context(self, job: Job, node: str, writer: EventWriter, visit: int) -> NodeContext:
        return NodeContext(
            job_id=job.id,
            fence=job.attempts,
            owner=job.owner,
            node=node,
            visit=visit,
            store=self.store,
            bus=self.bus,
            writer=writer,
            metrics=self.metrics,
            prices=self.settings.prices,
        )

    def _retry_reporter(self, node_context: NodeContext):
        async def on_retry(attempt: int, exc: BaseException, item: int | None) -> None:
            data: dict[str, Any] = {
                "node": node_context.node,
                "attempt": attempt,
                "error": f"{type(exc).__name__}: {exc}",
            }
            if item is not None:
                data["item"] = item
            node_context.deltas_first()  # the refused answer's last words, then the retry
            node_context.writer.append(NewEvent(EventType.NODE_RETRY, data))

        return on_retry


def _node_started(name: str, attempt: int) -> NewEvent:
    return NewEvent(EventType.NODE_STARTED, {"node": name, "attempt": attempt})


def _json(value: dict[str, Any]) -> dict[str, Any]:
    """Checkpoints are JSON; fail clearly when a node stored something that is not."""
    try:
        return fast_json.copy(value)
    except (TypeError, ValueError) as exc:
        raise SharedNotJSON(f"the shared store must hold JSON values only: {exc}") from exc
