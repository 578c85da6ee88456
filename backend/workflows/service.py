"""Pilot workflows: store validated specs, run them as jobs, report how they ran.

A spec is validated before it is stored (422 with every problem, each naming the node and
field), and again before each execution: the knowledge bases it reads may be gone, and
placeholders (`<<what you must supply>>`) must be filled in before it can run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from backend.auth import Principal
from backend.domain import Job, JobStatus, utcnow
from backend.errors import Conflict, GenFlowError, InvalidInput, NotFound
from backend.events import TERMINAL_EVENTS
from backend.ids import new_id
from backend.runtime.bus import EventBus
from backend.runtime.context import price_of
from backend.runtime.follow import follow
from backend.runtime.jobs import JobService, schema_errors
from backend.settings import Settings
from backend.store.base import Store
from backend.workflows import logs
from backend.workflows.model import Workflow
from flows.pilot import spec as specs
from flows.pilot.estimate import estimate
from flows.pilot.validate import Validation, validate

WORKFLOW_FLOW = "workflow"
GENERATE_FLOW = "pilot.generate"
LOCAL_MODEL = "smollm2-135m"
TOKENS_PER_SECOND = {"openai": 60.0, "local": 15.0}
STATS_EXECUTIONS = 200  # the figures cover a workflow's most recent executions
KnowledgeNames = Callable[[str], Awaitable[set[str]]]


def _problems(found: list[Any]) -> list[dict[str, Any]]:
    return [p.to_json() for p in found]


class GenerationFailed(GenFlowError):
    status = 502
    code = "generation_failed"


class WorkflowService:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        jobs: JobService,
        settings: Settings,
        knowledge_names: KnowledgeNames | None = None,
    ) -> None:
        self.store, self.bus, self.jobs, self.settings = store, bus, jobs, settings
        self.knowledge_names = knowledge_names

    def describe(self, workflow: Workflow) -> dict[str, Any]:
        """The API's view: the spec with its computed cost and time estimates, and the
        options of the reviews its `review` nodes ask for (`review_options`, as a flow's in
        `GET /api/flows`; empty: a run takes no review terms, `execute` checks them so)."""
        shown = workflow.to_json()
        shown["review_options"] = list(specs.review_options(workflow.spec))
        model = self.settings.model or LOCAL_MODEL
        figures = estimate(
            workflow.spec,
            price=price_of(self.settings.prices, model),
            tokens_per_second=TOKENS_PER_SECOND.get(self.settings.llm, 30.0),
        )
        shown["workflow"] = {**workflow.spec, **figures, "model": model}
        return shown

    async def generate(
        self,
        principal: Principal,
        prompt: str,
        preferences: dict[str, Any] | None,
        *,
        wait: bool = True,
    ) -> tuple[Workflow | None, Job]:
        """Draft a workflow from a request: a job (streamed, durable, on any worker) whose
        result is stored as the workflow by whichever process sees it end first. With
        `wait` this call follows the job and returns the workflow; else (None, the job)."""
        bases = sorted(await self.knowledge_names(principal.sub)) if self.knowledge_names else []
        job = await self.jobs.create(
            GENERATE_FLOW,
            {
                "prompt": prompt,
                "user_preferences": preferences or {},
                "knowledge_bases": [b for b in bases if not b.startswith("kb_")],
            },
            principal.sub,
            workflow_id=new_id("wf"),
        )
        if not wait:
            return None, job
        async for batch in follow(self.store, self.bus, job.id, 0, 15.0):
            if any(event.type in TERMINAL_EVENTS for event in batch):
                break
        done = await self.store.get_job(job.id)
        workflow = await self.job_ended(done) if done is not None else None
        if done is None or workflow is None:
            error = (done.error or {}) if done else {}
            raise GenerationFailed(
                f"generating the workflow failed: {error.get('message', 'the job ended')}",
                {"job_id": job.id},
            )
        return workflow, done

    async def _generated(self, workflow_id: str) -> Workflow | None:
        """A generation that ended but whose workflow nobody stored yet (its runner is a
        moment behind, or crashed in between): stored now."""
        found = await self.store.workflow_jobs(workflow_id, flow=GENERATE_FLOW, limit=1)
        return await self.job_ended(found[0]) if found else None

    async def job_ended(self, job: Job) -> Workflow | None:
        """Store a finished generation's workflow (once, whoever calls first)."""
        if job.flow != GENERATE_FLOW or job.workflow_id is None:
            return None
        if job.status is not JobStatus.COMPLETED:
            return None
        existing = await self.store.get_workflow(job.workflow_id)
        if existing is not None:
            return existing
        result = job.result
        generation = {
            "job_id": job.id,
            "prompt": job.input["prompt"],
            "intent": result["intent"],
            "templates": result["templates"],
            "rounds": result["rounds"],
        }
        return await self.create(
            Principal(job.owner),
            result["workflow"],
            origin=result["source"],
            generation=generation,
            workflow_id=job.workflow_id,
        )

    async def check(self, source: Any, owner: str) -> tuple[dict[str, Any], Validation]:
        """The parsed spec and its validation; InvalidInput when it is not a spec at all."""
        try:
            spec = specs.parse(source)
        except specs.SpecSyntaxError as exc:
            raise InvalidInput(str(exc), [{"field": "workflow", "message": str(exc)}]) from None
        bases = await self.knowledge_names(owner) if self.knowledge_names else None
        return spec, validate(spec, knowledge_bases=bases)

    async def create(
        self,
        principal: Principal,
        source: Any,
        *,
        origin: str = "hand",
        generation: dict[str, Any] | None = None,
        workflow_id: str | None = None,
    ) -> Workflow:
        spec, checked = await self.check(source, principal.sub)
        if not checked.valid:
            raise InvalidInput("the workflow is not valid", _problems(checked.errors))
        now = utcnow()
        workflow = Workflow(
            id=workflow_id or new_id("wf"),
            owner=principal.sub,
            name=spec["name"],
            description=spec.get("description", ""),
            version=1,
            spec=spec,
            validation=checked.to_json(),
            source=origin,
            generation=generation,
            created_at=now,
            updated_at=now,
        )
        return await self.store.create_workflow(workflow)

    async def get(self, workflow_id: str, principal: Principal) -> Workflow:
        workflow = await self.store.get_workflow(workflow_id) or await self._generated(workflow_id)
        if workflow is None or not principal.can_see(workflow.owner):
            raise NotFound(f"workflow {workflow_id!r} not found")
        return workflow

    async def list(self, principal: Principal, *, limit: int, before: str | None) -> list[Workflow]:
        owner = None if principal.admin else principal.sub
        return await self.store.list_workflows(owner=owner, limit=limit, before=before)

    async def update(self, workflow_id: str, principal: Principal, source: Any) -> Workflow:
        current = await self.get(workflow_id, principal)
        spec, checked = await self.check(source, current.owner)
        if not checked.valid:
            raise InvalidInput("the workflow is not valid", _problems(checked.errors))
        changes = {
            "spec": spec,
            "name": spec["name"],
            "description": spec.get("description", ""),
            "validation": checked.to_json(),
            "source": "hand" if current.source == "hand" else "edited",
            "updated_at": utcnow(),
        }
        updated = await self.store.update_workflow(
            workflow_id, version=current.version, changes=changes
        )
        if updated is None:
            raise Conflict(f"workflow {workflow_id!r} changed meanwhile: fetch it and try again")
        return updated

    async def delete(self, workflow_id: str, principal: Principal) -> None:
        await self.get(workflow_id, principal)
        await self.store.delete_workflow(workflow_id)

    async def execute(
        self,
        workflow_id: str,
        principal: Principal,
        input_data: dict[str, Any],
        *,
        reviewers: list[str] | None = None,
        review_timeout: float | None = None,
        on_timeout: str | None = None,
    ) -> Job:
        """Run the workflow as a job of its owner's. The review terms are a job's
        (`POST /api/jobs`), checked against the options of the spec's review nodes; a
        request with a wrong input_data and wrong terms is refused once, naming both."""
        workflow = await self.get(workflow_id, principal)
        spec, checked = await self.check(workflow.spec, workflow.owner)
        if not checked.valid:
            raise InvalidInput("the workflow is no longer valid", _problems(checked.errors))
        if checked.placeholders:
            raise InvalidInput(
                "fill in the workflow's placeholders before running it",
                _problems(checked.placeholders),
            )
        problems = _input_problems(spec, input_data)
        job_input = {
            "spec": spec,
            "input_data": input_data,
            "workflow_id": workflow.id,
            "version": workflow.version,
        }
        return await self.jobs.create(
            WORKFLOW_FLOW,
            job_input,
            workflow.owner,
            workflow_id=workflow.id,
            reviewers=reviewers,
            review_timeout=review_timeout,
            on_timeout=on_timeout,
            review_options=specs.review_options(spec),
            found=problems,  # refused with the terms' problems, if any, in one 422
            refusal="invalid input_data for this workflow" if problems else None,
        )

    async def executions(
        self, workflow_id: str, principal: Principal, *, limit: int, before: str | None
    ) -> list[dict[str, Any]]:
        """The workflow's runs, newest first: each its job (a `Job`), the spec version it
        ran and its node logs."""
        await self.get(workflow_id, principal)
        found = await self.store.workflow_jobs(workflow_id, limit=limit, before=before)
        return [
            {
                "job": job,  # the API answers it as jobs are answered (api/jobs.py shown)
                "version": job.input.get("version"),
                "nodes": logs.node_logs(await self.store.events_after(job.id, 0, 10_000)),
            }
            for job in found
        ]

    async def stats(self, workflow_id: str, principal: Principal) -> dict[str, Any]:
        await self.get(workflow_id, principal)
        found = await self.store.workflow_jobs(workflow_id, limit=STATS_EXECUTIONS)
        runs = [
            (job.status.value, logs.node_logs(await self.store.events_after(job.id, 0, 10_000)))
            for job in found
        ]
        return {"workflow_id": workflow_id, **logs.stats(runs)}


def _input_problems(spec: dict[str, Any], input_data: dict[str, Any]) -> list[dict[str, str]]:
    return schema_errors(input_data, specs.input_schema(spec), "input_data")
