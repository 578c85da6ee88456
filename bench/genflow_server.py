"""`python -m bench.genflow_server`: `genflow serve` with the in-process fake model.

Exactly the `genflow serve` code path (`backend.cli`), except that the app is built with
`FixedLatencyLLM` (latency from GENFLOW_BENCH_LLM_LATENCY, seconds) instead of a model
backend from the environment, so benchmarks measure GenFlow and not a model client.
"""

from __future__ import annotations

from backend import app as app_module
from backend import cli
from bench.fake_llm import use_in


def main() -> int:
    use_in(app_module, "create_app")
    return cli.main(["serve"])


if __name__ == "__main__":
    raise SystemExit(main())
