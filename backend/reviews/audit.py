"""The review audit (`GET /api/jobs/{id}/reviews`): every request and decision of a job.

For each review: what was asked and of whom, when; what was shown, as the SHA-256 of the
payload's canonical JSON (keys sorted, no spaces, UTF-8), so a record can be checked
against a copy of the payload without storing it twice; its deadline and reminder; and
the decision: who, through which surface (`timeout` for a deadline), when, and what the
reviewer changed (edits and diffs).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from backend.domain import Job, Review, isoformat


def payload_sha256(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def audit(job: Job, reviews: list[Review]) -> dict[str, Any]:
    open_id = job.review.id if job.review else None
    return {
        "job_id": job.id,
        "owner": job.owner,
        "status": job.status.value,
        "reviews": [_entry(review, review.id == open_id) for review in reviews],
    }


def _entry(review: Review, is_open: bool) -> dict[str, Any]:
    return {
        "review_id": review.id,
        "node": review.node,
        "prompt": review.prompt,
        "options": list(review.options),
        "assignees": list(review.assignees),
        "editable": list(review.editable),
        "requested_at": isoformat(review.requested_at),
        "payload_sha256": payload_sha256(review.payload),
        "deadline": _time(review.deadline),
        "on_timeout": review.on_timeout if review.deadline else None,
        "remind_at": _time(review.remind_at),
        "reminded_at": _time(review.reminded_at),
        "state": _state(review, is_open),
        "decision": _decision(review),
    }


def _state(review: Review, is_open: bool) -> str:
    """open, decided, timed_out, or closed (the job ended while it waited)."""
    if review.decision is None:
        return "open" if is_open else "closed"
    return "timed_out" if review.decided_via == "timeout" else "decided"


def _decision(review: Review) -> dict[str, Any] | None:
    if review.decision is None:
        return None
    return {
        "decision": review.decision,
        "comment": review.comment,
        "by": review.decided_by,
        "via": review.decided_via,
        "at": _time(review.decided_at),
        "edits": review.edits,
        "diff": review.diff,
    }


def _time(moment: Any) -> str | None:
    return isoformat(moment) if moment else None
