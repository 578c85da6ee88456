"""A real `genflow serve` process for end-to-end tests, and a raw SSE reader.

`GenFlowServer` starts the server in a subprocess on a free 127.0.0.1 port with its own
data dir and a scripted LLM, waits for `/api/health`, reads the admin token from the
data dir, and can SIGKILL it and start it again on the same data dir (and port).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

ROOT = Path(__file__).resolve().parents[2]
SERVE = [sys.executable, "-m", "backend.cli", "serve"]  # what `genflow serve` runs
START_TIMEOUT = 20.0


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM and wait; SIGKILL if it does not exit in time. Safe to call twice."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def tail(log: TextIO | None, path: Path, lines: int = 40) -> str:
    """The last lines of a process's log file (flushed first), for failure messages."""
    if log is not None:
        log.flush()
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_script(path: Path, rules: list[dict[str, Any]]) -> Path:
    """A GENFLOW_LLM_SCRIPT file: `{answer, match, times, delay}` rules, first match wins."""
    path.write_text(json.dumps(rules))
    return path


@dataclass
class GenFlowServer:
    data_dir: Path
    script: Path
    heartbeat: float = 0.3
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: TextIO | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"server-{self.starts}.log"

    @property
    def token(self) -> str:
        return (self.data_dir / "admin.token").read_text().strip()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GENFLOW_", "OPENAI_", "SLACK_"))
        }
        env.update(
            GENFLOW_DATA_DIR=str(self.data_dir),
            GENFLOW_HOST="127.0.0.1",
            GENFLOW_PORT=str(self.port),
            GENFLOW_LLM="scripted",
            GENFLOW_LLM_SCRIPT=str(self.script),
            GENFLOW_IMAGES="local",
            GENFLOW_HEARTBEAT_SECONDS=str(self.heartbeat),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)  # a test may override any of the above
        return env

    def spawn(self) -> None:
        """Start the process (does not wait for it to be ready)."""
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        if self._log is not None:
            self._log.close()
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            SERVE, cwd=ROOT, env=self.env(), stdout=self._log, stderr=subprocess.STDOUT
        )

    def _check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"genflow serve exited with {self.proc.returncode}:\n{self.log_tail()}"
            )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until /api/health answers 200 (for sync fixtures)."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0) as http:
            while True:
                self._check_alive()
                with contextlib.suppress(httpx.TransportError):
                    if http.get("/api/health").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(f"server not ready in {timeout}s:\n{self.log_tail()}")
                time.sleep(0.05)

    async def wait_ready_async(self, within: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as http:
            while True:
                self._check_alive()
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/api/health")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(f"server not ready in {within}s:\n{self.log_tail()}")
                await asyncio.sleep(0.05)

    def start(self) -> GenFlowServer:
        self.spawn()
        self.wait_ready()
        return self

    async def start_async(self) -> GenFlowServer:
        self.spawn()
        await self.wait_ready_async()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what a crash looks like."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Safe to call twice."""
        stop_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        return tail(self._log, self.log_path, lines)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, headers=self.headers, **kwargs)


# -- raw Server-Sent Events ------------------------------------------------------------


@dataclass
class SSEBlock:
    """One block of an SSE stream (the lines up to a blank line)."""

    lines: list[str]

    def fields(self, name: str) -> list[str]:
        prefix = name + ":"
        return [line[len(prefix) :].lstrip(" ") for line in self.lines if line.startswith(prefix)]

    @property
    def is_comment(self) -> bool:
        return all(line.startswith(":") for line in self.lines)

    @property
    def data(self) -> dict[str, Any]:
        return json.loads("\n".join(self.fields("data")))


@dataclass
class SSERead:
    status: int
    headers: httpx.Headers
    blocks: list[SSEBlock]

    @property
    def events(self) -> list[SSEBlock]:
        return [b for b in self.blocks if b.fields("event")]

    @property
    def durable(self) -> list[dict[str, Any]]:
        return [b.data for b in self.events if b.fields("id")]

    @property
    def pings(self) -> int:
        return sum(1 for b in self.blocks if b.is_comment and b.lines == [": ping"])


async def read_sse(
    http: httpx.AsyncClient,
    job_id: str | None,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    stop_after: int | None = None,
    create: dict[str, Any] | None = None,
) -> SSERead:
    """Read the job's SSE stream until the server ends it (or `stop_after` durable events).
    With `create` (and no `job_id`), the stream is the answer to `POST /api/jobs` of it.

    Callers bound it with `asyncio.wait_for`; a stream that never ends is a test failure.
    """
    blocks: list[SSEBlock] = []
    durable = 0
    async with http.stream(
        "GET" if create is None else "POST",
        "/api/jobs" if create is not None else f"/api/jobs/{job_id}/events",
        headers={"Accept": "text/event-stream", **(headers or {})},
        params=params,
        json=create,
        timeout=httpx.Timeout(10.0, read=None),
    ) as response:
        if response.status_code != (200 if create is None else 201):
            await response.aread()
            return SSERead(response.status_code, response.headers, [])
        current: list[str] = []
        async for line in response.aiter_lines():
            if line != "":
                current.append(line)
                continue
            if not current:
                continue
            block = SSEBlock(current)
            blocks.append(block)
            current = []
            if block.fields("id"):
                durable += 1
                if stop_after is not None and durable >= stop_after:
                    break
        if current:
            blocks.append(SSEBlock(current))
        return SSERead(response.status_code, response.headers, blocks)
