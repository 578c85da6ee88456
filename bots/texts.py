"""What the bot says to people: API errors and refusals in words a Slack user can act on."""

from __future__ import annotations

from typing import Any

from backend.client import APIError, Unreachable
from bots.markdown import escape

PAST = {
    "approve": ("✅", "Approved"),
    "reject": ("↩️", "Rejected"),
    "regenerate": ("🔁", "Regeneration requested"),
    "revise": ("✏️", "Revision requested"),
}
BUTTON = {"approve": "Approve", "reject": "Reject", "regenerate": "Regenerate", "revise": "Revise"}


def who(by: str | None) -> str:
    """A decider as Slack shows them: `slack:U123` -> `<@U123>` (rendered as @name)."""
    if not by:
        return "someone"
    return f"<@{by.split(':', 1)[1]}>" if by.startswith("slack:") else escape(by)


def decided(decision: str, by: str | None, via: str | None = None) -> str:
    emoji, verb = PAST.get(decision, ("☑️", f"Decided “{decision}”"))
    where = (
        f" (via {via})" if via and via != "slack" and not (by or "").startswith("slack:") else ""
    )
    return f"{emoji} {verb} by {who(by)}{where}"


def api_error(exc: Exception, doing: str = "start the job") -> str:
    """One ephemeral line for a failed API call made to `doing` something."""
    if isinstance(exc, Unreachable):
        return (
            f":warning: GenFlow is unreachable right now, so I could not {doing}. "
            "Please try again in a moment (an admin can check that `genflow serve` is running)."
        )
    if not isinstance(exc, APIError):
        return f":warning: Something went wrong: {exc}"
    if exc.status == 422:
        fields = [f"{d.get('field')}: {str(d.get('message'))[:200]}" for d in _details(exc.details)]
        return f":warning: {exc.message}" + (f" ({'; '.join(fields)})" if fields else "")
    if exc.status == 429:
        return ":hourglass: Too many jobs at once; please wait a minute and try again."
    if exc.status == 401:
        return ":lock: GenFlow refused the bot's token; an admin should check GENFLOW_API_TOKEN."
    if exc.status == 404:
        return ":mag: That job no longer exists."
    return f":warning: GenFlow answered {exc.status}: {exc.message}"


def conflict(exc: APIError) -> str:
    """A 409 on a decision: someone else was first, or the review is no longer open."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if details.get("by"):
        verb = PAST.get(details.get("decision", ""), ("", details.get("decision", "decided")))[1]
        return f"This review was already decided by {who(details['by'])} ({verb.lower()})."
    return "This review is no longer open; the message shows where the job is now."


def session_conflict(why: str, last: str | None = None) -> str:
    """An action the session no longer offers (a 409): someone was first, or it moved on.
    `last` is the latest thing done from Slack, as the message words it."""
    line = f":information_source: That is no longer possible: {escape(why.rstrip('.'))}."
    if last:
        line += f" Latest from Slack: {last}."
    return line + " The message shows where the session is now."


def not_allowed(starter: str | None, thing: str = "job", doing: str = "decide this review") -> str:
    owner = f"<@{starter}>, who started this {thing}," if starter else "the person who started it"
    return f":no_entry: Only {owner} or a configured reviewer can {doing}."


def _details(details: Any) -> list[dict[str, Any]]:
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
