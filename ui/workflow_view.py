"""One browser tab's Workflows view: the workflow it shows, and what the page said about
the last thing done.

The workflow is what the API answered (`GET/POST/PUT /api/workflows…`, or generation):
its spec with the computed cost and time, its validation and where it came from. A spec
loaded from a template is shown too but is not stored until it is saved, so it has no id,
cost or version. The job that runs the workflow is not kept here: it is an ordinary job,
in the tab's job `Session`, shown and followed like every job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SPEC_KEYS = ("name", "description", "nodes", "connections")  # what a spec may hold
NODE_KEYS = ("id", "type", "config", "position")


def spec_of(workflow: dict[str, Any]) -> dict[str, Any]:
    """The spec alone, in its usual key order: the API adds the estimates to it, and a
    stored spec may come back with its keys sorted."""
    spec = {key: workflow[key] for key in SPEC_KEYS if key in workflow}
    spec["nodes"] = [
        {key: node[key] for key in NODE_KEYS if key in node} for node in spec.get("nodes") or []
    ]
    spec["connections"] = [
        {key: edge[key] for key in ("source", "target", "type") if key in edge}
        for edge in spec.get("connections") or []
    ]
    return spec


@dataclass
class WorkflowTab:
    made: dict[str, Any] | None = None  # the stored workflow, as the API describes it
    draft: dict[str, Any] | None = None  # a template's spec, not stored yet
    template: str | None = None  # the title of the template `draft` came from
    templates: list[dict[str, Any]] = field(default_factory=list)
    drafting: bool = False  # the model is drafting a workflow for this tab
    errors: list[dict[str, Any]] = field(default_factory=list)  # the last save's (422)
    notice: str | None = None  # what this page says about the last thing done (plain text)
    loads: int = 0  # how many specs were put in the editor: a new one replaces its text

    @property
    def workflow_id(self) -> str | None:
        return self.made["workflow_id"] if self.made else None

    @property
    def spec(self) -> dict[str, Any] | None:
        """The spec shown: the stored workflow's, or a template's not saved yet."""
        if self.made is not None:
            return spec_of(self.made.get("workflow") or {})
        return self.draft

    @property
    def form_key(self) -> str:
        """Names the run form to show: a new workflow or version rebuilds it."""
        if self.made is None:
            return f"draft:{self.loads}" if self.draft else ""
        return f"{self.made['workflow_id']}:{self.made.get('version', 1)}"

    def open(self, made: dict[str, Any]) -> None:
        """Show a stored workflow (opened, generated or just saved)."""
        self.made, self.draft, self.template = made, None, None
        self.errors, self.notice = [], None
        self.loads += 1

    def start_from(self, template: dict[str, Any]) -> None:
        """Put a template's spec in the editor, unsaved: Save stores it as a new workflow."""
        self.made, self.draft = None, spec_of(template.get("workflow") or {})
        self.template = str(template.get("title") or template.get("name") or "a template")
        self.errors, self.notice = [], None
        self.loads += 1

    def drop(self, reason: str) -> None:
        """No workflow to show (not found, not ours): say why instead."""
        self.made = self.draft = self.template = None
        self.errors, self.notice = [], reason
        self.loads += 1

    def template_named(self, name: str | None) -> dict[str, Any] | None:
        return next((t for t in self.templates if t.get("name") == name), None)
