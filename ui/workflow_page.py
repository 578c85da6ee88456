"""The Workflows view: its layout (`build`, inside the caller's tab) and how its events are
wired (`wire`). What each event does is in `ui.workflow_handlers`.

Describe → Generate (or a template, or the editor) → the workflow with its diagram, cost
and spec → Run with a form built from its input fields → the run in a job panel, the same
one the Chat tab shows (`ui.job_panel`): rendered, followed and decided by the chat's
handlers, from this tab's own job `Session`.

Drafting waits for the model (minutes on the embedded one), so it runs in the followers'
concurrency group, like every handler that waits for a model or a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from ui import job_panel
from ui.handlers import Handlers
from ui.job_panel import JobPanel
from ui.session import Session
from ui.workflow_assets import SET_WORKFLOW_URL
from ui.workflow_document import summary_markdown
from ui.workflow_form import component, form_fields
from ui.workflow_handlers import WorkflowHandlers
from ui.workflow_panels import status_html
from ui.workflow_view import WorkflowTab

EXAMPLE = "e.g. Draft a short article on a topic I give, and let me approve it before it is final"


@dataclass
class WorkflowPage:
    tab: gr.State
    run: gr.State  # the run's job, a `Session` like the Chat tab's
    workflow_id: gr.Textbox
    form_key: gr.Textbox
    prompt: gr.Textbox
    generate: gr.Button
    status: gr.HTML
    summary: gr.Markdown
    diagram: gr.Markdown
    editor: gr.Code
    errors: gr.Markdown
    save: gr.Button
    run_area: gr.Column
    form_box: gr.Column
    run_problem: gr.Markdown
    panel_box: gr.Column  # shown from the first run on
    panel: JobPanel
    templates: gr.Dropdown
    workflows: gr.HTML
    refresh: gr.Button

    def view(self) -> list[Any]:
        """The components `WorkflowHandlers.outputs()` renders, in its order."""
        return [
            self.status,
            self.workflow_id,
            self.summary,
            self.diagram,
            self.editor,
            self.errors,
            self.form_key,
            self.generate,
            self.run_area,
        ]


def build(poll_seconds: float) -> WorkflowPage:
    """The view's components, laid out in the current Blocks context."""
    # One per tab, copied from these empty ones (as the chat's state).
    tab = gr.State(WorkflowTab())
    run = gr.State(Session())
    workflow_id = gr.Textbox(visible=False, elem_id="gw-workflow-id")
    form_key = gr.Textbox(visible=False, elem_id="gw-form-key")
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            with gr.Row(equal_height=True):
                prompt = gr.Textbox(
                    label="Describe what you want",
                    placeholder=EXAMPLE,
                    lines=2,
                    max_lines=6,
                    scale=5,
                    elem_id="gw-prompt",
                )
                generate = gr.Button(
                    "Generate", variant="primary", scale=0, min_width=120, elem_id="gw-generate"
                )
            status = gr.HTML(status_html(WorkflowTab()), elem_id="gw-status")
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=320):
                    summary = gr.Markdown(summary_markdown(WorkflowTab()), elem_id="gw-summary")
                    diagram = gr.Markdown(visible=False, elem_id="gw-diagram")
                with gr.Column(scale=1, min_width=320):
                    editor = gr.Code(
                        language="json",
                        label="The spec: JSON (or YAML), edit it and Save",
                        lines=14,
                        max_lines=28,
                        wrap_lines=True,
                        elem_id="gw-editor",
                    )
                    errors = gr.Markdown(visible=False, elem_id="gw-errors")
                    save = gr.Button("Save", elem_id="gw-save")
            with gr.Column(visible=False, elem_id="gw-run-area") as run_area:
                gr.Markdown("### Run it")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=280):
                        form_box = gr.Column(elem_id="gw-form")  # filled by `wire`'s render
                        run_problem = gr.Markdown(visible=False, elem_id="gw-run-problem")
                    with gr.Column(scale=2, visible=False, elem_id="gw-run-box") as panel_box:
                        panel = job_panel.build("gw-run", poll_seconds)
        with gr.Column(scale=1, min_width=260):
            templates = gr.Dropdown(
                choices=[],
                label="Start from a template",
                info="Loads it into the editor; nothing is stored until you save.",
                elem_id="gw-template",
            )
            gr.Markdown("### Your workflows")
            workflows = gr.HTML(elem_id="gw-list")
            refresh = gr.Button("↻ Refresh", size="sm", elem_id="gw-refresh")
    return WorkflowPage(
        tab=tab,
        run=run,
        workflow_id=workflow_id,
        form_key=form_key,
        prompt=prompt,
        generate=generate,
        status=status,
        summary=summary,
        diagram=diagram,
        editor=editor,
        errors=errors,
        save=save,
        run_area=run_area,
        form_box=form_box,
        run_problem=run_problem,
        panel_box=panel_box,
        panel=panel,
        templates=templates,
        workflows=workflows,
        refresh=refresh,
    )


def wire(
    demo: gr.Blocks,
    page: WorkflowPage,
    h: WorkflowHandlers,
    chat: Handlers,
    tabs: gr.Tabs,
    *,
    jobs: gr.HTML,
    follow_opts: dict[str, Any],
) -> None:
    """The view's events; `chat` renders and follows the run's job (decided as the person
    logged in) and `jobs` (the chat's list) is refreshed when a run stops."""
    view = page.view()
    waits = dict(
        concurrency_id=follow_opts["concurrency_id"],
        concurrency_limit=follow_opts["concurrency_limit"],
    )
    page.workflow_id.change(None, [page.workflow_id], [], js=SET_WORKFLOW_URL)
    demo.load(
        h.load,
        [page.tab, page.run],
        [*view, page.templates, tabs, page.workflows],
        show_progress="hidden",
    )
    gr.on(  # waits for the model: in the followers' group, not the default one
        [page.generate.click, page.prompt.submit],
        h.generate,
        [page.prompt, page.tab],
        [*view, page.workflows],
        api_name="workflow_generate",
        show_progress="hidden",
        **waits,
    )
    page.templates.input(
        h.start_from, [page.templates, page.tab], view, api_name="workflow_template",
        show_progress="hidden",
    )  # fmt: skip
    page.save.click(
        h.save,
        [page.editor, page.tab],
        [*view, page.workflows],
        api_name="workflow_save",
        show_progress="hidden",
    )
    page.refresh.click(
        h.workflows_panel, [page.tab], [page.workflows], api_name="workflows",
        show_progress="hidden",
    )  # fmt: skip
    job_panel.wire(
        page.panel, page.run, chat, jobs=jobs, follow_opts=follow_opts, api_prefix="workflow_"
    )
    following = [*page.panel.view(), jobs]

    with page.form_box:

        @gr.render(inputs=[page.tab], triggers=[page.form_key.change], show_progress="hidden")
        def run_form(tab: WorkflowTab) -> None:
            """The Run form of the workflow shown (rebuilt for each workflow or version)."""
            if tab.made is None:
                if tab.draft is not None:
                    gr.Markdown("Save the workflow to run it.", elem_id="gw-form-note")
                return
            fields = form_fields(tab.spec)
            if not fields:
                gr.Markdown("It takes no input.", elem_id="gw-form-note")
            boxes = [component(field) for field in fields]
            run = gr.Button("Run", variant="primary", elem_id="gw-run")
            started = run.click(
                h.runner(fields),
                [page.tab, page.run, *boxes],
                [page.run_problem, page.panel_box, *page.panel.view()],
                show_progress="hidden",
                api_visibility="private",
            )
            started.then(
                chat.follow, [page.run], following, api_visibility="private", **follow_opts
            )
