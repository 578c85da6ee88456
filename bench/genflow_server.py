"""`python -m bench.genflow_server`: `genflow serve` with the in-process fake model.

Exactly the `genflow serve` code path (`backend.cli`), except that the app is built with
`FixedLatencyLLM` (latency from GENFLOW_BENCH_LLM_LATENCY, seconds) instead of a model
backend from the environment, so benchmarks measure GenFlow and not a model client.
"""

from __future__ import annotations

import os
from typing import Any

from backend import app as app_module
from backend import cli
from bench.fake_llm import FixedLatencyLLM


def main() -> int:
    latency = float(os.environ.get("GENFLOW_BENCH_LLM_LATENCY", "0.2"))
    real = app_module.create_app

    def create_app(settings: Any, **parts: Any) -> Any:
        parts.setdefault("llm_backend", FixedLatencyLLM(latency))
        return real(settings, **parts)

    app_module.create_app = create_app
    return cli.main(["serve"])


if __name__ == "__main__":
    raise SystemExit(main())
