"""The processes behind the UI tests: the fake OpenAI server, `genflow serve`, and the UI.

Each runs as a real subprocess on a free 127.0.0.1 port, the way a person would run them:
the API uses `GENFLOW_LLM=openai` against the fake, and the UI (`python -m ui`) finds the
API through GENFLOW_API_URL and has no token at all: people log in to it with accounts
made by `genflow user add` (`PEOPLE`). `RULES` are the fake model's answers; `Stack` is
the three together.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from tests.e2e.server import ROOT, GenFlowServer, free_port, stop_process, tail
from tests.fakes.openai_server import FakeOpenAIProcess
from tests.fakes.session_answers import SESSION_RULES
from tests.fakes.workflow_answers import WORKFLOW_RULES
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT

START_TIMEOUT = 60.0
USER = "alice"  # who the UI tests log in as, unless they say otherwise
PEOPLE = {name: f"{name}-password" for name in ("alice", "bob", "dora", "erin")}
# Every test logs in, all from 127.0.0.1: the API's login limits would refuse most of them.
LOGIN_LIMITS = {
    "GENFLOW_LOGIN_PER_MINUTE": "6000",
    "GENFLOW_LOGIN_BURST": "1000",
    "GENFLOW_LOGIN_ADDRESS_PER_MINUTE": "6000",
    "GENFLOW_LOGIN_ADDRESS_BURST": "1000",
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GENFLOW_", "OPENAI_", "SLACK_", "GRADIO_"))
    }
    return env | {"PYTHONUNBUFFERED": "1", **extra}


@dataclass
class UIProcess:
    """`python -m ui` (what `genflow ui` runs) pointed at an API."""

    api: GenFlowServer
    work_dir: Path
    port: int = field(default_factory=free_port)
    env_overrides: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    _log: TextIO | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "ui.log"

    def env(self) -> dict[str, str]:
        tmp = self.work_dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        settings = {
            "GENFLOW_API_URL": self.api.base_url,  # and no token: it has none of its own
            "GENFLOW_HOST": "127.0.0.1",
            "GENFLOW_UI_PORT": str(self.port),
            "GRADIO_TEMP_DIR": str(tmp),
            "TMPDIR": str(tmp),
        }
        return clean_env(**(settings | self.env_overrides))

    def start(self) -> UIProcess:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ui"],
            cwd=ROOT,
            env=self.env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(timeout=2.0) as http:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"the UI exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if http.get(f"{self.url}/login").status_code == 200:
                        return self
                if time.monotonic() > deadline:
                    raise AssertionError(f"the UI did not start:\n{self.log_tail()}")
                time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 60) -> str:
        return tail(self._log, self.log_path, lines)


@dataclass
class OpenAIBackedServer(GenFlowServer):
    """`genflow serve` with the openai LLM backend aimed at the fake; placeholder images."""

    openai_base_url: str = ""

    def env(self) -> dict[str, str]:
        return (
            super().env()
            | LOGIN_LIMITS
            | {
                "GENFLOW_LLM": "openai",
                "OPENAI_BASE_URL": self.openai_base_url,
                "OPENAI_API_KEY": "test",
                "GENFLOW_IMAGES": "local",
                # Review deadlines are swept every second (the shortest): a test's review
                # with a timeout of seconds gets its reminder and deadline on time.
                "GENFLOW_REVIEW_SWEEP_SECONDS": "1",
            }
        )

    def add_account(self, name: str, password: str) -> None:
        """`genflow user add NAME --password-stdin`, on this server's database."""
        subprocess.run(
            [sys.executable, "-m", "backend.cli", "user", "add", name, "--password-stdin"],
            input=f"{password}\n",
            text=True,
            cwd=ROOT,
            env=self.env(),
            check=True,
            capture_output=True,
        )


def api_server(data_dir: Path, fake: FakeOpenAIProcess) -> OpenAIBackedServer:
    script = data_dir.parent / "unused-script.json"
    script.write_text("[]")
    return OpenAIBackedServer(data_dir=data_dir, script=script, openai_base_url=fake.base_url)


STYLED = f"Legend says a goatherd named Kaldi saw his goats dance. {STYLED_TEXT}"
# What the fake model answers (first match wins); each test uses its own task text.
RULES: list[dict[str, Any]] = [
    *WORKFLOW_RULES,  # first: a workflow's draft prompt quotes other prompts' words
    {"answer": OUTLINE, "match": "Write an outline"},
    {"answer": SECTION_TEXT, "match": "Write one paragraph"},
    {"answer": STYLED, "match": "Rewrite this article draft"},
    *SESSION_RULES,  # after the section rule: a section's prompt may quote research notes
    {"answer": "Rain taps the window / a haiku that rhymes, with flair / autumn in the air",
     "match": "make it rhyme"},
    {"answer": "Leaves fall quietly\nthe kettle sings in the dusk\nautumn settles in",
     "match": "Task:"},
]  # fmt: skip


@dataclass
class Stack:
    fake: FakeOpenAIProcess
    api: OpenAIBackedServer
    ui: UIProcess
    _tokens: dict[str, str] = field(default_factory=dict)

    def add_people(self) -> Stack:
        for name, password in PEOPLE.items():
            self.api.add_account(name, password)
        return self

    def token(self, name: str) -> str:
        """A token of the person's own (from `POST /api/auth/login`, once per test run)."""
        if name not in self._tokens:
            login = {"username": name, "password": PEOPLE[name]}
            response = httpx.post(f"{self.api.base_url}/api/auth/login", json=login, timeout=10)
            response.raise_for_status()
            self._tokens[name] = response.json()["token"]
        return self._tokens[name]

    def http(self, as_: str | None = None) -> httpx.Client:
        """A client of the API, to act "elsewhere" (not in the page): as the person `as_`,
        or with the admin token (which sees and decides everything)."""
        headers = (
            self.api.headers if as_ is None else {"Authorization": f"Bearer {self.token(as_)}"}
        )
        return httpx.Client(base_url=self.api.base_url, headers=headers, timeout=10)

    def create_job(self, flow: str, input_: dict[str, Any], as_: str = USER) -> dict[str, Any]:
        with self.http(as_) as http:
            response = http.post("/api/jobs", json={"flow": flow, "input": input_})
            response.raise_for_status()
            return response.json()
