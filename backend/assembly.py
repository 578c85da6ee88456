"""Build the parts of a GenFlow process from its settings: store, bus, queue, runner.

`create_app` (an API replica) and `genflow worker` assemble the same parts, so a job runs
the same way whichever process runs it. What differs is only where jobs run: the local
queue runs them in this process; with procrastinate, API replicas only queue them and
workers run them.
"""

from __future__ import annotations

from backend.ids import instance_id
from backend.knowledge.service import KnowledgeService
from backend.metrics import Metrics
from backend.people.parts import build_people
from backend.ratelimit import LocalRateLimiter
from backend.reviews.deadlines import ReviewDeadlines
from backend.runtime.bus import EventBus, LocalBus
from backend.runtime.jobs import JobService
from backend.runtime.queues import JobQueue
from backend.runtime.queues.local import LocalQueue
from backend.runtime.runner import Runner
from backend.services import Services
from backend.sessions.service import SessionService
from backend.settings import Settings
from backend.store.base import Store
from backend.store.sqlalchemy import SQLStore
from backend.workflows.service import WorkflowService
from flows import images, llm
from flows.images import ImageBackend
from flows.llm import LLMBackend
from flows.providers.limited import limited_images, limited_llm
from flows.registry import FlowSpec, default_flows


def make_bus(settings: Settings) -> EventBus:
    if settings.redis_url:
        from backend.runtime.redis_bus import RedisBus

        return RedisBus(settings.redis_url)
    return LocalBus()


def make_limiter(settings: Settings):
    if settings.redis_url:
        from backend.redis_ratelimit import RedisRateLimiter

        return RedisRateLimiter(
            settings.redis_url, settings.rate_limit_per_minute, settings.rate_limit_burst
        )
    return LocalRateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)


def build_services(
    settings: Settings,
    *,
    store: Store | None = None,
    llm_backend: LLMBackend | None = None,
    image_backend: ImageBackend | None = None,
    flow_specs: dict[str, FlowSpec] | None = None,
) -> Services:
    store = store or SQLStore(settings.resolved_database_url)
    bus = make_bus(settings)
    metrics = Metrics()
    flow_specs = flow_specs if flow_specs is not None else default_flows()
    distributed = settings.queue == "procrastinate"
    llm_backend = llm_backend or llm.make_backend(
        settings.llm, model=settings.model, timeout=settings.llm_timeout, script=settings.llm_script
    )
    image_backend = image_backend or images.make_backend(
        settings.image_backend, model=settings.image_model, timeout=settings.llm_timeout
    )
    runner = Runner(
        store=store,
        bus=bus,
        flows=flow_specs,
        # Every flow's model calls wait for their provider's limit (not for a job slot).
        llm_backend=limited_llm(llm_backend, settings.llm_concurrency),
        image_backend=limited_images(image_backend, settings.image_concurrency),
        settings=settings,
        metrics=metrics,
        worker_id=instance_id(),
        distributed=distributed,
    )
    queue: JobQueue
    if distributed:
        from backend.runtime.queues.procrastinate_queue import ProcrastinateQueue, make_app

        url = settings.resolved_database_url
        queue = ProcrastinateQueue(make_app(url), url)
    else:
        # One process owns every job: a run may take over a lease its crashed
        # predecessor left behind.
        async def run_here(job_id: str) -> None:
            await runner.run(job_id, steal=True)

        queue = LocalQueue(run_here, max_concurrent=settings.max_concurrent_jobs)
    jobs = JobService(
        store=store,
        bus=bus,
        queue=queue,
        flows=flow_specs,
        settings=settings,
        metrics=metrics,
        limiter=make_limiter(settings),
    )
    sessions = SessionService(store=store, bus=bus, jobs=jobs, ttl=settings.session_ttl)
    knowledge = KnowledgeService(store=store, settings=settings)
    workflows = WorkflowService(
        store=store, bus=bus, jobs=jobs, settings=settings, knowledge_names=knowledge.names
    )
    runner.on_job_end += [sessions.job_ended, workflows.job_ended]
    accounts, tokens = build_people(settings, store)
    return Services(
        settings=settings,
        sessions=sessions,
        workflows=workflows,
        knowledge=knowledge,
        accounts=accounts,
        tokens=tokens,
        deadlines=ReviewDeadlines(store=store, bus=bus, queue=queue),
        store=store,
        bus=bus,
        queue=queue,
        runner=runner,
        jobs=jobs,
        flows=flow_specs,
        metrics=metrics,
    )
