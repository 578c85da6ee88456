"""Prometheus metrics, in a registry of this app's own (tests can build many apps)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from backend.domain import Job, JobStatus


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
        # Pilot workflows: the figures GET /api/workflows/{id}/stats gives, for Prometheus.
        self.workflow_node_runs = Counter(
            "genflow_workflow_node_runs",
            "Workflow node runs by outcome",
            ["workflow", "node", "outcome"],
            registry=self.registry,
        )
        self.workflow_node_seconds = Histogram(
            "genflow_workflow_node_duration_seconds",
            "Workflow node run time",
            ["workflow", "node"],
            registry=self.registry,
        )
        self.workflow_cost = Counter(
            "genflow_workflow_cost_usd",
            "Estimated LLM cost of workflow executions in USD",
            ["workflow"],
            registry=self.registry,
        )
        self.workflow_executions = Counter(
            "genflow_workflow_executions",
            "Workflow executions that ended, by status",
            ["workflow", "status"],
            registry=self.registry,
        )
        self.followers = Gauge(
            "genflow_event_followers", "Open SSE/WebSocket followers", registry=self.registry
        )
        # The children of the per-node metrics, by label values: `labels()` validates and
        # locks on every call, which was a tenth of the runner's own time per node. They
        # are the children prometheus keeps anyway (none is ever removed).
        self._llm_children: dict[str, tuple[Counter, Counter, Counter]] = {}
        self._node_children: dict[tuple[str, str], Histogram] = {}

    def record_llm(self, model: str, tokens_in: int, tokens_out: int, cost: float) -> None:
        children = self._llm_children.get(model)
        if children is None:
            children = self._llm_children[model] = (
                self.llm_tokens.labels(model, "in"),
                self.llm_tokens.labels(model, "out"),
                self.llm_cost.labels(model),
            )
        children[0].inc(tokens_in)
        children[1].inc(tokens_out)
        children[2].inc(cost)

    def observe_node(self, flow: str, node: str, seconds: float) -> None:
        child = self._node_children.get((flow, node))
        if child is None:
            child = self._node_children[flow, node] = self.node_seconds.labels(flow, node)
        child.observe(seconds)

    def workflow_node(
        self, workflow: str, node: str, outcome: str, seconds: float, usage: dict[str, Any] | None
    ) -> None:
        self.workflow_node_runs.labels(workflow, node, outcome).inc()
        self.workflow_node_seconds.labels(workflow, node).observe(seconds)
        if usage:
            self.workflow_cost.labels(workflow).inc(usage.get("cost_usd", 0.0))

    def workflow_ended(self, job: Job) -> None:
        """An execution's end; a failure counts against the node it failed in."""
        assert job.workflow_id is not None
        self.workflow_executions.labels(job.workflow_id, job.status.value).inc()
        if job.status is JobStatus.FAILED and job.current_node:
            self.workflow_node_runs.labels(job.workflow_id, job.current_node, "failed").inc()

    def render(self, counts: dict[str, int]) -> bytes:
        for status in JobStatus:
            self.jobs.labels(status.value).set(counts.get(status.value, 0))
        return generate_latest(self.registry)
