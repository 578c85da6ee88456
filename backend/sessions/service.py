"""Sessions: create, read, act, and fold a finished job's result into the document.

Every change is a compare-and-set on the session's `version` (retried on conflict), so
API replicas and workers can change one session at once without losing a write. A model
action is claimed on the session (`processing`, with the job id chosen up front) before
its job exists, so a job that finishes at once still finds its session waiting for it;
`job_ended` folds its result exactly once (the job id must still be the active one). A
job that ended while no process could fold it (a crash) is folded the next time anyone
reads the session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from backend.auth import Principal
from backend.domain import TERMINAL_STATUSES, Job, JobStatus, utcnow
from backend.errors import Conflict, GenFlowError, InvalidInput, NotFound
from backend.events import Event, EventType
from backend.ids import new_id
from backend.runtime.bus import EventBus
from backend.runtime.jobs import JobService, schema_errors
from backend.sessions import apply
from backend.sessions.actions import ACTIONS, Action, available
from backend.sessions.model import STAGES, Frame, NewFrame, Session
from backend.store.base import Store

log = logging.getLogger(__name__)
CAS_TRIES = 20
UNBORN_JOB_GRACE = timedelta(seconds=30)

Change = Callable[[Session], tuple[dict[str, Any], list[NewFrame]] | None]


class Expired(GenFlowError):
    status = 410
    code = "expired"


CONTEXT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "maxLength": 200},
        "topic": {"type": "string", "maxLength": 500},
        "audience": {"type": "string", "maxLength": 200},
        "tone": {"type": "string", "maxLength": 200},
        "wordCount": {"type": "integer", "minimum": 100, "maximum": 3000},
    },
    "additionalProperties": False,
}


SUGGESTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "maxLength": 5000},
        "field": {"type": "string", "maxLength": 100},
    },
    "additionalProperties": False,
}
FEEDBACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 2000},
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["text"],
    "additionalProperties": False,
}


class SessionService:
    def __init__(
        self,
        *,
        store: Store,
        bus: EventBus,
        jobs: JobService,
        ttl: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`clock` is "now" for expiry only: when a session's idle time runs out and whether
        it has (`expired`, the sweep). It exists so tests can move time themselves and
        expire a session exactly when they choose, however slow the machine; created_at
        and updated_at stay the real time."""
        self.store, self.bus, self.jobs, self.ttl = store, bus, jobs, ttl
        self.clock = clock

    def expired(self, session: Session) -> bool:
        """Whether the session's idle time has run out (it answers 410 from then on)."""
        return session.expires_at <= self.clock()

    # -- reading -----------------------------------------------------------------------

    async def get(self, session_id: str, principal: Principal) -> Session:
        session = await self.store.get_session(session_id)
        if session is None or not principal.can_see(session.owner):
            raise NotFound(f"session {session_id!r} not found")
        if self.expired(session):
            raise Expired(f"session {session_id!r} expired after {self.ttl:g} s idle")
        if session.status == "processing" and session.active_job_id:
            job = await self.store.get_job(session.active_job_id)
            # A job that ended while nobody folded it (a crash); or one that never came to
            # be (a crash between the claim and the job): not one being created right now.
            never_made = job is None and session.updated_at < utcnow() - UNBORN_JOB_GRACE
            if never_made or (job is not None and job.status in TERMINAL_STATUSES):
                session = await self.job_ended(job, session_id=session_id) or session
        return session

    async def list(self, principal: Principal, *, limit: int, before: str | None) -> list[Session]:
        owner = None if principal.admin else principal.sub
        return await self.store.list_sessions(owner=owner, limit=limit, before=before)

    # -- creating and deleting -----------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        *,
        article_id: str,
        initial_stage: str = "topic",
        context: dict[str, Any] | None = None,
    ) -> Session:
        context = context or {}
        problems = schema_errors(context, CONTEXT_SCHEMA, "context")
        if initial_stage not in STAGES:
            problems.append(
                {"field": "initialStage", "message": f"use one of: {', '.join(STAGES)}"}
            )
        elif initial_stage != "topic" and not context.get("topic"):
            problems.append(
                {
                    "field": "context.topic",
                    "message": f"a session starting at {initial_stage} needs a topic",
                }
            )
        if problems:
            raise InvalidInput("invalid session", problems)
        now = utcnow()
        document: dict[str, Any] = {"history": []}
        if context.get("topic"):
            document["topic"] = {"title": context["topic"]}
        session = Session(
            id=new_id("ses"),
            owner=principal.sub,
            article_id=article_id,
            stage=initial_stage,
            status="idle",
            created_at=now,
            updated_at=now,
            expires_at=self.clock() + timedelta(seconds=self.ttl),
            context=context,
            document=document,
            last_message=f"Session started at the {initial_stage} stage",
        )
        session, frames = await self.store.create_session(
            session, [NewFrame("stage.change", {"from": None, "to": initial_stage})]
        )
        self._publish(frames)
        return session

    async def delete(self, session_id: str, principal: Principal) -> None:
        session = await self.get(session_id, principal)
        if session.active_job_id and session.status == "processing":
            try:
                await self.jobs.cancel(session.active_job_id, principal)
            except GenFlowError:
                pass  # already ended
        await self.store.delete_session(session_id)

    # -- acting -----------------------------------------------------------------------------

    async def act(
        self, session_id: str, principal: Principal, name: str, params: dict[str, Any]
    ) -> tuple[Session, Job | None]:
        await self.get(session_id, principal)  # 404 / 410 first, and a finished job folded
        action = ACTIONS.get(name)
        if action is None:
            raise InvalidInput(
                f"unknown action {name!r}",
                [{"field": "action", "message": f"use one of: {', '.join(ACTIONS)}"}],
            )
        problems = schema_errors(params, action.parameters or {}, "parameters")
        if problems:
            raise InvalidInput(f"invalid parameters for {name!r}", problems)
        if action.flow is None:
            return await self._change(session_id, action, params), None
        return await self._run(session_id, principal, action, params)

    def _refuse_unavailable(self, session: Session, action: Action) -> None:
        now = available(session)
        if action in now:
            return
        if session.status == "processing":
            why = "the session is processing another action"
        elif session.status == "completed":
            why = "the session is completed"
        else:
            why = f"{action.id!r} is not available at the {session.stage} stage"
        raise Conflict(why, {"availableActions": [a.to_json() for a in now]})

    async def _change(self, session_id: str, action: Action, params: dict[str, Any]) -> Session:
        def change(session: Session) -> tuple[dict[str, Any], list[NewFrame]]:
            self._refuse_unavailable(session, action)
            return apply.change(session, action.id, params)

        return await self._update(session_id, change)

    async def _run(
        self, session_id: str, principal: Principal, action: Action, params: dict[str, Any]
    ) -> tuple[Session, Job]:
        job_id = new_id("job")
        inputs: dict[str, Any] = {}

        def claim(session: Session) -> tuple[dict[str, Any], list[NewFrame]]:
            self._refuse_unavailable(session, action)
            inputs.update(apply.job_input(session, action.id, params))
            return (
                {
                    "status": "processing",
                    "active_job_id": job_id,
                    "active_action": action.id,
                    "current_step": action.text,
                },
                [
                    NewFrame(
                        "progress.update",
                        {
                            "status": "processing",
                            "action": action.id,
                            "actionId": job_id,
                            "progress": 0,
                        },
                    )
                ],
            )

        session = await self._update(session_id, claim)
        try:
            job = await self.jobs.create(
                action.flow or "", inputs, session.owner, job_id=job_id, session_id=session_id
            )
        except Exception as exc:
            await self._release(session_id, job_id, exc)
            raise
        return session, job

    async def _release(self, session_id: str, job_id: str, exc: Exception) -> None:
        """The job could not start (rate limit, invalid input): the session is idle again."""
        message = exc.message if isinstance(exc, GenFlowError) else "the action could not start"

        def release(session: Session) -> tuple[dict[str, Any], list[NewFrame]] | None:
            if session.active_job_id != job_id:
                return None
            return (
                {
                    "status": "idle",
                    "active_job_id": None,
                    "active_action": None,
                    "current_step": None,
                },
                [NewFrame("error", {"code": "not_started", "message": message})],
            )

        await self._update(session_id, release, missing_ok=True)

    async def job_ended(self, job: Job | None, *, session_id: str | None = None) -> Session | None:
        """Fold a finished job into its session, once (the runner calls this; so does any
        reader that finds a finished job still marked active)."""
        target = session_id or (job.session_id if job else None)
        if target is None:
            return None
        if job is not None and job.flow == "session.suggest":
            await self._suggestions_made(job)
            return None

        def fold(session: Session) -> tuple[dict[str, Any], list[NewFrame]] | None:
            if session.status != "processing" or (
                job is not None and session.active_job_id != job.id
            ):
                return None  # folded already, or another action's job
            return apply.job_result(session, job)

        return await self._update(target, fold, missing_ok=True)

    async def suggest(self, session_id: str, principal: Principal, data: dict[str, Any]) -> Job:
        """Three ideas for the current stage, made by a job; they arrive as a `suggestion`
        frame (any time, even while an action runs: they change nothing)."""
        problems = schema_errors(data, SUGGESTION_SCHEMA, "data")
        if problems:
            raise InvalidInput("invalid request.suggestion", problems)
        session = await self.get(session_id, principal)
        topic = apply.topic_title(session)
        inputs = {"stage": session.stage, **({"topic": topic} if topic else {}), **data}
        return await self.jobs.create(
            "session.suggest", inputs, session.owner, session_id=session_id
        )

    async def feedback(
        self, session_id: str, principal: Principal, data: dict[str, Any]
    ) -> Session:
        """A person's note, kept in the document; in the review stage it is also what the
        next `request_changes` (and the next model action) will use."""
        problems = schema_errors(data, FEEDBACK_SCHEMA, "data")
        if problems:
            raise InvalidInput("invalid feedback", problems)
        await self.get(session_id, principal)

        def record(session: Session) -> tuple[dict[str, Any], list[NewFrame]]:
            note = {
                "text": data["text"],
                "rating": data.get("rating"),
                "by": principal.sub,
                "stage": session.stage,
                "at": utcnow().isoformat(),
            }
            document = {
                **session.document,
                "feedback": [*session.document.get("feedback", []), note],
            }
            if session.stage == "review":
                document["pendingFeedback"] = data["text"]
            return {"document": document}, []

        return await self._update(session_id, record)

    async def _suggestions_made(self, job: Job) -> None:
        if job.status is not JobStatus.COMPLETED or not job.session_id:
            return
        data = {
            "suggestions": (job.result or {}).get("suggestions", []),
            "field": job.input.get("field"),
            "requestId": job.id,
        }
        frames = await self.store.append_frames(job.session_id, [NewFrame("suggestion", data)])
        self._publish(frames)

    async def sweep(self) -> int:
        """Expired sessions lose their working state (topics, notes, drafts, history);
        a completed one keeps its final article. They still answer 410. Idempotent, so
        every replica may run it."""
        stripped: set[str] = set()

        def strip(session: Session) -> tuple[dict[str, Any], list[NewFrame]] | None:
            kept = {"final": session.document["final"]} if "final" in session.document else {}
            if session.document == kept or not self.expired(session):
                return None
            stripped.add(session.id)
            return {"document": kept, "expires_at": session.expires_at}, []

        for session_id in await self.store.expired_sessions(self.clock()):
            await self._update(session_id, strip, missing_ok=True)
        return len(stripped)

    # -- the compare-and-set loop ---------------------------------------------------------

    async def _update(
        self,
        session_id: str,
        change: Change,
        *,
        missing_ok: bool = False,
    ) -> Any:
        for _ in range(CAS_TRIES):
            session = await self.store.get_session(session_id)
            if session is None:
                if missing_ok:
                    return None
                raise NotFound(f"session {session_id!r} not found")
            planned = change(session)
            if planned is None:
                return session
            changes, frames = planned
            changes.setdefault("expires_at", self.clock() + timedelta(seconds=self.ttl))
            saved = await self.store.update_session(
                session_id, version=session.version, changes=changes, frames=frames
            )
            if saved is not None:
                self._publish(saved[1])
                return saved[0]
        raise Conflict(f"session {session_id!r} is changing too fast; try again")

    def _publish(self, frames: list[Frame]) -> None:
        """Ring the session's doorbell on the event bus (followers re-read the store)."""
        if frames:
            last = frames[-1]
            self.bus.publish(
                [
                    Event(
                        job_id=last.session_id,
                        type=EventType.SESSION_FRAME,
                        data={"eventId": last.event_id},
                        ts=last.ts,
                        progress=0,
                        seq=last.event_id,
                    )
                ]
            )


def view(session: Session) -> dict[str, Any]:
    """What GET returns, and the WebSocket's `session.state` frame."""
    return {
        "sessionId": session.id,
        "articleId": session.article_id,
        "progress": {
            "stage": session.stage,
            "status": session.status,
            "progress": session.progress,
            "estimatedTime": apply.estimated_seconds(session),
            "currentStep": session.current_step,
        },
        "availableActions": [a.to_json() for a in available(session)],
        "capabilities": apply.CAPABILITIES[session.stage],
        "lastMessage": session.last_message,
        "document": session.document,
        "activeActionId": session.active_job_id if session.status == "processing" else None,
        "lastEventId": session.last_event_id,
        "expiresAt": session.expires_at.isoformat(),
    }
