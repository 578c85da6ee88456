"""The parts one app instance is made of, built by `create_app` and handed to the routes."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from backend.knowledge.service import KnowledgeService
from backend.metrics import Metrics
from backend.people.accounts import AccountService
from backend.people.tokens import TokenService
from backend.reviews.deadlines import ReviewDeadlines
from backend.runtime.bus import EventBus
from backend.runtime.jobs import JobService
from backend.runtime.queues import JobQueue
from backend.runtime.runner import Runner
from backend.sessions.service import SessionService
from backend.settings import Settings
from backend.store.base import Store
from backend.workflows.service import WorkflowService
from flows.registry import FlowSpec


@dataclass
class Services:
    settings: Settings
    store: Store
    bus: EventBus
    queue: JobQueue
    runner: Runner
    jobs: JobService
    flows: dict[str, FlowSpec]
    metrics: Metrics
    sessions: SessionService
    workflows: WorkflowService
    knowledge: KnowledgeService
    accounts: AccountService
    tokens: TokenService
    deadlines: ReviewDeadlines
    secret: str = ""
    admin_token: str = ""


def services() -> Services:
    return current_app.extensions["genflow"]
