"""HTML for the Workflows view's small panels: the status line (drafting, what the page
has to say) and the person's workflows, each a link that opens it.

Everything from a workflow (names, messages) is escaped: it is text typed by someone, or
written by a model. The chat's list classes are reused so the lists look alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from ui.panels import age
from ui.workflow_view import WorkflowTab

DRAFTING = "Drafting… (the model drafts, the server validates)"


def status_html(tab: WorkflowTab) -> str:
    """What the view is doing: drafting (with a spinner), or the last notice (else it is
    hidden: the summary says what to do first)."""
    if tab.drafting:
        return (
            '<div class="gw-status" data-state="drafting" role="status">'
            f'<span class="gw-spinner" aria-hidden="true"></span>{escape(DRAFTING)}</div>'
        )
    if tab.notice:
        return (
            f'<div class="gw-status" data-state="notice" role="status">{escape(tab.notice)}</div>'
        )
    state = "idle" if tab.spec is None else "saved" if tab.made is not None else "unsaved"
    return f'<div class="gw-status gw-quiet" data-state="{state}"></div>'


def workflows_html(
    workflows: list[dict[str, Any]], *, current: str | None, problem: str | None = None
) -> str:
    """The person's workflows, newest first (`GET /api/workflows`)."""
    if problem:
        return f'<div class="gf-jobs"><div class="gf-problem">{escape(problem)}</div></div>'
    if not workflows:
        return '<div class="gf-jobs"><p class="gf-empty">No workflows yet.</p></div>'
    now = datetime.now(UTC)
    rows = []
    for item in workflows:
        workflow_id = escape(str(item.get("workflow_id", "")))
        classes = "gf-job gf-current" if item.get("workflow_id") == current else "gf-job"
        steps = item.get("nodes")
        meta = [f"{steps} steps" if isinstance(steps, int) else "", f"v{item.get('version', 1)}"]
        meta.append(age(item.get("updated_at"), now))
        rows.append(
            f'<a class="{classes}" href="?workflow={workflow_id}" data-workflow="{workflow_id}">'
            f'<span class="gf-job-title">{escape(str(item.get("name") or workflow_id))}</span>'
            f'<span class="gf-job-meta">{escape(" · ".join(m for m in meta if m))}</span></a>'
        )
    return f'<div class="gf-jobs">{"".join(rows)}</div>'
