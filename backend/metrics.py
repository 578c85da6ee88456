"""Prometheus metrics, in a registry of this app's own (tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from backend.domain import JobStatus


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Gauge("genflow_jobs", "Jobs by status", ["status"], registry=self.registry)
        self.jobs_created = Counter(
            "genflow_jobs_created", "Jobs created", ["flow"], registry=self.registry
        )
        self.node_seconds = Histogram(
            "genflow_node_duration_seconds",
            "Node run time",
            ["flow", "node"],
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "genflow_llm_tokens", "LLM tokens", ["model", "direction"], registry=self.registry
        )
        self.llm_cost = Counter(
            "genflow_llm_cost_usd", "Estimated LLM cost in USD", ["model"], registry=self.registry
        )
        self.followers = Gauge(
            "genflow_event_followers", "Open SSE/WebSocket followers", registry=self.registry
        )

    def record_llm(self, model: str, tokens_in: int, tokens_out: int, cost: float) -> None:
        self.llm_tokens.labels(model, "in").inc(tokens_in)
        self.llm_tokens.labels(model, "out").inc(tokens_out)
        self.llm_cost.labels(model).inc(cost)

    def render(self, counts: dict[str, int]) -> bytes:
        for status in JobStatus:
            self.jobs.labels(status.value).set(counts.get(status.value, 0))
        return generate_latest(self.registry)
