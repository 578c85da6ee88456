"""A job's review terms: who reviews and how long a review may wait.

Per job (`POST /api/jobs {…, reviewers, review_timeout, on_timeout}`, the same on
`POST /api/workflows/{id}/execute`), validated when the job is created against the
reviews it can ask for (its flow's, or a workflow's review nodes'); per review, merged
with the gate's own declarations (flows/gate.py) when the review opens: the assignees
are the gate's plus the job's reviewers, the job's timeout wins over the gate's, and the
action is the first of the job's and the gate's `on_timeout` that this review can take
(one of its options but `edit`, which needs the reviewer's text), else `cancel`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from backend.domain import Job

CANCEL = "cancel"
EDIT = "edit"
TIMEOUT_BY = "genflow"  # who a deadline's decision is recorded as (a reserved account name)
MAX_REVIEWERS = 20
MAX_TIMEOUT = 365 * 24 * 3600.0

SCHEMA: dict[str, Any] = {
    "reviewers": {
        "type": "array",
        "items": {  # a principal's name; `x-message` is what a 422 says (schema_errors)
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "pattern": r"^[^\s\x00-\x1f\x7f]+$",
            "not": {"const": TIMEOUT_BY},
            "x-message": "use a principal's name (an account, or slack:<team>:<user>): 1-200 "
            f"characters without spaces or control characters, and not {TIMEOUT_BY!r} "
            "(reserved for deadlines)",
        },
        "maxItems": MAX_REVIEWERS,
        "uniqueItems": True,
        "description": "Principals who may decide this job's reviews (and see the job)",
    },
    "review_timeout": {
        "type": "number",
        "minimum": 1,
        "maximum": MAX_TIMEOUT,
        "description": "Seconds a review may wait; a reminder goes out at half time",
    },
    "on_timeout": {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "description": "What the deadline applies: one of the flow's review options, or cancel",
    },
}


def job_problems(
    what: str,
    review_options: Collection[str],
    reviewers: Collection[str],
    review_timeout: float | None,
    on_timeout: str | None,
) -> list[dict[str, str]]:
    """What is wrong with a job's terms for what it runs ([] when nothing is): `what` names
    it in the message (`flow 'review'`, `the workflow`), `review_options` are the options
    of every review it can ask for."""
    given = bool(reviewers) or review_timeout is not None or on_timeout is not None
    if given and not review_options:
        return [{"field": "body", "message": f"{what} asks for no reviews"}]
    problems = [
        {"field": "body.reviewers", "message": f"{name!r} is reserved for deadlines"}
        for name in reviewers
        if name == TIMEOUT_BY
    ]
    actions = timeout_actions(review_options)
    if on_timeout is not None and on_timeout not in actions:
        problems.append(
            {"field": "body.on_timeout", "message": f"use one of: {', '.join(actions)}"}
        )
    return problems


def timeout_actions(options: Collection[str]) -> list[str]:
    """What a deadline may apply to a review offering `options`."""
    return [*(o for o in options if o not in (EDIT, CANCEL)), CANCEL]


@dataclass(frozen=True)
class ReviewTerms:
    assignees: list[str]
    editable: list[str]
    deadline: datetime | None
    remind_at: datetime | None
    on_timeout: str | None


def review_terms(
    job: Job, request: Mapping[str, Any], options: list[str], now: datetime
) -> ReviewTerms:
    """The terms of the review a gate opens now: its request merged with the job's."""
    declared = [str(a) for a in request.get("assignees") or ()]
    assignees = list(dict.fromkeys([*declared, *job.reviewers]))
    editable = [str(f) for f in request.get("editable") or ()] if EDIT in options else []
    timeout = job.review_timeout if job.review_timeout is not None else request.get("timeout")
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        return ReviewTerms(assignees, editable, None, None, None)
    actions = timeout_actions(options)
    action = next((a for a in (job.on_timeout, request.get("on_timeout")) if a in actions), CANCEL)
    return ReviewTerms(
        assignees,
        editable,
        deadline=now + timedelta(seconds=timeout),
        remind_at=now + timedelta(seconds=timeout / 2),
        on_timeout=action,
    )
