"""GenFlow benchmarks: `python -m bench` (full) or `python -m bench --quick` (CI size).

Every benchmark uses a fake LLM with a fixed latency, so the numbers measure GenFlow
(runner, store, event fan-out, HTTP stack), not a model. See docs/performance.md.
"""
