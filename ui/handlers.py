"""What happens on each event of the page: load, send, decide, cancel, the review timer.

Every handler takes the tab's `Session` and returns or yields `Handlers.view_outputs()`:
the chat, the status bar, the review panel, the cancel button, the review timer and the
job id (which the page copies into its URL). Each one acts through the API client of the
person behind the event (`clients(request)`, their own token), never one of the UI's.
No handler lets an exception escape: a person sees what went wrong in the chat, and the
UI's log keeps the traceback (the one exception: `LoggedOut`, shown as Gradio's error).
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr

from backend.client import APIError, GenFlowClient, JobView, editable_text, one_click_options
from ui import live
from ui.artifacts import ArtifactFiles
from ui.commands import InputProblem, ShowHelp, StartJob, help_text, parse
from ui.conversation import ChatView
from ui.errors import explain
from ui.panels import jobs_html, status_html
from ui.session import Session
from ui.settings import UISettings

log = logging.getLogger(__name__)

Clients = Callable[[gr.Request], GenFlowClient]  # a page event -> its person's API client

MAX_OPTIONS = 4  # decision buttons on the page; reviews offer two today
VARIANTS = {"approve": "primary", "reject": "stop"}
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # a job id may go into an API path


def skip(count: int) -> tuple[Any, ...]:
    return tuple(gr.skip() for _ in range(count))


class Handlers:
    """The page's behaviour; `clients(request)` is the API client of the person behind a
    page event (`People.client`)."""

    # chat, status, review box, prompt, decision row, buttons, Edit, editor, cancel, timer, id
    VIEW_OUTPUTS = 10 + MAX_OPTIONS

    def __init__(self, clients: Clients, settings: UISettings):
        self.settings = settings
        self.clients = clients
        # Images are cached per UI process: an artifact id reaches a view only from the
        # events of a job that the person's own token could read.
        self.artifacts = ArtifactFiles(settings.artifact_dir)
        # (browser tab, view) -> the Session whose follower stops when the tab closes
        self._tabs: weakref.WeakValueDictionary[tuple[str, str], Session] = (
            weakref.WeakValueDictionary()
        )

    # -- rendering -----------------------------------------------------------------------

    def view_outputs(self, session: Session) -> tuple[Any, ...]:
        """The job's view; while this page edits the open review, its editor instead of
        the one-click buttons (whose Approve would drop the edits). The decision row (a
        comment, the buttons, Edit) is there only for whom the API lets decide the open
        review (`may_decide`); anyone else who sees the job is told whose decision it
        waits for. The panel shows once the API has said which."""
        view = session.view
        review = view.open_review if view else None
        known = review is not None and view is not None and not view.unjudged
        decides = view is not None and view.decides
        editing = decides and view is not None and view.editing == (review or {}).get("id")
        options = one_click_options(review)[:MAX_OPTIONS] if decides and not editing else []
        buttons = [
            gr.Button(
                value=option.capitalize(), visible=True, variant=VARIANTS.get(option, "secondary")
            )
            for option in options
        ] + [gr.Button(visible=False)] * (MAX_OPTIONS - len(options))
        title = session.titles().get(view.flow or "") if view else None
        return (
            view.messages(self.artifacts.files()) if view else list(session.notes),
            status_html(view.job if view else None, title, session.problem),
            gr.Column(visible=known),
            review_line(view, review) if view is not None and review is not None else "",
            gr.Row(visible=decides),
            *buttons,
            gr.Button(visible=decides and not editing and bool(editable_text(review))),
            gr.Column(visible=editing),
            gr.Button(visible=view is not None and not view.finished and view.may_cancel),
            gr.Timer(active=review is not None),
            view.job_id if view else "",
        )

    async def jobs_panel(self, session: Session, request: gr.Request) -> str:
        """The person's recent jobs (an admin's: everyone's, with their owners), after the
        reviews others assigned to them."""
        return await self.jobs_list(self.clients(request), session, request.username)

    async def jobs_list(self, client: GenFlowClient, session: Session, viewer: str | None) -> str:
        """Reviews waiting for the person (someone else's jobs they are assigned to), then
        their own recent jobs."""
        current = session.view.job_id if session.view else None
        try:
            waiting = await client.jobs(assigned="me", status="waiting_for_review", limit=20)
            listing = await client.jobs(limit=20)
        except APIError as exc:
            return jobs_html([], current=current, titles={}, problem=strip_markdown(explain(exc)))
        own = {job["id"] for job in listing["jobs"]}
        jobs = [job for job in waiting["jobs"] if job["id"] not in own] + listing["jobs"]
        return jobs_html(jobs, current=current, titles=session.titles(), viewer=viewer)

    # -- events --------------------------------------------------------------------------

    async def load(self, session: Session, request: gr.Request) -> tuple[Any, ...]:
        """A new tab: the flows for the mode picker, and the job named in the URL."""
        client = self.clients(request)
        self.track(request, session)
        try:
            session.flows = await client.flows()
        except APIError as exc:
            session.problem = strip_markdown(explain(exc))
        job_id = (request.query_params.get("job") or "").strip()
        if JOB_ID.match(job_id):
            session.open(ChatView(JobView(job_id), viewer=request.username))
        elif job_id:
            session.say("⚠ **Not found:** the link does not name a job.")
        names = list(session.titles())
        mode = gr.Dropdown(
            choices=[(title, name) for name, title in session.titles().items()],
            value="article" if "article" in names else (names[0] if names else None),
        )
        jobs = await self.jobs_list(client, session, request.username)
        return (*self.view_outputs(session), mode, jobs)

    async def start(
        self, text: str, mode: str | None, session: Session, request: gr.Request
    ) -> tuple[Any, ...]:
        """A chat line: start a job (or explain why not). Returns the view and the new text."""
        client = self.clients(request)
        keep = text
        try:
            if not session.flows:  # the API was down when the page loaded
                session.flows = await client.flows()
                session.problem = None
            action = parse(text, mode, session.flows)
            if isinstance(action, ShowHelp):
                session.say(help_text(session.flows), user=text)
                return (*self.view_outputs(session), "")
            assert isinstance(action, StartJob)
            job = await client.create_job(action.flow, action.input)
        except InputProblem as problem:
            session.say(f"⚠ {problem}", user=text)
        except Exception as exc:  # the API's refusal, or a bug (logged)
            session.say(explain(exc), user=text)
        else:
            # The create response is a snapshot: the request shows at once, events follow it.
            session.open(ChatView.of_job(job, viewer=request.username))
            keep = ""
        return (*self.view_outputs(session), keep)

    async def follow(self, session: Session, request: gr.Request) -> AsyncIterator[tuple[Any, ...]]:
        """Stream the tab's job until it ends or waits for a person; then list jobs again."""
        client = self.clients(request)
        rendered = False
        try:
            async for _ in live.follow(client, session, self.artifacts):
                rendered = True
                yield (*self.view_outputs(session), gr.skip())
        except Exception as exc:
            session.say(explain(exc))
        if session.view is not None and not session.following:
            jobs = await self.jobs_list(client, session, request.username)
            yield (*self.view_outputs(session), jobs)
        elif not rendered:
            yield skip(self.VIEW_OUTPUTS + 1)

    async def tick(self, session: Session, request: gr.Request) -> AsyncIterator[tuple[Any, ...]]:
        """While a review is open: was it decided elsewhere, or did a reminder come? Then
        follow again."""
        client = self.clients(request)
        view = session.view
        if view is None or view.open_review is None or session.following:
            yield skip(self.VIEW_OUTPUTS + 1)
            return
        try:
            news = await live.moved_on(client, session)
        except APIError as exc:
            session.problem = strip_markdown(explain(exc))
            yield (*self.view_outputs(session), gr.skip())
            return
        if not news:
            if session.problem is None:
                yield skip(self.VIEW_OUTPUTS + 1)
                return
            session.problem = None
            yield (*self.view_outputs(session), gr.skip())
            return
        async for outputs in self.follow(session, request):
            yield outputs

    def decider(self, index: int) -> Callable[..., Any]:
        """The click handler of decision button `index` (the review's index-th option).
        The API records the person whose token decides, `via web`."""

        async def decide(comment: str, session: Session, request: gr.Request) -> tuple[Any, ...]:
            view = session.view
            options = one_click_options(view.open_review if view else None)
            if index >= len(options):
                return (*self.view_outputs(session), gr.skip())
            sent = await self.send_decision(session, request, options[index], comment)
            return (*self.view_outputs(session), "" if sent else comment)

        return decide

    async def send_decision(
        self,
        session: Session,
        request: gr.Request,
        decision: str,
        comment: str | None,
        edits: dict[str, Any] | None = None,
    ) -> bool:
        """Decide the review open on this page, as its person, `via web`. True when it is
        decided (by this, or by someone else first); otherwise the chat says why not."""
        client = self.clients(request)  # LoggedOut escapes: Gradio shows it
        view = session.view
        review = view.open_review if view else None
        if view is None or review is None:
            return False
        try:
            await client.decide(
                view.job_id,
                review["id"],
                decision,
                comment=(comment or "").strip() or None,
                via="web",
                edits=edits,
            )
        except APIError as exc:
            if exc.status != 409:
                session.say(explain(exc))
                return False
            session.say("⚠ **Someone else decided first.**")  # the events will say how
        except Exception as exc:
            session.say(explain(exc))
            return False
        view.answered, view.editing = review["id"], None
        return True

    async def cancel(self, session: Session, request: gr.Request) -> tuple[Any, ...]:
        client = self.clients(request)
        if session.view is not None and not session.view.finished:
            try:
                await client.cancel(session.view.job_id)
            except APIError as exc:
                if exc.status != 409:  # 409: it finished meanwhile; the events show how
                    session.say(explain(exc))
            except Exception as exc:
                session.say(explain(exc))
        return self.view_outputs(session)

    def track(self, request: gr.Request, session: Session, view: str = "chat") -> None:
        """Remember a view's job state of this browser tab, to stop its follower when the
        tab closes (the Chat tab's, and the Workflows tab's run)."""
        if request.session_hash:
            self._tabs[(request.session_hash, view)] = session

    def unload(self, request: gr.Request) -> None:
        """The tab closed: its followers (if any) stop reading their jobs' events."""
        self.close_page(request.session_hash or "")

    def close_page(self, page: str) -> None:
        """Stop the followers of a page (by Gradio's session hash): it closed, or its
        person logged out."""
        for key in [key for key in list(self._tabs.keys()) if key[0] == page]:
            session = self._tabs.pop(key, None)
            if session is not None:
                session.stop_following()


def review_line(view: ChatView, review: dict[str, Any]) -> str:
    """The review panel's line: the decision asked of this person, or whose it is."""
    if view.decides:
        return f"**Your decision:** {review.get('prompt', '')}"
    if view.unjudged:
        return ""  # not shown until the API says
    return (
        f"⏳ **Waiting for a decision by {view.who_decides(review)}.** You can follow this "
        "review here, but it is not yours to decide."
    )


def strip_markdown(text: str) -> str:
    return text.replace("**", "").replace("`", "")
