"""The GenFlow web chat: the page layout and how its events are wired (Gradio 6).

`build_ui()` returns the Blocks; `launch()` serves them behind the login door
(`ui.gate`); `main()` is what `genflow ui` (and `python -m ui`) runs. The UI is a client
of the GenFlow API through `backend.client` only, and acts with the token of the person
logged in on each page (`ui.people`), never with one of its own.

Concurrency: each tab's job is followed by a streaming handler that ends whenever the job
waits for a person, so reviews that wait for hours hold no Gradio worker; while a review
is open a timer polls the job, and a decision (from this page or anywhere else) starts a
new follower. Follower handlers share one concurrency group sized for many tabs.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import gradio as gr
import httpx
from starlette.middleware import Middleware

from backend.client import GenFlowClient, api_url_from_env
from ui import job_panel, session_page, workflow_page
from ui.assets import CSS, PLACEHOLDER, SET_URL, theme
from ui.gate import Gate
from ui.handlers import Handlers
from ui.job_panel import JobPanel
from ui.panels import status_html, who_html
from ui.people import People
from ui.session import Session
from ui.session_assets import SESSION_CSS
from ui.session_handlers import SessionHandlers
from ui.settings import UISettings
from ui.workflow_assets import WORKFLOW_CSS
from ui.workflow_handlers import WorkflowHandlers


def default_people(settings: UISettings) -> People:
    """The keyring of people logged in here, for the API at GENFLOW_API_URL. Each person's
    client has a connection pool big enough for every live follower (each holds one SSE
    connection) plus the short calls; the cookie is named after the port, so two UIs on
    one host keep their logins apart."""
    url = api_url_from_env()
    limits = httpx.Limits(max_connections=settings.max_followers + 50, max_keepalive_connections=20)

    def make(token: str | None) -> GenFlowClient:
        return GenFlowClient(url, token, transport=httpx.AsyncHTTPTransport(limits=limits))

    return People(make, cookie=f"genflow_ui_{settings.port}")


def build_ui(people: People, settings: UISettings | None = None) -> gr.Blocks:
    """The page; every event acts as the person `people` finds behind it."""
    settings = settings or UISettings.from_env()
    h = Handlers(people.client, settings)
    session_handlers = SessionHandlers(people.client)
    people.on_logout(h.close_page)
    people.on_logout(session_handlers.close_page)

    def who(request: gr.Request) -> str:
        person = people.person(request)
        return who_html(person.principal, person.admin)

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
        whoami = gr.HTML(elem_id="gf-who")
        job_id = gr.Textbox(visible=False, elem_id="gf-job-id")
        timer = gr.Timer(settings.poll_seconds, active=False)
        with gr.Tabs(elem_id="gf-tabs") as tabs:
            with gr.Tab("Chat", id="chat", elem_id="gf-chat-tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=4):
                        status = gr.HTML(status_html(None, None), elem_id="gf-status")
                        chatbot = job_panel.chatbot("gf-chat", 540, PLACEHOLDER)
                        review_box, review_prompt, deciding, comment, buttons, editor = (
                            job_panel.review_row("gf")
                        )
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
            with gr.Tab("Sessions", id="sessions", elem_id="gs-tab"):
                sessions = session_page.build()
            with gr.Tab("Workflows", id="workflows", elem_id="gw-tab"):
                workflows = workflow_page.build(settings.poll_seconds)

        panel = JobPanel(
            chatbot,
            status,
            review_box,
            review_prompt,
            deciding,
            comment,
            buttons,
            editor,
            cancel,
            timer,
            job_id,
        )
        view = panel.view()
        then_follow = job_panel.wire(panel, session, h, jobs=jobs, follow_opts=follow_opts)

        job_id.change(None, [job_id], [], js=SET_URL)
        demo.load(who, None, [whoami], show_progress="hidden", api_visibility="private")
        loaded = demo.load(h.load, [session], [*view, mode, jobs], show_progress="hidden")
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
        demo.unload(h.unload)
        session_page.wire(demo, sessions, session_handlers, tabs, follow_opts)
        workflow_page.wire(
            demo, workflows, WorkflowHandlers(h), h, tabs, jobs=jobs, follow_opts=follow_opts
        )
        demo.unload(people.page_closed)

    demo.queue(default_concurrency_limit=settings.concurrency)
    return demo


def launch(demo: gr.Blocks, settings: UISettings, people: People, **overrides: Any) -> Any:
    """Serve the page behind the door: the `Gate` middleware answers every request without
    a login (and serves /login, /logout), and Gradio's `auth_dependency` asks the same
    keyring, so its own routes refuse such a request too."""
    options: dict[str, Any] = dict(
        server_name=settings.host,
        server_port=settings.port,
        theme=theme(),
        css=CSS + SESSION_CSS + WORKFLOW_CSS,
        footer_links=[],
        run_history=False,
        show_error=False,
        auth_dependency=people.principal,
        app_kwargs={"middleware": [Middleware(Gate, people=people)]},
    )
    return demo.launch(**(options | overrides))


def main(*, host: str | None = None, port: int | None = None) -> int:
    """`genflow ui`: serve the web chat until interrupted.

    Binds GENFLOW_HOST:GENFLOW_UI_PORT unless `host`/`port` say otherwise; calls the API at
    GENFLOW_API_URL (default GENFLOW_HOST:GENFLOW_PORT) with the token of whoever logged in.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every API call
    settings = UISettings.from_env()
    settings = replace(settings, host=host or settings.host, port=port or settings.port)
    settings.artifact_dir.mkdir(parents=True, exist_ok=True)
    print(f"GenFlow web UI, for the API at {api_url_from_env()}; log in at /login", flush=True)
    people = default_people(settings)
    try:
        launch(build_ui(people, settings), settings, people)
    except KeyboardInterrupt:
        return 130
    return 0
