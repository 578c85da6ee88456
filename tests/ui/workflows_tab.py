"""The web chat's Workflows view as a person sees it, for Playwright tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Locator, Page, expect

MODEL_TIMEOUT = 30_000  # ms: drafting or running with the fake model takes a second or two


@dataclass
class WorkflowsTab:
    page: Page
    base_url: str

    def open(self, workflow_id: str | None = None) -> WorkflowsTab:
        """The page; with a workflow id, by its link (which opens the Workflows tab)."""
        self.page.goto(self.base_url + (f"/?workflow={workflow_id}" if workflow_id else "/"))
        if workflow_id is None:
            self.page.get_by_role("tab", name="Workflows").click()
        expect(self.prompt).to_be_editable()
        expect(self.list.locator(".gf-jobs")).to_be_attached()  # the page has loaded
        return self

    # -- what a person reads -----------------------------------------------------------

    @property
    def status(self) -> Locator:
        return self.page.locator("#gw-status .gw-status")

    @property
    def summary(self) -> Locator:
        return self.page.locator("#gw-summary")

    @property
    def diagram(self) -> Locator:
        """The drawn diagram (an SVG), not the Mermaid text."""
        return self.page.locator("#gw-diagram svg")

    @property
    def editor(self) -> Locator:
        return self.page.locator("#gw-editor .cm-content")

    @property
    def errors(self) -> Locator:
        return self.page.locator("#gw-errors")

    @property
    def list(self) -> Locator:
        return self.page.locator("#gw-list")

    @property
    def run_problem(self) -> Locator:
        return self.page.locator("#gw-run-problem")

    @property
    def run_status(self) -> Locator:
        return self.page.locator("#gw-run-status .gf-status")

    @property
    def run_chat(self) -> Locator:
        return self.page.locator("#gw-run-chat")

    @property
    def review(self) -> Locator:
        return self.page.locator("#gw-run-review")

    def decision(self, label: str) -> Locator:
        return self.review.get_by_role("button", name=label, exact=True)

    def field(self, name: str) -> Locator:
        return self.page.locator(f"#gw-field-{name}").locator("input, textarea").first

    def workflow_id(self) -> str:
        return parse_qs(urlparse(self.page.url).query)["workflow"][0]

    # -- what a person does ------------------------------------------------------------

    @property
    def prompt(self) -> Locator:
        return self.page.locator("#gw-prompt textarea")

    @property
    def generate_button(self) -> Locator:
        return self.page.locator("#gw-generate")

    def generate(self, request: str) -> None:
        self.prompt.fill(request)
        self.generate_button.click()

    def pick_template(self, title: str) -> None:
        self.page.locator("#gw-template input").click()
        self.page.get_by_role("option", name=title, exact=True).click()

    def write_spec(self, text: str) -> None:
        """Replace the editor's text, as a person pasting a spec would."""
        self.editor.click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.insert_text(text)

    def save(self) -> None:
        self.page.locator("#gw-save").click()

    def run(self) -> None:
        self.page.locator("#gw-run").click()

    def expect_run_status(self, status: str, timeout: float = MODEL_TIMEOUT) -> None:
        expect(self.run_status).to_have_attribute("data-status", status, timeout=timeout)

    def expect_opened(self) -> None:
        expect(self.page).to_have_url(re.compile(r"[?&]workflow=wf_\w+"), timeout=MODEL_TIMEOUT)

    def screenshot(self, directory: Path, name: str) -> Path:
        path = directory / f"ui-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path
