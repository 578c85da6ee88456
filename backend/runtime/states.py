"""The job state machine: which status may move to which, and who moves it.

    pending ──claim──▶ running ──park──▶ waiting_for_review ──decide──▶ running
                         │ ▲
                         │ └──claim (a lease expired: another runner takes over)
                         ├──complete──▶ completed
                         └──fail──────▶ failed
    pending | running | waiting_for_review ──cancel──▶ cancelled

Every write that changes a job names its `Transition`; the store applies it only when
the job's status is one of the transition's sources, so the first of two racing writers
wins and the other changes nothing. Runner transitions are also *fenced*: they carry the
attempt number of the runner's claim, and a runner whose lease another one took over
(its attempt is no longer the job's) cannot write one more event or checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backend.domain import JobStatus

PENDING, RUNNING = JobStatus.PENDING, JobStatus.RUNNING
WAITING, COMPLETED = JobStatus.WAITING_FOR_REVIEW, JobStatus.COMPLETED
FAILED, CANCELLED = JobStatus.FAILED, JobStatus.CANCELLED


class Actor(StrEnum):
    RUNNER = "runner"  # the worker that holds the job's lease (fenced writes)
    REVIEWER = "reviewer"  # whoever may decide the open review
    OWNER = "owner"  # the job's owner or an admin


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[JobStatus]
    target: JobStatus | None  # None: the status stays as it is (a checkpoint, progress)
    actor: Actor

    @property
    def fenced(self) -> bool:
        return self.actor is Actor.RUNNER and self.name != "claim"

    def allows(self, status: JobStatus) -> bool:
        return status in self.sources


def _t(name: str, sources: set[JobStatus], target: JobStatus | None, actor: Actor) -> Transition:
    return Transition(name, frozenset(sources), target, actor)


CLAIM = _t("claim", {PENDING, RUNNING}, RUNNING, Actor.RUNNER)  # RUNNING: lease expired
CHECKPOINT = _t("checkpoint", {RUNNING}, None, Actor.RUNNER)  # also progress and events
PARK = _t("park", {RUNNING}, WAITING, Actor.RUNNER)
COMPLETE = _t("complete", {RUNNING}, COMPLETED, Actor.RUNNER)
FAIL = _t("fail", {RUNNING}, FAILED, Actor.RUNNER)
DECIDE = _t("decide", {WAITING}, RUNNING, Actor.REVIEWER)
CANCEL = _t("cancel", {PENDING, RUNNING, WAITING}, CANCELLED, Actor.OWNER)

TRANSITIONS = {t.name: t for t in (CLAIM, CHECKPOINT, PARK, COMPLETE, FAIL, DECIDE, CANCEL)}
ACTIVE = CANCEL.sources  # a job is active while it can still be cancelled
RUNNABLE = CLAIM.sources  # jobs a queue must (eventually) run


def targets(status: JobStatus) -> set[JobStatus]:
    """Where a job in `status` may go next (a terminal status goes nowhere)."""
    return {t.target or status for t in TRANSITIONS.values() if status in t.sources}


class JobLost(Exception):
    """The job left this runner's hands (cancelled, or another runner took it over):
    stop without writing anything more."""
