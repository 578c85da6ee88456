"""The processes a benchmark talks to: the fake model, GenFlow, and the seed baseline.

Each runs as its own process on 127.0.0.1 so the benchmark client measures them over real
sockets, and so their resident memory can be read with psutil.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from tests.e2e.server import ROOT, GenFlowServer, free_port, stop_process
from tests.fakes.openai_server import FakeOpenAIProcess


def rss_bytes(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


@dataclass
class GenFlowProcess(GenFlowServer):
    """A real GenFlow server process: `genflow serve` with a fake model.

    `make` runs `bench.genflow_server` (the in-process fixed-latency model); `with_sdk`
    runs `genflow serve` itself with the `openai` backend against the fake model server.
    """

    command: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, data_dir: Path, latency: float, **settings: Any) -> GenFlowProcess:
        env = {"GENFLOW_BENCH_LLM_LATENCY": str(latency)}
        return cls._build(data_dir, ["-m", "bench.genflow_server"], env, settings)

    @classmethod
    def with_sdk(cls, data_dir: Path, llm: FakeOpenAIProcess, **settings: Any) -> GenFlowProcess:
        env = {"GENFLOW_LLM": "openai", "OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "x"}
        return cls._build(data_dir, ["-m", "backend.cli", "serve"], env, settings)

    @classmethod
    def _build(
        cls, data_dir: Path, args: list[str], env: dict[str, str], settings: dict[str, Any]
    ) -> GenFlowProcess:
        extra_env = {
            "GENFLOW_RATE_LIMIT_PER_MINUTE": "1000000000",
            "GENFLOW_RATE_LIMIT_BURST": "1000000000",
            **env,
            **{f"GENFLOW_{k.upper()}": str(v) for k, v in settings.items()},
        }
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            data_dir=data_dir,
            script=data_dir / "unused.json",
            heartbeat=15.0,
            command=[sys.executable, *args],
            extra_env=extra_env,
        )

    def spawn(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self.starts += 1
        if self._log is not None:
            self._log.close()
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env(), stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


@dataclass
class BaselineProcess:
    """`python -m bench.baseline`: the seed design on Quart + Hypercorn."""

    latency: float
    threads: int = 40
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> BaselineProcess:
        self.spawn()
        await wait_http(f"{self.base_url}/health", self.proc)
        return self

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.baseline",
                "--port",
                str(self.port),
                "--latency",
                str(self.latency),
                "--threads",
                str(self.threads),
            ],
            cwd=ROOT,
        )

    def stop(self) -> None:
        stop_process(self.proc)


async def wait_http(url: str, proc: subprocess.Popen[Any], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {within} s")
            await asyncio.sleep(0.05)


async def metric(session: aiohttp.ClientSession, base_url: str, name: str) -> dict[str, float]:
    """The samples of one Prometheus metric from GET /metrics, keyed by their labels."""
    async with session.get(f"{base_url}/metrics") as response:
        text = await response.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            samples[key[len(name) :]] = float(value)
    return samples
