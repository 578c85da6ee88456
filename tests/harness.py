"""An in-process GenFlow app for tests: scripted LLM, temp data dir, Quart's test client."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol

from backend.app import create_app
from backend.services import Services
from backend.settings import Settings
from backend.store.base import Store
from flows.images import ImageBackend
from flows.llm import LLMBackend
from flows.providers.placeholder_images import PlaceholderImages
from flows.providers.scripted_llm import Reply, ScriptedLLM
from flows.registry import FlowSpec
from tests.tokens import recorded_token

TERMINAL = ("completed", "failed", "cancelled")

# What the API's error bodies must say for each status (docs/api.md), written out here
# rather than imported, so a test notices when the server changes a code.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}

# A Python stack trace as a server would leak it: its header or one of its frame lines.
# Not the bare word "Traceback": a fuzzer may store that as a name, and a listing then
# echoes it back. (Hypothesis draws string constants from the code it tests, so this
# pattern is written so that it does not match its own source text.)
_STACK_TRACE = re.compile(r'Traceback \(most recent call last\)|File "[^"\n]+", line \d+')


def leaks_stack_trace(text: str) -> bool:
    """Whether a response body shows a Python stack trace."""
    return _STACK_TRACE.search(text) is not None


OUTLINE = {
    "title": "Coffee, a history",
    "sections": [
        {"title": "Origins", "points": ["Ethiopia", "Yemen"]},
        {"title": "Coffeehouses", "points": ["Istanbul", "London"]},
        {"title": "Today", "points": ["espresso"]},
    ],
}

# A section as a model writes one: long enough to pass the article's checks.
SECTION_TEXT = (
    "Coffee's story starts in the highlands of Ethiopia, where, legend says, a goatherd "
    "named Kaldi saw his goats dance after eating red berries. Monks brewed the berries to "
    "stay awake through night prayers, and traders carried the beans across the Red Sea to "
    "Yemen, where the first coffee farms grew. From the port of Mocha the drink spread to "
    "Cairo, Istanbul and Venice, and within two centuries coffeehouses in London and Paris "
    "had become the places where news was read aloud and deals were struck. Lloyd's of "
    "London, the insurance market, began as one of them, and so did the stock exchange."
)
STYLED_TEXT = (
    "So, picture this: the highlands of Ethiopia, a goatherd called Kaldi, and goats that "
    "start dancing after a snack of red berries. Monks soon brewed those berries to stay "
    "awake through their night prayers, and traders took the beans over the Red Sea to "
    "Yemen, where the very first coffee farms grew. From the port of Mocha the drink made "
    "its way to Cairo, Istanbul and Venice, and before long London and Paris had "
    "coffeehouses where people read the news aloud and struck their deals. Fun fact: "
    "Lloyd's of London, the insurance market, started out as one of those coffeehouses, "
    "and so did the stock exchange."
)


def article_llm(**extra: Any) -> ScriptedLLM:
    """A scripted model that can write a whole article."""
    return ScriptedLLM(
        [
            Reply(OUTLINE, match="Write an outline"),
            Reply(SECTION_TEXT, match="Write one paragraph"),
            Reply(STYLED_TEXT, match="Rewrite this article draft"),
            Reply("A revised article.", match="Revise this article"),
            Reply("An answer to the task.", match="Task:"),
        ]
    )


@dataclass
class Harness:
    app: Quart
    client: TestClientProtocol
    settings: Settings
    _tokens: dict[tuple[str, bool], str] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        return self.app.extensions["genflow"]

    def headers(self, sub: str = "alice", *, admin: bool = False) -> dict[str, str]:
        """A recorded token for `sub` (one per principal and harness, made on first use)."""
        token = self._tokens.get((sub, admin))
        if token is None:
            token = recorded_token(self.services.store.url, self.services.secret, sub, admin=admin)
            self._tokens[(sub, admin)] = token
        return {"Authorization": f"Bearer {token}"}

    async def create(self, flow: str, input_: dict[str, Any], sub: str = "alice") -> dict[str, Any]:
        response = await self.client.post(
            "/api/jobs", json={"flow": flow, "input": input_}, headers=self.headers(sub)
        )
        assert response.status_code == 201, await response.get_data(as_text=True)
        return await response.get_json()

    async def job(self, job_id: str, sub: str = "alice") -> dict[str, Any]:
        response = await self.client.get(f"/api/jobs/{job_id}", headers=self.headers(sub))
        assert response.status_code == 200
        return await response.get_json()

    async def wait_for(
        self, job_id: str, *statuses: str, sub: str = "alice", timeout: float = 10.0
    ) -> dict[str, Any]:
        """Poll until the job reaches one of `statuses` (default: any terminal status)."""
        wanted = statuses or TERMINAL
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            job = await self.job(job_id, sub)
            if job["status"] in wanted:
                return job
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"job stayed {job['status']}, wanted {wanted}: {job}")
            await asyncio.sleep(0.02)

    async def events(self, job_id: str, sub: str = "alice") -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/api/jobs/{job_id}/events",
            headers={**self.headers(sub), "Accept": "application/json"},
        )
        assert response.status_code == 200
        return (await response.get_json())["events"]

    async def decide(
        self,
        job_id: str,
        decision: str,
        comment: str | None = None,
        sub: str = "alice",
        review_id: str | None = None,
    ) -> Any:
        if review_id is None:
            job = await self.wait_for(job_id, "waiting_for_review", sub=sub)
            review_id = job["review"]["id"]
        body: dict[str, Any] = {"review_id": review_id, "decision": decision}
        if comment is not None:
            body["comment"] = comment
        return await self.client.post(
            f"/api/jobs/{job_id}/review", json=body, headers=self.headers(sub)
        )


@contextlib.asynccontextmanager
async def running_app(
    data_dir: Path,
    llm: LLMBackend | None = None,
    *,
    images: ImageBackend | None = None,
    flows: dict[str, FlowSpec] | None = None,
    store: Store | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    settings = replace(Settings(data_dir=data_dir, heartbeat_seconds=0.5), **overrides)
    app = create_app(
        settings,
        store=store,
        llm_backend=llm or article_llm(),
        image_backend=images or PlaceholderImages(),
        flow_specs=flows,
    )
    async with app.test_app() as test_app:
        yield Harness(app=app, client=test_app.test_client(), settings=settings)
