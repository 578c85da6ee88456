"""Jobs: create, list, get, decide a review, the review audit, cancel."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from backend.api import events, schemas
from backend.api.common import int_arg, json_body, principal
from backend.auth import Principal
from backend.domain import Job, JobStatus
from backend.errors import InvalidInput
from backend.people import acting
from backend.reviews import access
from backend.services import services

blueprint = Blueprint("jobs", __name__)


def shown(job: Job, caller: Principal) -> dict[str, Any]:
    """A job as the API answers `caller`: the job; `may_cancel`, whether the caller may
    cancel it (its owner and admins, not its assignees); and `may_decide`, whether the
    caller may decide its open review (its owner, admins, that review's assignees; false
    when none is open): reviews/access.py, the rules the cancel and decide routes apply.
    Surfaces offer Cancel and the decision buttons by these answers, so the rules stay
    the API's, in one place."""
    return {
        **job.to_json(),
        "may_cancel": access.may_cancel(caller, job),
        "may_decide": access.may_decide_open(caller, job),
    }


@blueprint.post("/api/jobs")
async def create_job() -> tuple[dict, int, dict] | Response:
    """201 with the job; or, asked with `Accept: text/event-stream`, 201 with the job's
    event stream (`job.created` first, as `GET /api/jobs/<id>/events` would send it):
    one request to start and follow a job, where two would cost the client a round trip
    and the server a second request."""
    caller = principal()
    parts = services()
    body = await json_body(schemas.CREATE_JOB)
    job = await parts.jobs.create(
        body["flow"],
        body["input"],
        (await _owner(caller, body.get("on_behalf_of"))).sub,
        reviewers=body.get("reviewers"),
        review_timeout=body.get("review_timeout"),
        on_timeout=body.get("on_timeout"),
    )
    location = {"Location": f"/api/jobs/{job.id}"}
    if events.wants_stream():
        return events.sse_response(job.id, 0, status=201, headers=location)
    return shown(job, caller), 201, location


async def _owner(caller: Principal, on_behalf_of: str | None) -> Principal:
    """Whose job it is: the caller's, or the person an admin token starts it for."""
    if on_behalf_of is None:
        return caller
    return await acting.act_for(services().store, caller, on_behalf_of)


@blueprint.get("/api/jobs")
async def list_jobs() -> dict:
    caller = principal()
    status_arg = request.args.get("status") or None
    try:
        status = JobStatus(status_arg) if status_arg else None
    except ValueError as exc:
        raise InvalidInput(
            f"unknown status {status_arg!r}",
            [
                {
                    "field": "status",
                    "message": f"use one of: {', '.join(s.value for s in JobStatus)}",
                }
            ],
        ) from exc
    limit = int_arg("limit", 20, low=1, high=100)
    assignee = _assignee(caller)
    owner = request.args.get("owner") if caller.admin or assignee else caller.sub
    jobs = await services().store.list_jobs(
        owner=owner or None,
        status=status,
        flow=request.args.get("flow") or None,
        limit=limit,
        before=request.args.get("cursor") or None,
        assignee=assignee,
    )
    next_cursor = jobs[-1].id if len(jobs) == limit else None
    return {"jobs": [shown(job, caller) for job in jobs], "next_cursor": next_cursor}


def _assignee(caller: Principal) -> str | None:
    """`?assigned=me`: the jobs whose reviews the caller is assigned to (whoever owns
    them); admins may name anyone."""
    assigned = request.args.get("assigned") or None
    if assigned is None:
        return None
    if assigned == "me":
        return caller.sub
    if caller.admin or assigned == caller.sub:
        return assigned
    raise InvalidInput(
        "assigned must be 'me' (admins may name a principal)",
        [{"field": "assigned", "message": "use assigned=me"}],
    )


@blueprint.get("/api/jobs/<job_id>")
async def get_job(job_id: str) -> dict:
    caller = principal()
    return shown(await services().jobs.get(job_id, caller), caller)


@blueprint.get("/api/jobs/<job_id>/reviews")
async def job_reviews(job_id: str) -> dict:
    return await services().jobs.reviews(job_id, principal())


@blueprint.post("/api/jobs/<job_id>/review")
async def decide(job_id: str) -> dict:
    caller = principal()
    body = await json_body(schemas.DECISION)
    job = await services().jobs.decide(
        job_id,
        caller,
        review_id=body["review_id"],
        decision=body["decision"],
        comment=body.get("comment"),
        via=body.get("via", "api"),
        edits=body.get("edits"),
    )
    return shown(job, caller)


@blueprint.post("/api/jobs/<job_id>/cancel")
async def cancel(job_id: str) -> dict:
    caller = principal()
    return shown(await services().jobs.cancel(job_id, caller), caller)
