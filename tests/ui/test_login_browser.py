"""Logging in to the web chat in a real browser (Debian's Chromium, driven by Playwright),
against the real API and UI processes: the page demands a login, a wrong password is
refused in words, alice and bob each see only their own jobs, sessions and workflows (and
not each other's by link), a link survives the login, and logging out ends the session
and revokes its token.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.fakes.workflow_answers import SPEC
from tests.ui.chat_page import CHROMIUM, ChatPage, logged_in
from tests.ui.stack import PEOPLE, Stack

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@pytest.fixture
def contexts(browser: Browser, stack: Stack) -> Iterator[dict[str, BrowserContext]]:
    """A browser profile each for nobody (`""`), alice and bob; closed after the test."""
    made = {"": browser.new_context(viewport={"width": 1280, "height": 1000})}
    made[""].set_default_timeout(10_000)
    made |= {name: logged_in(browser, stack.ui.url, name) for name in ("alice", "bob")}
    yield made
    for context in made.values():
        context.close()


def log_in(page: Page, name: str, password: str) -> None:
    page.locator("#gf-username").fill(name)
    page.locator("#gf-password").fill(password)
    page.get_by_role("button", name="Log in").click()


def things_of(stack: Stack, name: str) -> dict[str, Any]:
    """A job, a GenFlow session and a workflow of the person's, made through the API
    with their own token; each named so that it can be told apart."""
    mark = f"{name}-{uuid.uuid4().hex[:6]}"
    job = stack.create_job("review", {"task": f"Write a haiku for {mark}"}, as_=name)
    with stack.http(name) as http:
        session = http.post("/api/genflow/sessions", json={"articleId": mark, "context": {}})
        workflow = http.post("/api/workflows", json={"workflow": {**SPEC, "name": mark}})
    return {
        "job": job["id"],
        "session": session.json()["sessionId"],
        "workflow": workflow.json()["workflow_id"],
    }


def test_the_web_chat_demands_a_login_and_refuses_a_wrong_password(
    contexts: dict[str, BrowserContext], stack: Stack, artifacts_dir: Path
) -> None:
    page = contexts[""].new_page()
    page.goto(stack.ui.url)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="GenFlow")).to_be_visible()
    expect(page.locator("#gf-username")).to_be_focused()
    expect(page.locator("#gf-chat")).to_have_count(0)  # nothing of the chat before a login
    page.screenshot(path=str(artifacts_dir / "ui-login.png"), full_page=True)

    log_in(page, "alice", "not-her-password")
    expect(page.locator("#gf-login-problem")).to_have_text("Wrong username or password.")
    expect(page.locator("#gf-username")).to_have_value("alice")  # kept, the password not
    expect(page.locator("#gf-password")).to_have_value("")
    assert contexts[""].cookies() == []  # no session

    log_in(page, "alice", PEOPLE["alice"])
    expect(page).to_have_url(stack.ui.url + "/")
    expect(page.locator("#gf-principal")).to_have_text("alice")
    ChatPage(page, stack.ui.url).wait_loaded()
    page.screenshot(path=str(artifacts_dir / "ui-login-done.png"), full_page=True)


def test_each_person_sees_only_their_own_jobs_sessions_and_workflows(
    contexts: dict[str, BrowserContext], stack: Stack
) -> None:
    mine = {name: things_of(stack, name) for name in ("alice", "bob")}
    for name, other in (("alice", "bob"), ("bob", "alice")):
        page = ChatPage(contexts[name].new_page(), stack.ui.url).open().page
        expect(page.locator("#gf-principal")).to_have_text(name)
        lists = {  # each list is filled when the page loads
            ("job", "Chat"): page.locator("#gf-jobs"),
            ("session", "Sessions"): page.locator("#gs-list"),
            ("workflow", "Workflows"): page.locator("#gw-list"),
        }
        for (kind, tab), listed in lists.items():
            page.get_by_role("tab", name=tab).click()
            expect(listed.locator(f"[data-{kind}='{mine[name][kind]}']")).to_have_count(1)
            expect(listed.locator(f"[data-{kind}='{mine[other][kind]}']")).to_have_count(0)


def test_an_admin_sees_everyones_jobs_with_their_owners(
    stack: Stack, contexts: dict[str, BrowserContext]
) -> None:
    jobs = {name: things_of(stack, name)["job"] for name in ("alice", "bob")}
    page = contexts[""].new_page()
    page.goto(stack.ui.url)
    log_in(page, "admin", (stack.api.data_dir / "admin.password").read_text().strip())
    expect(page.locator(".gf-who")).to_contain_text("Logged in as admin admin: sees everyone's")
    for name, job in jobs.items():
        listed = page.locator(f"#gf-jobs [data-job='{job}']")
        expect(listed).to_contain_text(f"by {name}")


@pytest.mark.parametrize(
    ("kind", "where", "refusal"),
    [
        ("job", "#gf-chat", "Not found: no such job (or it is not yours)."),
        ("session", "#gs-status", "Not found: no such session (or it is not yours)."),
        ("workflow", "#gw-status", "Not found: no such workflow (or it is not yours)."),
    ],
)
def test_bob_cannot_open_alices_by_its_link(
    contexts: dict[str, BrowserContext], stack: Stack, kind: str, where: str, refusal: str
) -> None:
    alices = things_of(stack, "alice")[kind]
    page = contexts["bob"].new_page()
    page.goto(f"{stack.ui.url}/?{kind}={alices}")
    expect(page.locator(where)).to_contain_text(refusal)
    expect(page.locator("body")).not_to_contain_text("haiku for alice")


@pytest.mark.parametrize(
    ("kind", "tab", "where"),
    [("job", "Chat", "#gf-status"), ("session", "Sessions", "#gs-status"),
     ("workflow", "Workflows", "#gw-summary")],
)  # fmt: skip
def test_a_link_opens_once_logged_in(
    contexts: dict[str, BrowserContext], stack: Stack, kind: str, tab: str, where: str
) -> None:
    wanted = things_of(stack, "alice")[kind]
    page = contexts[""].new_page()
    page.goto(f"{stack.ui.url}/?{kind}={wanted}")
    expect(page).to_have_url(f"{stack.ui.url}/login?{kind}={wanted}")
    log_in(page, "alice", PEOPLE["alice"])
    expect(page).to_have_url(f"{stack.ui.url}/?{kind}={wanted}")
    expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
    expect(page.locator(where)).to_contain_text(wanted)  # its status shows it, by its id
    expect(page.locator(where)).not_to_contain_text("Not found")


def test_logging_out_returns_to_the_login_page_and_revokes_the_token(
    contexts: dict[str, BrowserContext], stack: Stack, artifacts_dir: Path
) -> None:
    page = contexts[""].new_page()
    page.goto(stack.ui.url)
    log_in(page, "dora", PEOPLE["dora"])  # dora logs in nowhere else
    expect(page.locator("#gf-principal")).to_have_text("dora")
    (cookie,) = contexts[""].cookies()
    with stack.http() as admin:
        tokens = admin.get("/api/auth/tokens", params={"principal": "dora"}).json()["tokens"]
    (token,) = [t for t in tokens if t["kind"] == "login" and t["status"] == "active"]

    page.locator("#gf-logout").click()
    expect(page.locator("#gf-login-notice")).to_have_text("You are logged out.")
    expect(page.locator("#gf-username")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "ui-login-out.png"), full_page=True)
    assert contexts[""].cookies() == []
    with stack.http() as admin:
        tokens = admin.get("/api/auth/tokens", params={"principal": "dora"})
    (after,) = [t for t in tokens.json()["tokens"] if t["id"] == token["id"]]
    assert after["status"] == "revoked"  # the API refuses it now (tests/ui/test_people.py)

    page.goto(stack.ui.url)  # the chat is behind the door again
    expect(page).to_have_url(re.compile(r"/login$"))
    old = {cookie["name"]: cookie["value"]}  # the old session cookie opens nothing
    answer = httpx.get(f"{stack.ui.url}/config", cookies=old)
    assert answer.status_code == 401


def test_a_token_revoked_elsewhere_ends_the_session(
    browser: Browser, stack: Stack, contexts: dict[str, BrowserContext]
) -> None:
    context = logged_in(browser, stack.ui.url, "erin")  # erin logs in nowhere else
    contexts["erin"] = context  # closed with the others
    chat = ChatPage(context.new_page(), stack.ui.url).open()
    with stack.http() as admin:
        tokens = admin.get("/api/auth/tokens", params={"principal": "erin"}).json()["tokens"]
        (token,) = [t for t in tokens if t["status"] == "active"]
        assert admin.delete(f"/api/auth/tokens/{token['id']}").status_code == 204

    chat.page.locator("#gf-refresh").click()
    expect(chat.jobs).to_contain_text("You are logged out: your login expired or was revoked.")
    chat.page.reload()  # the page asks the API first, and goes back to the login page
    expect(chat.page).to_have_url(re.compile(r"/login$"))
