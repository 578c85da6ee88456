"""The web chat as a person sees it, for Playwright tests: what to type, click and read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.ui.stack import PEOPLE, USER

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
JOB_TIMEOUT = 20_000  # ms: a whole job with the fake model takes a second or two


def logged_in(browser: Browser, base_url: str, name: str = USER) -> BrowserContext:
    """A browser profile whose person is logged in to the UI: the login form posted the
    way a script does (`gradio_client`'s `auth=`), so the session cookie is the profile's.
    (tests/ui/test_login_browser.py logs in through the page itself.)"""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(10_000)
    form = {"username": name, "password": PEOPLE[name]}
    response = context.request.post(f"{base_url}/login", form=form)
    assert response.ok, response.text()
    return context


@dataclass
class ChatPage:
    page: Page
    base_url: str

    def open(self, job_id: str | None = None) -> ChatPage:
        self.page.goto(self.base_url + (f"/?job={job_id}" if job_id else "/"))
        self.wait_loaded()
        return self

    def wait_loaded(self) -> None:
        """The page asked the API for its flows (the mode picker has one)."""
        expect(self.input).to_be_editable()
        expect(self.page.locator("#gf-mode input")).not_to_have_value("")

    # -- what a person reads -----------------------------------------------------------

    @property
    def chat(self) -> Locator:
        return self.page.locator("#gf-chat")

    @property
    def status(self) -> Locator:
        return self.page.locator("#gf-status .gf-status")

    @property
    def jobs(self) -> Locator:
        return self.page.locator("#gf-jobs")

    @property
    def review(self) -> Locator:
        return self.page.locator("#gf-review")

    @property
    def images(self) -> Locator:
        return self.chat.locator("img")

    @property
    def spinners(self) -> Locator:
        """Steps still running (a pending step shows a spinner)."""
        return self.chat.locator(".loading-spinner")

    def step(self, title: str) -> Locator:
        return self.chat.locator(".thought-group .title", has_text=title)

    def decision(self, label: str) -> Locator:
        return self.review.get_by_role("button", name=label, exact=True)

    def expect_status(self, status: str, timeout: float = JOB_TIMEOUT) -> None:
        expect(self.status).to_have_attribute("data-status", status, timeout=timeout)

    def job_id(self) -> str:
        return parse_qs(urlparse(self.page.url).query)["job"][0]

    # -- what a person does ------------------------------------------------------------

    @property
    def input(self) -> Locator:
        return self.page.locator("#gf-input textarea")

    @property
    def comment(self) -> Locator:
        return self.page.locator("#gf-comment textarea")

    def send(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def screenshot(self, directory: Path, name: str) -> Path:
        path = directory / f"ui-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path
