"""How a review's deadline reads on the page: when it is due and what happens then, the
half-time reminder in the chat, and the mark in the jobs list.

Everything comes from the review as the API sends it (`deadline`, `on_timeout`,
`reminded_at`, folded from the job's events), so a reloaded page says what a live one
said. Times are the API's UTC, to the minute (with the date when it is not the same day):
people in different time zones read the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

THEN = {  # what the deadline applies, in words
    "cancel": "the job is cancelled",
    "approve": "it is approved as it stands",
    "reject": "it is rejected",
}


def moment(value: Any) -> datetime | None:
    """An ISO time from the API (None if there is none, or it is not a time)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        then = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (then if then.tzinfo else then.replace(tzinfo=UTC)).astimezone(UTC)


def clock(when: datetime, since: datetime | None = None) -> str:
    """`14:05 UTC`, or `2 Jan 14:05 UTC` when it is not on the day of `since`."""
    if since is not None and since.astimezone(UTC).date() != when.date():
        return f"{when.day} {when:%b %H:%M} UTC"
    return f"{when:%H:%M} UTC"


def then_words(on_timeout: Any) -> str:
    action = str(on_timeout or "cancel")
    return THEN.get(action, f"the decision is “{action}”")


def deadline_line(review: Mapping[str, Any]) -> str | None:
    """Under the review's request: when it is due, and what happens if nobody decides."""
    due = moment(review.get("deadline"))
    if due is None:
        return None
    since = moment(review.get("requested_at"))
    return (
        f"◷ Due at **{clock(due, since)}**: "
        f"undecided by then, {then_words(review.get('on_timeout'))}."
    )


def reminder_line(review: Mapping[str, Any]) -> str | None:
    """The chat's line for the half-time reminder (None: no reminder went out)."""
    reminded = review.get("reminded_at")
    if not reminded:
        return None
    due = moment(review.get("deadline"))
    if due is None:
        return "◷ **Reminder:** this review is still waiting for a decision."
    since = moment(reminded)
    return (
        f"◷ **This review is due at {clock(due, since)}** (half of its time is gone): "
        f"undecided by then, {then_words(review.get('on_timeout'))}."
    )


def due_mark(review: Mapping[str, Any] | None) -> str | None:
    """The jobs list's mark of an open review that got its reminder: `◷ due 14:05 UTC`."""
    if not review or not review.get("reminded_at"):
        return None
    due = moment(review.get("deadline"))
    return f"◷ due {clock(due, moment(review.get('reminded_at')))}" if due else "◷ reminded"
