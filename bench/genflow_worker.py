"""`python -m bench.genflow_worker [--concurrency N]`: `genflow worker` with the fake model.

Exactly the `genflow worker` code path (`backend.cli`, `backend.worker`), except that its
services are built with `FixedLatencyLLM` (latency from GENFLOW_BENCH_LLM_LATENCY,
seconds): with the procrastinate queue the workers, not the API replicas, call the model,
so this is where the fake model has to live for the benchmark to measure GenFlow.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from backend import cli
from backend import worker as worker_module
from bench.fake_llm import FixedLatencyLLM


def main(argv: list[str]) -> int:
    latency = float(os.environ.get("GENFLOW_BENCH_LLM_LATENCY", "0.2"))
    real = worker_module.build_services

    def build_services(settings: Any, **parts: Any) -> Any:
        parts.setdefault("llm_backend", FixedLatencyLLM(latency))
        return real(settings, **parts)

    worker_module.build_services = build_services
    return cli.main(["worker", *argv])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
