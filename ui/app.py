"""The GenFlow web chat: the page layout and how its events are wired (Gradio 6).

`build_ui()` returns the Blocks; `launch()` serves them; `main()` is what `genflow ui`
(and `python -m ui`) runs. The UI is a client of the GenFlow API through
`backend.client` only; tests point it anywhere by passing `client_factory`.

Concurrency: each tab's job is followed by a streaming handler that ends whenever the job
waits for a person, so reviews that wait for hours hold no Gradio worker; while a review
is open a timer polls the job, and a decision (from this page or anywhere else) starts a
new follower. Follower handlers share one concurrency group sized for many tabs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import gradio as gr
import httpx

from backend.client import GenFlowClient, client_from_env
from ui import job_panel, session_page, workflow_page
from ui.assets import CSS, PLACEHOLDER, SET_URL, theme
from ui.handlers import Handlers
from ui.job_panel import JobPanel
from ui.panels import status_html
from ui.session import Session
from ui.session_assets import SESSION_CSS
from ui.session_handlers import SessionHandlers
from ui.settings import UISettings
from ui.workflow_assets import WORKFLOW_CSS
from ui.workflow_handlers import WorkflowHandlers


def default_client_factory(settings: UISettings) -> Callable[[], GenFlowClient]:
    """GENFLOW_API_URL / GENFLOW_API_TOKEN, with a connection pool big enough for every
    live follower (each holds one SSE connection) plus the short calls."""
    limits = httpx.Limits(max_connections=settings.max_followers + 50, max_keepalive_connections=20)
    return lambda: client_from_env(transport=httpx.AsyncHTTPTransport(limits=limits))


def build_ui(
    client_factory: Callable[[], GenFlowClient] | None = None,
    settings: UISettings | None = None,
) -> gr.Blocks:
    settings = settings or UISettings.from_env()
    h = Handlers(client_factory or default_client_factory(settings), settings)
    follow_opts: dict[str, Any] = dict(
        show_progress="hidden",
        concurrency_id="follow",
        concurrency_limit=settings.max_followers,
        trigger_mode="multiple",  # a new job's follower must start even if one is running
    )

    with gr.Blocks(title="GenFlow", analytics_enabled=False, fill_width=True) as demo:
        # One per tab, copied from this empty one. (A factory would be re-run by a hidden load
        # event racing ours, replacing the session that our load just filled.)
        session = gr.State(Session())
        saved_name = gr.BrowserState("", storage_key="genflow-ui-name", secret="genflow-ui")
        job_id = gr.Textbox(visible=False, elem_id="gf-job-id")
        timer = gr.Timer(settings.poll_seconds, active=False)
        with gr.Tabs(elem_id="gf-tabs") as tabs:
            with gr.Tab("Chat", id="chat", elem_id="gf-chat-tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=4):
                        status = gr.HTML(status_html(None, None), elem_id="gf-status")
                        chatbot = job_panel.chatbot("gf-chat", 540, PLACEHOLDER)
                        review_box, review_prompt, comment, buttons = job_panel.review_row("gf")
                        with gr.Row(equal_height=True):
                            mode = gr.Dropdown(  # choices come from the API when the page loads
                                choices=[],
                                label="Mode",
                                allow_custom_value=True,
                                scale=1,
                                min_width=180,
                                elem_id="gf-mode",
                            )
                            text = gr.Textbox(
                                show_label=False,
                                placeholder="/article TOPIC · /image PROMPT · /task TEXT · /help",
                                scale=5,
                                elem_id="gf-input",
                                autofocus=True,
                            )
                            send = gr.Button(
                                "Send", variant="primary", scale=0, min_width=100, elem_id="gf-send"
                            )
                            cancel = gr.Button(
                                "Cancel",
                                variant="stop",
                                visible=False,
                                scale=0,
                                min_width=110,
                                elem_id="gf-cancel",
                            )
                    with gr.Column(scale=1, min_width=260):
                        gr.Markdown("### Your jobs")
                        jobs = gr.HTML(elem_id="gf-jobs")
                        refresh = gr.Button("↻ Refresh", size="sm", elem_id="gf-refresh")
                        name = gr.Textbox(
                            label="Your name",
                            placeholder="shown on your decisions",
                            elem_id="gf-name",
                        )
            with gr.Tab("Sessions", id="sessions", elem_id="gs-tab"):
                sessions = session_page.build()
            with gr.Tab("Workflows", id="workflows", elem_id="gw-tab"):
                workflows = workflow_page.build(settings.poll_seconds)

        panel = JobPanel(
            chatbot, status, review_box, review_prompt, comment, buttons, cancel, timer, job_id
        )
        view = panel.view()
        then_follow = job_panel.wire(
            panel, session, h, name=name, jobs=jobs, follow_opts=follow_opts
        )

        job_id.change(None, [job_id], [], js=SET_URL)
        loaded = demo.load(
            h.load, [session, saved_name], [*view, mode, jobs, name], show_progress="hidden"
        )
        then_follow(loaded, "follow_page")
        started = gr.on(
            [text.submit, send.click],
            h.start,
            [text, mode, session],
            [*view, text],
            api_name="start",
            show_progress="hidden",
        )
        then_follow(started, "follow")
        refresh.click(h.jobs_panel, [session], [jobs], api_name="jobs", show_progress="hidden")
        gr.on(
            [name.blur, name.submit],
            lambda value: value,
            [name],
            [saved_name],
            api_visibility="private",
        )
        demo.unload(h.unload)
        session_page.wire(demo, sessions, SessionHandlers(lambda: h.client), tabs, follow_opts)
        workflow_page.wire(
            demo, workflows, WorkflowHandlers(h), h, tabs,
            name=name, jobs=jobs, follow_opts=follow_opts,
        )  # fmt: skip

    demo.queue(default_concurrency_limit=settings.concurrency)
    return demo


def launch(demo: gr.Blocks, settings: UISettings, **overrides: Any) -> Any:
    options: dict[str, Any] = dict(
        server_name=settings.host,
        server_port=settings.port,
        theme=theme(),
        css=CSS + SESSION_CSS + WORKFLOW_CSS,
        footer_links=[],
        run_history=False,
        show_error=False,
        allowed_paths=[str(settings.artifact_dir)],
    )
    return demo.launch(**(options | overrides))


def main(*, host: str | None = None, port: int | None = None) -> int:
    """`genflow ui`: serve the web chat until interrupted.

    Binds GENFLOW_HOST:GENFLOW_UI_PORT unless `host`/`port` say otherwise; calls the API at
    GENFLOW_API_URL with GENFLOW_API_TOKEN (default: the admin token in GENFLOW_DATA_DIR).
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every API call
    settings = UISettings.from_env()
    settings = replace(settings, host=host or settings.host, port=port or settings.port)
    settings.artifact_dir.mkdir(parents=True, exist_ok=True)
    api = client_from_env()
    print(f"GenFlow web UI, for the API at {api.base_url}", flush=True)
    asyncio.run(api.close())
    try:
        launch(build_ui(settings=settings), settings)
    except KeyboardInterrupt:
        return 130
    return 0
