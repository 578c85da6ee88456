"""HTML for the small panels around the chat: the job's status bar and the jobs list.

Everything from a job (inputs, titles, errors) is escaped: it is text typed by someone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from backend.client import JobView
from ui.deadlines import due_mark

STATES = {
    "pending": ("◔", "queued"),
    "running": ("⚙", "running"),
    "waiting_for_review": ("⚑", "waiting for review"),
    "completed": ("✔", "completed"),
    "failed": ("✘", "failed"),
    "cancelled": ("■", "cancelled"),
}
IDLE = (
    "Pick a mode and type, or use a command: <code>/article TOPIC</code>, "
    "<code>/image PROMPT</code>, <code>/task TEXT</code>; <code>/help</code> lists all."
)


def state_label(status: str) -> str:
    icon, label = STATES.get(status, ("•", status))
    return f"{icon} {label}"


def status_html(view: JobView | None, title: str | None, problem: str | None = None) -> str:
    """The job's title, state, overall progress and link (or a hint before any job)."""
    warning = f'<div class="gf-problem">{escape(problem)}</div>' if problem else ""
    if view is None:
        return f'<div class="gf-status" data-status="idle"><div>{IDLE}</div>{warning}</div>'
    progress = max(0, min(100, view.progress))
    job = escape(view.job_id)
    return (
        f'<div class="gf-status" data-status="{escape(view.status)}" data-progress="{progress}">'
        f'<div class="gf-line"><b class="gf-title">{escape(title or view.flow or "Job")}</b>'
        f'<span class="gf-state">{state_label(view.status)}</span>'
        f'<span class="gf-pct">{progress}%</span>'
        f'<a class="gf-link" href="?job={job}" title="Link to this job">{job}</a></div>'
        f'<div class="gf-bar"><div style="width:{progress}%"></div></div>{warning}</div>'
    )


def jobs_html(
    jobs: list[dict[str, Any]],
    *,
    current: str | None,
    titles: dict[str, str],
    problem: str | None = None,
    viewer: str | None = None,
    now: datetime | None = None,
) -> str:
    """Recent jobs, newest first; each is a link that reopens it (here or in a new tab).
    A job someone other than `viewer` owns (an admin sees everyone's) names its owner; one
    whose open review got its half-time reminder says when it is due."""
    if problem:
        return f'<div class="gf-jobs"><div class="gf-problem">{escape(problem)}</div></div>'
    if not jobs:
        return '<div class="gf-jobs"><p class="gf-empty">No jobs yet.</p></div>'
    now = now or datetime.now(UTC)
    rows = []
    for job in jobs:
        text = job_text(job)
        text = text if len(text) <= 60 else text[:59] + "…"
        icon, label = STATES.get(job.get("status", ""), ("•", job.get("status", "")))
        classes = "gf-job gf-current" if job["id"] == current else "gf-job"
        owner = str(job.get("owner") or "")
        whose = f" · by {escape(owner)}" if viewer and owner and owner != viewer else ""
        waiting = job.get("status") == "waiting_for_review"
        due = due_mark(job.get("review")) if waiting else None
        reminded = f' data-reminded="true" title="{escape(due)}"' if due else ""
        rows.append(
            f'<a class="{classes}" href="?job={escape(job["id"])}" data-job="{escape(job["id"])}"'
            f' data-status="{escape(job.get("status", ""))}"{reminded}>'
            f'<span class="gf-job-title">{icon} {escape(titles.get(job["flow"], job["flow"]))}'
            f'</span><span class="gf-job-text">{escape(text)}</span>'
            f'<span class="gf-job-meta">{escape(label)} · {age(job.get("created_at"), now)}'
            f"{whose}</span>"
            + (f'<span class="gf-job-due">{escape(due)}</span>' if due else "")
            + "</a>"
        )
    return f'<div class="gf-jobs">{"".join(rows)}</div>'


def job_text(job: dict[str, Any]) -> str:
    """What the job is about: its first text input, or the name of the workflow it runs
    (whose input is the whole spec)."""
    input_ = job.get("input") or {}
    spec = input_.get("spec")
    if job.get("flow") == "workflow" and isinstance(spec, dict):
        return str(spec.get("name") or input_.get("workflow_id") or "")
    values = [v for v in input_.values() if isinstance(v, str)]
    return values[0] if values else ""


def who_html(principal: str, admin: bool) -> str:
    """Who is logged in, and the way out (`/logout`, relative: the UI may sit under a path)."""
    role = ' <span class="gf-role">admin: sees everyone\'s</span>' if admin else ""
    return (
        f'<div class="gf-who">Logged in as <b id="gf-principal">{escape(principal)}</b>{role}'
        ' · <a href="logout" id="gf-logout">Log out</a></div>'
    )


def age(created_at: str | None, now: datetime) -> str:
    try:
        then = datetime.fromisoformat(str(created_at).replace("Z", "+00:00"))
    except ValueError:
        return ""
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"
