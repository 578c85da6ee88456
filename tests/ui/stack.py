"""The processes behind the UI tests: the fake OpenAI server, `genflow serve`, and the UI.

Each runs as a real subprocess on a free 127.0.0.1 port, the way a person would run them:
the API uses `GENFLOW_LLM=openai` against the fake, and the UI (`python -m ui`) finds the
API through GENFLOW_API_URL and reads the admin token from the API's data dir.
`RULES` are the fake model's answers; `Stack` is the three together.
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
            "GENFLOW_API_URL": self.api.base_url,
            "GENFLOW_DATA_DIR": str(self.api.data_dir),  # the admin token is read from here
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
                    if http.get(self.url).status_code == 200:
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
        return super().env() | {
            "GENFLOW_LLM": "openai",
            "OPENAI_BASE_URL": self.openai_base_url,
            "OPENAI_API_KEY": "test",
            "GENFLOW_IMAGES": "local",
        }


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

    def http(self) -> httpx.Client:
        """A client of the API with the admin token, to act "elsewhere" (not in the page)."""
        return httpx.Client(base_url=self.api.base_url, headers=self.api.headers, timeout=10)

    def create_job(self, flow: str, input_: dict[str, Any]) -> dict[str, Any]:
        with self.http() as http:
            response = http.post("/api/jobs", json={"flow": flow, "input": input_})
            response.raise_for_status()
            return response.json()
