"""The web chat's Sessions view as a person sees it, for Playwright tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Locator, Page, expect

ACTION_TIMEOUT = 20_000  # ms: a model action with the fake model takes a second or two


@dataclass
class SessionsTab:
    page: Page
    base_url: str

    def open(self, session_id: str | None = None) -> SessionsTab:
        """The page; with a session id, by its link (which opens the Sessions tab itself)."""
        self.page.goto(self.base_url + (f"/?session={session_id}" if session_id else "/"))
        if session_id is None:
            self.page.get_by_role("tab", name="Sessions").click()
        expect(self.subject).to_be_editable()
        expect(self.list.locator(".gs-list")).to_be_attached()  # the page has loaded
        return self

    # -- what a person reads -----------------------------------------------------------

    @property
    def status(self) -> Locator:
        return self.page.locator("#gs-status .gs-status")

    @property
    def current_step(self) -> Locator:
        return self.status.locator(".gs-step.gs-current")

    @property
    def live(self) -> Locator:
        return self.page.locator("#gs-live")

    @property
    def topics(self) -> Locator:
        return self.page.locator("#gs-topic")

    @property
    def research(self) -> Locator:
        return self.page.locator("#gs-research")

    @property
    def draft_head(self) -> Locator:
        return self.page.locator("#gs-draft-head")

    @property
    def review(self) -> Locator:
        return self.page.locator("#gs-review")

    @property
    def final(self) -> Locator:
        return self.page.locator("#gs-final")

    @property
    def ideas(self) -> Locator:
        return self.page.locator("#gs-ideas")

    @property
    def list(self) -> Locator:
        return self.page.locator("#gs-list")

    @property
    def actions(self) -> Locator:
        """The action buttons shown now."""
        return self.page.locator("#gs-actions button:visible")

    def action(self, name: str) -> Locator:
        return self.page.locator("#gs-actions").get_by_role("button", name=name, exact=True)

    def expect_stage(self, stage: str, timeout: float = ACTION_TIMEOUT) -> None:
        expect(self.current_step).to_have_attribute("data-stage", stage, timeout=timeout)

    def expect_status(self, status: str, timeout: float = ACTION_TIMEOUT) -> None:
        expect(self.status).to_have_attribute("data-status", status, timeout=timeout)

    def session_id(self) -> str:
        return parse_qs(urlparse(self.page.url).query)["session"][0]

    # -- what a person does ------------------------------------------------------------

    @property
    def subject(self) -> Locator:
        return self.page.locator("#gs-subject textarea")

    @property
    def editor(self) -> Locator:
        return self.page.locator("#gs-editor textarea")

    def field(self, elem_id: str) -> Locator:
        return self.page.locator(f"#{elem_id} input, #{elem_id} textarea").first

    def start(self, subject: str) -> None:
        self.subject.fill(subject)
        self.page.locator("#gs-create").click()
        expect(self.page).to_have_url(re.compile(r"[?&]session=ses_\w+"))

    def pick_topic(self, title: str) -> None:
        self.topics.get_by_text(title).click()

    def act(self, name: str) -> None:
        """Click an available action's button (the caller waits for what it changes)."""
        self.action(name).click()

    def screenshot(self, directory: Path, name: str) -> Path:
        path = directory / f"ui-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path
