"""What happens on each event of the Sessions view: load, create, an action, ideas, the
follower, the poll while the session waits for its person, the sessions list.

Every handler takes the tab's `SessionTab` and returns or yields `outputs()` (the order
is `SessionPage.view()`'s), acting through the API client of the person behind the event
(`clients(request)`). No handler lets an exception escape: the status panel says what
went wrong, and the UI's log keeps any traceback.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr

from backend.client import APIError, GenFlowClient
from ui import session_live
from ui.session_actions import MAX_ACTIONS, Filled, Incomplete, label, parameters, shown_fields
from ui.session_actions import variant as button_variant
from ui.session_document import (
    draft_heading,
    final_markdown,
    ideas_markdown,
    live_markdown,
    research_markdown,
    review_markdown,
    topic_choices,
)
from ui.session_live import session_problem
from ui.session_panels import sessions_html, status_html
from ui.session_view import SessionTab

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # a session id goes into an API path
VIEW_OUTPUTS = 22 + MAX_ACTIONS  # the length of `outputs()`


def skip(count: int) -> tuple[Any, ...]:
    return tuple(gr.skip() for _ in range(count))


def article_id(subject: str) -> str:
    """The session's `articleId`: where it came from, and what it is about."""
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:60].strip("-")
    return f"web-{slug or 'session'}-{int(time.time())}"


class SessionHandlers:
    """The Sessions view's behaviour; `clients(request)` is the API client of the person
    behind a page event (`People.client`)."""

    def __init__(self, clients: Callable[[gr.Request], GenFlowClient]) -> None:
        self.clients = clients
        self._tabs: weakref.WeakValueDictionary[str, SessionTab] = weakref.WeakValueDictionary()

    # -- rendering -----------------------------------------------------------------------

    def outputs(self, tab: SessionTab) -> tuple[Any, ...]:
        """Every part of the view, from the tab's session (see `SessionPage.view()`)."""
        state, document = tab.state, tab.document
        processing, completed = tab.status == "processing", tab.status == "completed"
        actions = tab.actions[:MAX_ACTIONS]
        available = {a.get("action") for a in actions}
        fields = shown_fields(actions)
        topics = document.get("topics") or []
        draft = document.get("draft") or {}
        at_topic = state is not None and tab.stage == "topic" and not completed
        buttons = [
            gr.Button(value=label(a), visible=True, variant=button_variant(a)) for a in actions
        ] + [gr.Button(visible=False)] * (MAX_ACTIONS - len(actions))
        capabilities = (state or {}).get("capabilities") or []
        return (
            status_html(state, notice=tab.notice, problem=tab.problem),
            tab.session_id or "",
            gr.Markdown(
                live_markdown(tab.live, tab.progress.get("currentStep")) if processing else "",
                visible=processing,
            ),
            gr.Column(visible=at_topic and bool(topics or "select_topic" in available)),
            tab.topics_key,
            gr.Radio(visible=bool(topics), interactive=not processing),
            gr.Textbox(visible="select_topic" in available),
            gr.Accordion(visible=bool(document.get("research")) and not completed),
            research_markdown(document.get("research")),
            gr.Column(visible=bool(draft.get("markdown")) and not completed),
            draft_heading(draft),
            tab.draft_key,
            gr.Textbox(interactive="edit_draft" in available),
            gr.Markdown(
                review_markdown(document.get("review")), visible=bool(document.get("review"))
            ),
            gr.Markdown(final_markdown(document), visible=completed),
            gr.Number(visible="count" in fields),
            gr.Row(visible="section" in fields),
            gr.Textbox(visible="tone" in fields),
            gr.Textbox(visible="feedback" in fields),
            *buttons,
            gr.Button(
                visible=state is not None and not completed and "suggestions" in capabilities
            ),
            ideas_markdown(tab.ideas, waiting=tab.asking),
            gr.Timer(active=state is not None and not completed),
        )

    # New topics and a new draft reach the page through events of their own (their key
    # changed), not as parts of a stream: Gradio may merge a stream's quick chunks, and a
    # one-off value in one of them could be lost.

    def topic_picker(self, tab: SessionTab, request: gr.Request) -> Any:
        """New topics to pick from; no pick yet (an old one may not be among them)."""
        self.clients(request)  # only the page's own person may see its view
        return gr.Radio(choices=topic_choices(tab.document.get("topics") or []), value=None)

    def editor_text(self, tab: SessionTab, request: gr.Request) -> str:
        """A new draft version replaces the editor's text; nothing else touches it."""
        self.clients(request)
        return (tab.document.get("draft") or {}).get("markdown") or ""

    async def sessions_panel(self, tab: SessionTab, request: gr.Request) -> str:
        return await self.sessions_list(self.clients(request), tab)

    async def sessions_list(self, client: GenFlowClient, tab: SessionTab) -> str:
        try:
            listing = await client.sessions(limit=20)
        except Exception as exc:
            return sessions_html([], current=tab.session_id, problem=session_problem(exc))
        return sessions_html(listing.get("sessions") or [], current=tab.session_id)

    # -- events --------------------------------------------------------------------------

    async def load(self, tab: SessionTab, request: gr.Request) -> tuple[Any, ...]:
        """A new tab: the session named in the URL (`?session=…`), and the sessions list.
        A link to a session opens the Sessions tab."""
        client = self.clients(request)
        if request.session_hash:
            self._tabs[request.session_hash] = tab
        wanted = (request.query_params.get("session") or "").strip()
        if SESSION_ID.match(wanted):
            await self._open(client, tab, wanted)
        elif wanted:
            tab.drop("⚠ Not found: the link does not name a session.")
        selected = gr.Tabs(selected="sessions") if wanted else gr.skip()
        return (*self.outputs(tab), selected, await self.sessions_list(client, tab))

    async def _open(self, client: GenFlowClient, tab: SessionTab, session_id: str) -> None:
        try:
            tab.open(await client.session(session_id))
        except Exception as exc:
            tab.drop(session_problem(exc))

    async def create(self, subject: str, tab: SessionTab, request: gr.Request) -> tuple[Any, ...]:
        """A new session about `subject` (a category or a topic); the box empties."""
        client = self.clients(request)
        subject = (subject or "").strip()
        context = {"category": subject} if subject else {}
        try:
            made = await client.create_session(article_id(subject), context=context)
        except Exception as exc:
            tab.notice = session_problem(exc)
            return (*self.outputs(tab), gr.skip(), subject)
        await self._open(client, tab, made["sessionId"])
        return (*self.outputs(tab), await self.sessions_list(client, tab), "")

    def actor(self, index: int) -> Callable[..., Any]:
        """The click handler of action button `index` (the index-th available action)."""

        async def act(
            request: gr.Request,
            tab: SessionTab,
            topic_id: str | None,
            own_title: str | None,
            count: float | None,
            draft: str | None,
            section: float | None,
            instructions: str | None,
            tone: str | None,
            feedback: str | None,
        ) -> tuple[Any, ...]:
            client = self.clients(request)
            actions = tab.actions
            keep = (gr.skip(), gr.skip(), gr.skip())  # own title, instructions, feedback
            if tab.session_id is None or index >= len(actions):
                return (*self.outputs(tab), *keep)
            action = str(actions[index].get("action"))
            filled = Filled(
                topic_id, own_title, count, draft, section, instructions, tone, feedback
            )
            try:
                answer = await client.session_action(
                    tab.session_id, action, parameters(action, filled, tab.document)
                )
            except Incomplete as missing:
                tab.notice = f"⚠ {missing}"
                return (*self.outputs(tab), *keep)
            except APIError as exc:
                await self._refused(client, tab, exc)
                return (*self.outputs(tab), *keep)
            except Exception as exc:
                tab.notice = session_problem(exc)
                return (*self.outputs(tab), *keep)
            tab.notice = None
            if "session" in answer:  # a change: the new session came with the answer
                tab.read(answer["session"])
            else:  # a model action started: a follower shows it (`then`)
                await session_live.reread(client, tab)
            return (*self.outputs(tab), "", "", "")

        return act

    async def _refused(self, client: GenFlowClient, tab: SessionTab, exc: APIError) -> None:
        if exc.status in (404, 410):
            tab.drop(session_problem(exc))
            return
        if exc.status == 409:  # not available now (done elsewhere first?): show what is
            tab.notice = f"⚠ Not possible now: {exc.message}"
            await session_live.reread(client, tab)
        else:
            tab.notice = session_problem(exc)

    async def suggest(self, tab: SessionTab, request: gr.Request) -> AsyncIterator[tuple[str, str]]:
        """Ask for three ideas for the current stage; show them when the model has them
        (other pages of the session get them as a `suggestion` frame). Renders only the
        ideas and the status: the rest of the view may be streaming meanwhile."""
        client = self.clients(request)
        session_id = tab.session_id
        if session_id is None:
            return
        tab.asking = True
        yield self.ideas_outputs(tab)
        try:
            ideas = await client.suggestions(session_id)
        except Exception as exc:
            tab.notice = session_problem(exc)
        else:
            if tab.session_id == session_id:
                tab.ideas = ideas
        finally:
            tab.asking = False
        yield self.ideas_outputs(tab)

    def ideas_outputs(self, tab: SessionTab) -> tuple[str, str]:
        """The ideas and the status panel (where a refusal shows)."""
        return (
            ideas_markdown(tab.ideas, waiting=tab.asking),
            status_html(tab.state, notice=tab.notice, problem=tab.problem),
        )

    async def follow(self, tab: SessionTab, request: gr.Request) -> AsyncIterator[tuple[Any, ...]]:
        """Stream the session until it is settled; then list the sessions again."""
        client = self.clients(request)
        rendered = False
        try:
            async for _ in session_live.follow(client, tab):
                rendered = True
                yield (*self.outputs(tab), gr.skip())
        except Exception as exc:
            log.exception("session follower failed", exc_info=exc)
            tab.notice = session_problem(exc)
        if not tab.following:
            yield (*self.outputs(tab), await self.sessions_list(client, tab))
        elif not rendered:
            yield skip(VIEW_OUTPUTS + 1)

    async def tick(self, tab: SessionTab, request: gr.Request) -> AsyncIterator[tuple[Any, ...]]:
        """While no follower runs: did the session change (here or elsewhere)? Follow it."""
        client = self.clients(request)
        if tab.session_id is None or tab.following:
            yield skip(VIEW_OUTPUTS + 1)
            return
        try:
            behind = await session_live.changed(client, tab)
        except Exception as exc:
            problem = session_problem(exc)
            if isinstance(exc, APIError) and exc.status in (404, 410):
                tab.drop(problem)
            else:
                tab.problem = problem
            yield (*self.outputs(tab), gr.skip())
            return
        if not behind:
            if tab.problem is None:
                yield skip(VIEW_OUTPUTS + 1)
                return
            tab.problem = None
            yield (*self.outputs(tab), gr.skip())
            return
        async for outputs in self.follow(tab, request):
            yield outputs

    def unload(self, request: gr.Request) -> None:
        """The tab closed: its follower (if any) stops reading the session's frames."""
        self.close_page(request.session_hash or "")

    def close_page(self, page: str) -> None:
        """Stop the follower of a page (by Gradio's session hash): it closed, or its person
        logged out."""
        tab = self._tabs.pop(page, None)
        if tab is not None:
            tab.stop_following()
