"""What happens on each event of the Workflows view: load, generate, a template, save,
run, the workflows list.

Every handler takes the tab's `WorkflowTab` and returns or yields `outputs()` (the order
is `WorkflowPage.view()`'s). A run is an ordinary job: it opens in the view's job panel
through the chat's own path (`Session.open`), and the chat's handlers render, follow and
decide it. Each handler acts through the API client of the person behind the event (the
chat's `clients(request)`). No handler lets an exception escape: the page says what went
wrong in words, and the UI's log keeps any traceback.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr

from backend.client import APIError, GenFlowClient, Unreachable
from ui.conversation import ChatView
from ui.errors import explain
from ui.handlers import Handlers, strip_markdown
from ui.session import Session
from ui.workflow_document import (
    diagram_markdown,
    editor_text,
    errors_markdown,
    problem_line,
    summary_markdown,
)
from ui.workflow_form import Field, Incomplete, input_data
from ui.workflow_panels import status_html, workflows_html
from ui.workflow_view import WorkflowTab

WORKFLOW_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # a workflow id goes into an API path
VIEW_OUTPUTS = 9  # the length of `outputs()`


def workflow_problem(exc: BaseException) -> str:
    """Plain text for the status line: why the workflow cannot be shown or stored."""
    if isinstance(exc, APIError) and not isinstance(exc, Unreachable):
        if exc.status == 404:
            return "⚠ Not found: no such workflow (or it is not yours)."
        if exc.status == 409:
            return (
                "⚠ Not saved: this workflow changed meanwhile (another edit was saved first). "
                "Copy your edit, reopen the workflow from Your workflows, and save again."
            )
        if exc.status >= 500 and exc.code == "generation_failed":
            return f"⚠ The model could not draft a workflow: {exc.message}"
    return strip_markdown(explain(exc))


def run_problem(exc: BaseException) -> str:
    """Markdown beside the Run button: why the workflow did not start, one line per
    problem (a 422 names the input field, or the placeholder's node and field)."""
    if isinstance(exc, Incomplete):
        return f"⚠ {exc}"
    if isinstance(exc, APIError) and exc.status == 422:
        lines = [f"⚠ **The workflow did not run:** {exc.message}."]
        details = exc.details if isinstance(exc.details, list) else []
        lines += [f"- {problem_line(d)}" for d in details if isinstance(d, dict)]
        return "\n".join(lines)
    return "⚠ " + workflow_problem(exc).removeprefix("⚠ ")


class WorkflowHandlers:
    """The Workflows view's behaviour, around the chat's handlers (client, job panel)."""

    def __init__(self, chat: Handlers) -> None:
        self.chat = chat

    def client(self, request: gr.Request) -> GenFlowClient:
        return self.chat.clients(request)

    # -- rendering -----------------------------------------------------------------------

    def outputs(self, tab: WorkflowTab, *, editor: bool = False) -> tuple[Any, ...]:
        """Every part of the view; the editor's text only when `editor` (a new spec came
        in), so that re-rendering for anything else keeps the person's edit."""
        spec = tab.spec
        return (
            status_html(tab),
            tab.workflow_id or "",
            summary_markdown(tab),
            gr.Markdown(diagram_markdown(spec), visible=spec is not None),
            editor_text(spec) if editor else gr.skip(),
            gr.Markdown(errors_markdown(tab.errors), visible=bool(tab.errors)),
            tab.form_key,
            gr.Button(interactive=not tab.drafting),
            gr.Column(visible=spec is not None),
        )

    async def workflows_panel(self, tab: WorkflowTab, request: gr.Request) -> str:
        return await self.workflows_list(self.client(request), tab)

    async def workflows_list(self, client: GenFlowClient, tab: WorkflowTab) -> str:
        try:
            listing = await client.workflows(limit=30)
        except Exception as exc:
            return workflows_html([], current=tab.workflow_id, problem=workflow_problem(exc))
        return workflows_html(listing.get("workflows") or [], current=tab.workflow_id)

    # -- events --------------------------------------------------------------------------

    async def load(self, tab: WorkflowTab, run: Session, request: gr.Request) -> tuple[Any, ...]:
        """A new tab: the templates, the workflow named in the URL (`?workflow=…`, which
        opens this tab), and the person's workflows."""
        client = self.client(request)
        self.chat.track(request, run, "workflow")
        try:
            tab.templates = await client.workflow_templates()
        except Exception as exc:
            tab.notice = workflow_problem(exc)
        wanted = (request.query_params.get("workflow") or "").strip()
        if WORKFLOW_ID.match(wanted):
            await self._open(client, tab, wanted)
        elif wanted:
            tab.drop("⚠ Not found: the link does not name a workflow.")
        templates = gr.Dropdown(
            choices=[(str(t.get("title") or t["name"]), t["name"]) for t in tab.templates],
            value=None,
        )
        selected = gr.Tabs(selected="workflows") if wanted else gr.skip()
        return (
            *self.outputs(tab, editor=tab.spec is not None),
            templates,
            selected,
            await self.workflows_list(client, tab),
        )

    async def _open(self, client: GenFlowClient, tab: WorkflowTab, workflow_id: str) -> None:
        try:
            tab.open(await client.workflow(workflow_id))
        except Exception as exc:
            tab.drop(workflow_problem(exc))

    async def generate(
        self, prompt: str, tab: WorkflowTab, request: gr.Request
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Draft a workflow from the request. The model takes a while (minutes on the
        embedded one): the view says it is drafting meanwhile, and the page stays live."""
        client = self.client(request)
        prompt = (prompt or "").strip()
        if not prompt:
            tab.notice = "⚠ Describe what you want first, then Generate."
            yield (*self.outputs(tab), gr.skip())
            return
        tab.drafting, tab.notice = True, None
        yield (*self.outputs(tab), gr.skip())
        made: dict[str, Any] | None = None
        try:
            made = await client.generate_workflow(prompt)
        except Exception as exc:
            tab.notice = workflow_problem(exc)
        finally:
            tab.drafting = False
        if made is None:
            yield (*self.outputs(tab), gr.skip())
            return
        tab.open(made)
        yield (*self.outputs(tab, editor=True), await self.workflows_list(client, tab))

    def start_from(
        self, name: str | None, tab: WorkflowTab, request: gr.Request
    ) -> tuple[Any, ...]:
        """A template's spec in the editor, to edit and save as a new workflow."""
        self.client(request)  # only the page's own person may change its view
        template = tab.template_named(name)
        if template is None:
            return self.outputs(tab)
        tab.start_from(template)
        return self.outputs(tab, editor=True)

    async def save(self, text: str, tab: WorkflowTab, request: gr.Request) -> tuple[Any, ...]:
        """Store the editor's spec (JSON or YAML): a new version of the workflow shown, or
        a new workflow. Refused: the problems next to the editor, the text kept."""
        client = self.client(request)
        if not (text or "").strip():
            tab.notice = "⚠ The editor is empty: write a spec, or start from a template."
            return (*self.outputs(tab), gr.skip())
        try:
            if tab.workflow_id:
                made = await client.update_workflow(tab.workflow_id, text)
            else:
                made = await client.save_workflow(text)
        except APIError as exc:
            if exc.status == 422 and isinstance(exc.details, list) and exc.details:
                tab.errors, tab.notice = [d for d in exc.details if isinstance(d, dict)], None
            else:
                tab.errors, tab.notice = [], workflow_problem(exc)
            return (*self.outputs(tab), gr.skip())
        except Exception as exc:
            tab.errors, tab.notice = [], workflow_problem(exc)
            return (*self.outputs(tab), gr.skip())
        tab.open(made)
        tab.notice = f"✔ Saved: version {made.get('version', 1)}."
        return (*self.outputs(tab, editor=True), await self.workflows_list(client, tab))

    def runner(self, fields: list[Field]) -> Callable[..., Any]:
        """The Run button's handler for a form of these `fields` (its boxes' values follow
        the request, the tab and the job session, in this order). Outputs: the problem
        beside the button, the job panel (shown from the first run on), then the job's view."""

        async def run(
            request: gr.Request, tab: WorkflowTab, session: Session, *values: Any
        ) -> tuple[Any, ...]:
            client = self.client(request)
            keep = (gr.skip(),) * (1 + len(self.chat.view_outputs(session)))
            workflow_id, spec = tab.workflow_id, tab.spec or {}
            if workflow_id is None:
                return (gr.Markdown("⚠ Save the workflow first.", visible=True), *keep)
            try:
                data = input_data(fields, list(values))
                job = await client.execute_workflow(workflow_id, data)
            except Exception as exc:
                return (gr.Markdown(run_problem(exc), visible=True), *keep)
            # The status bar titles a job by its flow's title: here, the workflow's name.
            session.flows = [{"name": "workflow", "title": spec.get("name") or workflow_id}]
            session.open(ChatView.of_job(job))
            shown = gr.Column(visible=True)
            return (gr.Markdown("", visible=False), shown, *self.chat.view_outputs(session))

        return run
