"""HTML for a GenFlow session's status (with its stage stepper) and the sessions list.

Everything from a session (titles, messages) is escaped: it is text typed by someone, or
written by a model. The chat's status-bar classes (`gf-line`, `gf-bar`…) are reused so
both views look alike.
"""

from __future__ import annotations

from html import escape
from typing import Any

STAGES = ("topic", "research", "writing", "styling", "review")
STATES = {
    "idle": ("✎", "your turn"),
    "processing": ("⚙", "working"),
    "error": ("✘", "the last action failed"),
    "completed": ("✔", "completed"),
}
NO_SESSION = (
    "Start a session with <b>New session</b> (a category or a topic), or reopen one from "
    "<b>Your sessions</b>."
)


def stepper_html(stage: str | None, status: str | None) -> str:
    """topic → research → writing → styling → review; the current stage highlighted."""
    current = STAGES.index(stage) if stage in STAGES else -1
    items = []
    for number, name in enumerate(STAGES):
        done = number < current or (status == "completed" and number <= current)
        state = "gs-done" if done else "gs-current" if number == current else "gs-todo"
        mark = "✔" if done else str(number + 1)
        aria = ' aria-current="step"' if number == current else ""
        items.append(
            f'<li class="gs-step {state}" data-stage="{name}"{aria}>'
            f'<span class="gs-dot">{mark}</span><span>{name.capitalize()}</span></li>'
        )
    return f'<ol class="gs-stepper">{"".join(items)}</ol>'


def state_label(status: str | None, current_step: str | None) -> str:
    icon, label = STATES.get(status or "", ("•", status or ""))
    if status == "processing" and current_step:
        label = f"{current_step}…"
    return f"{icon} {label}"


def status_html(
    state: dict[str, Any] | None, *, notice: str | None = None, problem: str | None = None
) -> str:
    """The session's stepper, title, state, progress, last message and link; then what
    this page has to say (`notice`, plain text) and a connection `problem`."""
    warning = f'<div class="gf-problem">{escape(problem)}</div>' if problem else ""
    warning += f'<div class="gs-notice">{escape(notice)}</div>' if notice else ""
    if state is None:
        return f'<div class="gs-status" data-status="none"><div>{NO_SESSION}</div>{warning}</div>'
    progress = state.get("progress") or {}
    stage, status = progress.get("stage"), progress.get("status")
    percent = max(0, min(100, int(progress.get("progress") or 0)))
    document = state.get("document") or {}
    topic = document.get("topic") or {}
    title = topic.get("title") or "No topic yet"
    angle = f'<span class="gs-angle">{escape(topic["angle"])}</span>' if topic.get("angle") else ""
    message = state.get("lastMessage")
    said = f'<div class="gs-message">{escape(message)}</div>' if message else ""
    session = escape(state.get("sessionId", ""))
    return (
        f'<div class="gs-status" data-stage="{escape(stage or "")}" '
        f'data-status="{escape(status or "")}" data-progress="{percent}">'
        f"{stepper_html(stage, status)}"
        f'<div class="gf-line"><b class="gs-title">{escape(title)}</b>{angle}'
        f'<span class="gs-state">{state_label(status, progress.get("currentStep"))}</span>'
        f'<span class="gf-pct">{percent}%</span>'
        f'<a class="gf-link" href="?session={session}" title="Link to this session">'
        f"{session}</a></div>"
        f'<div class="gf-bar"><div style="width:{percent}%"></div></div>{said}{warning}</div>'
    )


def sessions_html(
    sessions: list[dict[str, Any]], *, current: str | None, problem: str | None = None
) -> str:
    """The person's sessions, newest first; each a link that reopens it."""
    if problem:
        return f'<div class="gs-list"><div class="gf-problem">{escape(problem)}</div></div>'
    if not sessions:
        return '<div class="gs-list"><p class="gf-empty">No sessions yet.</p></div>'
    rows = []
    for item in sessions:
        session_id = str(item.get("sessionId", ""))
        progress = item.get("progress") or {}
        topic = (item.get("document") or {}).get("topic") or {}
        title = topic.get("title") or item.get("articleId") or session_id
        icon, label = STATES.get(progress.get("status", ""), ("•", progress.get("status", "")))
        classes = "gs-item gs-current-item" if session_id == current else "gs-item"
        rows.append(
            f'<a class="{classes}" href="?session={escape(session_id)}" '
            f'data-session="{escape(session_id)}">'
            f'<span class="gs-item-title">{escape(str(title))}</span>'
            f'<span class="gf-job-meta">{icon} {escape(str(progress.get("stage", "")))} · '
            f"{escape(label)}</span></a>"
        )
    return f'<div class="gs-list">{"".join(rows)}</div>'
