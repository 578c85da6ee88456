"""The jobs service: what the API (and any other surface) may do to jobs.

Create (validated against the flow's input schema, with the job's review terms), decide
a review (who may: backend/reviews/access.py; first valid decision wins; stale ids and
decisions with no open review are refused; an edit is checked and diffed), cancel, and
re-enqueue interrupted jobs on start-up.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from backend.auth import Principal
from backend.domain import Checkpoint, Job, JobStatus, Review, utcnow
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.events import EventType, NewEvent
from backend.ids import new_id
from backend.metrics import Metrics
from backend.people import acting
from backend.ratelimit import RateLimiter
from backend.reviews import access, audit, terms
from backend.reviews import edits as edits_
from backend.runtime import states
from backend.runtime.bus import EventBus
from backend.runtime.queues import JobQueue
from backend.settings import Settings
from backend.store.base import Decision, JobUpdate, Store
from flows import schemas
from flows.registry import FlowSpec

SURFACES = ("api", "web", "slack", "cli")


# A (sub)schema may say in words what its values must be: its `x-message` then stands
# for jsonschema's own messages (say, "'a b' does not match '^[^\\s…]+$'") in every
# error it reports, so a refusal tells a person what to send instead.
SCHEMA_MESSAGE = "x-message"


def schema_errors(value: Any, schema: dict[str, Any], prefix: str) -> list[dict[str, str]]:
    errors = sorted(
        schemas.validator(schema, check=False).iter_errors(value),
        key=lambda e: list(e.absolute_path),
    )
    return [
        {
            "field": ".".join([prefix, *(str(p) for p in error.absolute_path)]),
            "message": _schema_message(error.schema, error.message),
        }
        for error in errors
    ]


def _schema_message(schema: Any, default: str) -> str:
    said = schema.get(SCHEMA_MESSAGE) if isinstance(schema, dict) else None
    return said if isinstance(said, str) and said else default


def _long_strings(value: Any, limit: int, path: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        return (
            [{"field": path, "message": f"longer than {limit} characters"}]
            if len(value) > limit
            else []
        )
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in _long_strings(v, limit, f"{path}.{k}")]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in _long_strings(v, limit, f"{path}.{i}")]
    return []


class JobService:
    def __init__(
        self,
        *,
        store: Store,
        bus: EventBus,
        queue: JobQueue,
        flows: Mapping[str, FlowSpec],
        settings: Settings,
        metrics: Metrics,
        limiter: RateLimiter,
    ) -> None:
        self.store, self.bus, self.queue, self.flows = store, bus, queue, flows
        self.settings, self.metrics, self.limiter = settings, metrics, limiter

    async def create(
        self,
        flow: str,
        input_: dict[str, Any],
        owner: str,
        *,
        job_id: str | None = None,
        session_id: str | None = None,
        workflow_id: str | None = None,
        reviewers: list[str] | None = None,
        review_timeout: float | None = None,
        on_timeout: str | None = None,
        review_options: Collection[str] | None = None,
        found: Sequence[dict[str, str]] = (),
        refusal: str | None = None,
    ) -> Job:
        """Validate and start a job. A session names the job's id up front (it claims the
        action on the session before the job exists); sessions and workflows may run
        internal flows (their stages, a compiled spec). `reviewers` may decide (and see)
        the job's reviews; `review_timeout` and `on_timeout` give each review a deadline.
        The terms are checked against the flow's review options, or `review_options`, a
        compiled workflow's (its review nodes'). `found`: what the caller already found
        wrong with the request (a workflow's input_data), refused with the rest in one 422
        whose message is `refusal` (default: invalid input for the flow, or the workflow)."""
        spec = self.flows.get(flow)
        if spec is None or (spec.internal and session_id is None and workflow_id is None):
            raise InvalidInput(
                f"unknown flow {flow!r}",
                [{"field": "flow", "message": f"use one of: {', '.join(self.public_flows())}"}],
            )
        reviewers = list(reviewers or [])
        what = f"flow {flow!r}" if review_options is None else "the workflow"
        problems = [*found]
        problems += terms.job_problems(
            what,
            spec.review_options if review_options is None else review_options,
            reviewers,
            review_timeout,
            on_timeout,
        )
        problems += _long_strings(input_, self.settings.max_input_chars, "input")
        problems += schema_errors(input_, spec.input_schema, "input")
        if problems:
            raise InvalidInput(refusal or f"invalid input for {what}", problems)
        reviewers = await acting.with_linked_accounts(self.store, reviewers)
        await self.limiter.check(owner)  # only jobs that would start count against the limit
        now = utcnow()
        job = Job(
            id=job_id or new_id("job"),
            session_id=session_id,
            workflow_id=workflow_id,
            flow=flow,
            status=JobStatus.PENDING,
            input=input_,
            owner=owner,
            created_at=now,
            updated_at=now,
            checkpoint=Checkpoint(shared=dict(input_)),
            reviewers=reviewers,
            review_timeout=review_timeout,
            on_timeout=on_timeout,
        )
        job, events = await self.store.create_job(
            job, [NewEvent(EventType.JOB_CREATED, {"flow": flow, "input": input_})]
        )
        self.bus.publish(events)
        self.metrics.jobs_created.labels(flow).inc()
        await self.queue.enqueue(job.id)
        return job

    def public_flows(self) -> list[str]:
        return sorted(name for name, spec in self.flows.items() if not spec.internal)

    async def get(self, job_id: str, principal: Principal) -> Job:
        """The job, if `principal` may see it (owner, admin, assignee); 404 otherwise."""
        job = await self.store.get_job(job_id)
        if job is None or not await access.can_see(self.store, principal, job):
            raise NotFound(f"job {job_id!r} not found")
        return job

    async def decide(
        self,
        job_id: str,
        principal: Principal,
        *,
        review_id: str,
        decision: str,
        comment: str | None,
        via: str,
        edits: dict[str, Any] | None = None,
    ) -> Job:
        """Decide a review: 404 for a job the caller cannot see, 403 for a review they
        may not decide, 422 for an option or edits the review does not take, 409 when
        the review is not open (or another decision won)."""
        job = await self.get(job_id, principal)
        review = job.review if job.review is not None and job.review.id == review_id else None
        await self._check_may_decide(principal, job, review, review_id)
        diff = None
        if review is not None:  # stale or foreign review ids get the store's 409 instead
            if decision not in review.options:
                raise InvalidInput(
                    f"{decision!r} is not an option of this review",
                    [{"field": "decision", "message": f"use one of: {', '.join(review.options)}"}],
                )
            edits_.check(review, decision, edits)
            diff = edits_.diffs(review.payload, edits) if edits else None
        who = principal.sub
        data: dict[str, Any] = {
            "review_id": review_id,
            "decision": decision,
            "comment": comment,
            "by": who,
            "via": via,
        }
        if edits is not None:
            data.update(edits=edits, diff=diff)
        job, events = await self.store.decide_review(
            job_id,
            Decision(review_id, decision, comment, who, via, edits=edits, diff=diff),
            NewEvent(EventType.REVIEW_DECIDED, data),
        )
        self.bus.publish(events)
        await self.queue.enqueue(job_id)
        return job

    async def _check_may_decide(
        self, principal: Principal, job: Job, review: Review | None, review_id: str
    ) -> None:
        """403 unless the caller may decide the review named (the open one, or an
        earlier one of this job: deciding that is a 409 for those who may; an id the job
        never had is judged by its open review, if any, and is a 409 too)."""
        if principal.can_see(job.owner):
            return
        if review is None:
            past = [r for r in await self.store.job_reviews(job.id) if r.id == review_id]
            review = past[0] if past else job.review
        if review is not None and not access.may_decide(principal, job, review):
            raise Forbidden("you may see this job but not decide this review")

    async def reviews(self, job_id: str, principal: Principal) -> dict[str, Any]:
        """The job's review audit: every request and decision."""
        job = await self.get(job_id, principal)
        return audit.audit(job, await self.store.job_reviews(job.id))

    async def cancel(self, job_id: str, principal: Principal) -> Job:
        current = await self.get(job_id, principal)
        if not access.may_cancel(principal, current):
            raise Forbidden("only the job's owner (or an admin) can cancel it")
        saved = await self.store.update_job(
            job_id,
            JobUpdate(status=JobStatus.CANCELLED, review=None, current_node=None),
            [NewEvent(EventType.JOB_CANCELLED, {"by": principal.sub})],
            expect=states.CANCEL.sources,
        )
        if saved is None:
            raise Conflict(
                f"job already {current.status.value}; only active jobs can be cancelled",
                {"status": (await self.get(job_id, principal)).status.value},
            )
        self.queue.cancel(job_id)
        self.bus.publish(saved[1])  # a worker in another process stops on this event
        return saved[0]

    async def recover(self) -> list[str]:
        """Re-enqueue every job a previous process left pending or running (the local
        queue; with workers, the periodic re-queue of expired leases does this)."""
        ids = await self.store.job_ids(states.RUNNABLE)
        for job_id in ids:
            await self.queue.enqueue(job_id)
        return ids
