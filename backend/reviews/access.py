"""Who may see a job, and who may decide its review: ONE rule, whatever the surface.

A job is seen by its owner, admins, and its assignees (the job's reviewers and the
assignees of any of its reviews); everyone else gets 404, as if it did not exist. A
review is decided by the job's owner, admins, and that review's assignees; someone who
can see the job but is not among them gets 403. Cancelling stays the owner's (and
admins'). The web chat and the Slack bot ask the API, so the rule is enforced here only:
a job answer carries `may_cancel` and `may_decide` (for its open review), computed by
the functions the routes apply, and surfaces offer buttons by those answers.
"""

from __future__ import annotations

from backend.auth import Principal
from backend.domain import Job, JobStatus, Review
from backend.store.base import Store


async def can_see(store: Store, principal: Principal, job: Job) -> bool:
    """Owner and admins without a lookup; an assignee after one."""
    if principal.can_see(job.owner):
        return True
    return await is_assignee(store, principal, job.id)


async def is_assignee(store: Store, principal: Principal, job_id: str) -> bool:
    """Whether any name of the caller (a linked Slack user too) is one of the job's."""
    for name in sorted(principal.names):
        if await store.is_assignee(job_id, name):
            return True
    return False


def may_decide(principal: Principal, job: Job, review: Review) -> bool:
    return principal.can_see(job.owner) or not principal.names.isdisjoint(review.assignees)


def may_decide_open(principal: Principal, job: Job) -> bool:
    """Whether the caller may decide the job's open review (no review open: False), by
    the decide route's rule: the owner, admins, that review's assignees."""
    review = job.review
    if review is None or job.status is not JobStatus.WAITING_FOR_REVIEW:
        return False
    return may_decide(principal, job, review)


def may_cancel(principal: Principal, job: Job) -> bool:
    return principal.can_see(job.owner)
