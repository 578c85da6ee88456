"""A scaled-out GenFlow on this machine: API replicas and workers as real processes.

`Cluster` runs `genflow serve` replicas and `genflow worker` processes against one
PostgreSQL database and one Redis (tests/services.py), with the fake OpenAI-compatible
server (tests/fakes/openai_server.py, in the test's event loop) as the model. All share
one `GENFLOW_SECRET`, and `token()` records its tokens in the cluster's database, so a
token issued here works on every replica. Leases are short (3 s) and the re-queue runs
every second, so take-overs happen within a test's patience.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from backend.store.migrate import upgrade
from tests.e2e.server import ROOT, GenFlowServer, stop_process, tail
from tests.harness import OUTLINE, SECTION_TEXT, STYLED_TEXT
from tests.tokens import recorded_token

SECRET = "scale-out-test-secret-0123456789abcdef"
WORKER = [sys.executable, "-m", "backend.cli", "worker"]
LEASE_SECONDS = 3
# What the fake model answers for the seed flows' prompts (others get an echo).
RULES = [
    {"answer": OUTLINE, "match": "Write an outline"},
    {"answer": SECTION_TEXT, "match": "Write one paragraph"},
    {
        "answer": f"So, coffee: a friendly history of the bean we love. {STYLED_TEXT}",
        "match": "Rewrite",
    },
]


_database: dict[str, str] = {}  # "url": where `token()` records its tokens
_tokens: dict[tuple[str, str, bool], str] = {}


def use_database(url: str) -> None:
    """Record the tokens `token()` makes in this database from now on (a cluster's)."""
    _database["url"] = url


def token(sub: str = "tester", *, admin: bool = True) -> str:
    """A token every replica of the current cluster accepts (one per principal)."""
    url = _database["url"]
    if (url, sub, admin) not in _tokens:
        upgrade(url)  # the tokens table, should no replica have started yet
        _tokens[(url, sub, admin)] = recorded_token(url, SECRET, sub, admin=admin)
    return _tokens[(url, sub, admin)]


def cluster_env(database_url: str, redis_url: str, model_url: str) -> dict[str, str]:
    return {
        "GENFLOW_DATABASE_URL": database_url,
        "GENFLOW_QUEUE": "procrastinate",
        "GENFLOW_REDIS_URL": redis_url,
        "GENFLOW_SECRET": SECRET,
        "GENFLOW_LLM": "openai",
        "GENFLOW_MODEL": "gpt-4o-mini",
        "OPENAI_BASE_URL": model_url,
        "OPENAI_API_KEY": "test",
        "GENFLOW_LEASE_SECONDS": str(LEASE_SECONDS),
        "GENFLOW_REQUEUE_SECONDS": "1",
        "GENFLOW_WORKER_CONCURRENCY": "8",
    }


@dataclass
class Worker:
    """One `genflow worker` process."""

    data_dir: Path
    env_extra: dict[str, str]
    name: str
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: TextIO | None = None
    command: list[str] = field(default_factory=lambda: list(WORKER))

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}-{self.starts}.log"

    def start(self) -> Worker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self._log = self.log_path.open("w")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GENFLOW_", "OPENAI_"))}
        env.update(GENFLOW_DATA_DIR=str(self.data_dir), PYTHONUNBUFFERED="1", **self.env_extra)
        self.proc = subprocess.Popen(
            self.command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        return self

    def log(self) -> str:
        return tail(self._log, self.log_path, 10_000)

    async def wait_for_log(self, text: str, within: float) -> None:
        deadline = time.monotonic() + within
        while text not in self.log():
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{tail(self._log, self.log_path)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never logged {text!r}:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.05)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process cannot exit
        stop_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Cluster:
    root: Path
    database_url: str
    redis_url: str
    model_url: str
    replicas: list[GenFlowServer] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)

    def __post_init__(self) -> None:
        use_database(self.database_url)

    def move_to(self, database_url: str) -> None:
        """Run this cluster on another database (its tokens recorded there too)."""
        self.database_url = database_url
        use_database(database_url)

    def env(self, **extra: str) -> dict[str, str]:
        return {**cluster_env(self.database_url, self.redis_url, self.model_url), **extra}

    def add_replica(self, **extra: str) -> GenFlowServer:
        index = len(self.replicas)
        server = GenFlowServer(
            self.root / f"replica-{index}",
            script=self.root / "unused.json",
            extra_env=self.env(**extra),
        )
        self.replicas.append(server)
        return server.start()

    def add_worker(self, *, start: bool = True, **extra: str) -> Worker:
        worker = Worker(self.root / "workers", self.env(**extra), f"worker-{len(self.workers)}")
        self.workers.append(worker)
        return worker.start() if start else worker

    def stop(self) -> None:
        for process in [*self.workers, *self.replicas]:
            with contextlib.suppress(Exception):
                process.stop()

    def logs(self) -> str:
        parts = [f"--- {w.name}\n{w.log()[-4000:]}" for w in self.workers]
        parts += [f"--- replica {i}\n{r.log_tail(60)}" for i, r in enumerate(self.replicas)]
        return "\n".join(parts)


def client(server: GenFlowServer, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {token()}"},
        timeout=httpx.Timeout(10.0),
        **kwargs,
    )
