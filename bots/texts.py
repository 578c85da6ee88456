"""What the bot says to people: decisions, refusals, reminders and API errors, in words a
Slack user can act on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.client import APIError, Unreachable
from bots.markdown import escape
from bots.people import mention, slack_user_id

PAST = {
    "approve": ("✅", "Approved"),
    "reject": ("↩️", "Rejected"),
    "regenerate": ("🔁", "Regeneration requested"),
    "revise": ("✏️", "Revision requested"),
    "edit": ("✏️", "Edited and approved"),
    "cancel": ("🚫", "Cancelled"),
}
BUTTON = {
    "approve": "Approve",
    "reject": "Reject",
    "regenerate": "Regenerate",
    "revise": "Revise",
    "edit": "Edit",
}
# What a passed deadline does, as "then GenFlow …" ends (a review's `on_timeout`).
ON_TIMEOUT = {
    "approve": "approves it",
    "reject": "rejects it",
    "regenerate": "asks for another attempt",
    "revise": "asks for a revision",
    "cancel": "cancels the job",
}
NO_LONGER_OPEN = "This review is no longer open; the message shows where the job is now."


def who(by: str | None) -> str:
    """A decider as Slack shows them: `slack:T1:U1` -> `<@U1>` (rendered as @name)."""
    return mention(by)


def decided(
    decision: str, by: str | None, via: str | None = None, changed: tuple[int, int] | None = None
) -> str:
    """Who decided what; for an edit, `changed` (lines added, removed: the decision's diff)
    as a short count, since the diff itself is in the web chat and the review audit."""
    emoji, verb = PAST.get(decision, ("☑️", f"Decided “{decision}”"))
    if via == "timeout":  # nobody decided in time: the review's on_timeout was applied
        return f"◷ Timed out: {verb[0].lower() + verb[1:]} by {who(by)}"
    elsewhere = via and via != "slack" and slack_user_id(by) is None
    line = f"{emoji} {verb} by {who(by)}" + (f" (via {via})" if elsewhere else "")
    return line + (f" · edited: +{changed[0]}/-{changed[1]} lines" if changed else "")


def when(moment: str | None) -> str:
    """An ISO-8601 time as Slack shows it in each reader's own time zone."""
    if not moment:
        return "soon"
    try:
        stamp = int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return escape(moment)
    return f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{escape(moment)}>"


def then(on_timeout: str | None) -> str:
    """What happens when a review's deadline passes: "GenFlow rejects it"."""
    action = ON_TIMEOUT.get(on_timeout or "cancel", f"decides “{escape(str(on_timeout))}”")
    return f"GenFlow {action}"


def due(review: dict[str, Any]) -> str | None:
    """The open review's deadline line for its message, or None when it has none."""
    if not review.get("deadline"):
        return None
    line = f"◷ Due {when(review['deadline'])}; then {then(review.get('on_timeout'))}."
    return line + (" A reminder was sent." if review.get("reminded_at") else "")


def reminder(people: list[str], deadline: str | None, on_timeout: str | None) -> str:
    """The one thread reply at half of a review's time: who should decide, and by when."""
    mentions = " ".join(dict.fromkeys(people)) or "Reviewers"
    return (
        f"◷ {mentions}: this review is still waiting for a decision. It is due "
        f"{when(deadline)}; then {then(on_timeout)}."
    )


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
    return NO_LONGER_OPEN


def session_conflict(why: str, last: str | None = None) -> str:
    """An action the session no longer offers (a 409): someone was first, or it moved on.
    `last` is the latest thing done from Slack, as the message words it."""
    line = f":information_source: That is no longer possible: {escape(why.rstrip('.'))}."
    if last:
        line += f" Latest from Slack: {last}."
    return line + " The message shows where the session is now."


def not_allowed(starter: str | None, assignees: list[str] | None = None) -> str:
    """GenFlow refused a decision (403, or 404: the job is not theirs to see): who may
    decide it instead. `starter` is how to name the job's owner (`<@U…>`); `assignees`
    are the review's (principals: the job's reviewers and those its gate names)."""
    owner = f"{starter} (who started the job)" if starter else "the person who started the job"
    names = [owner]
    for principal in assignees or []:
        name = who(principal)
        if name not in names and name != starter:
            names.append(name)
    return f":no_entry: You may not decide this review: only {', '.join(names)} or an admin may."


def not_yours(starter: str | None) -> str:
    """GenFlow refused a session action: a session is its starter's alone."""
    owner = f"<@{starter}>" if starter else "the person who started it"
    return (
        f":no_entry: You may not drive this session: it belongs to {owner}, "
        "and only they can move it on."
    )


def unchanged() -> str:
    return (
        ":information_source: You changed nothing, so nothing was sent; the review is "
        "still open (use *Approve* to approve it as it is)."
    )


def _details(details: Any) -> list[dict[str, Any]]:
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
