"""`python -m bench.genflow_worker [--concurrency N]`: `genflow worker` with the fake model.

Exactly the `genflow worker` code path (`backend.cli`, `backend.worker`), except that its
services are built with the fixed-latency fake model (`bench.fake_llm.use_in`: latency
from GENFLOW_BENCH_LLM_LATENCY, seconds; `ArticleLLM`'s answers with
GENFLOW_BENCH_LLM_ANSWERS=article, as `scale_out` sets): with the procrastinate queue the
workers, not the API replicas, call the model, so this is where the fake model has to live
for the benchmark to measure GenFlow.
"""

from __future__ import annotations

import sys

from backend import cli
from backend import worker as worker_module
from bench.fake_llm import use_in


def main(argv: list[str]) -> int:
    use_in(worker_module, "build_services")
    return cli.main(["worker", *argv])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
