"""`python -m bench.pilot_eval [--limit N]`: how often does generation give a workflow
that validates and runs?

Generates a workflow for each request in bench/pilot_prompts.py with the configured model
(the same settings as `genflow serve`: the embedded SmolLM2 unless GENFLOW_LLM /
OPENAI_BASE_URL say otherwise) through the real runner and store, then dry-runs each one
with fakes answering the model, the HTTP calls and the knowledge bases (approving every
review). Reports: valid on the first draft, valid after repair, from the template
fallback, dry runs that complete, and the cost. Writes bench/results/pilot_eval.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from backend.auth import Principal
from backend.settings import Settings
from bench.fake_llm import FixedLatencyLLM
from bench.model_runs import configured_model, started, write_report
from bench.pilot_prompts import PROMPTS
from bench.report import table
from flows import context, llm
from flows.pilot import guarded_http
from flows.pilot.compile import compile_spec
from flows.pilot.knowledge import searcher
from flows.pilot.templates import PLACEHOLDER
from tests.fakes.openai_server import minimal_instance

ME = Principal("pilot-eval", admin=True)
FILLED = {"knowledge": "dry-run-base", "api": "https://api.example.com/records/1"}


class FakeKnowledge:
    async def search(self, base: str, query: str, top_k: int) -> list[dict[str, Any]]:
        return [{"text": f"A passage about {query[:60]}.", "source": "faq.md", "score": 1.0}]


async def _fake_request(method: str, url: str, **_: Any) -> guarded_http.HTTPAnswer:
    body = {"id": 1, "status": "ok", "temperature": 21}
    return guarded_http.HTTPAnswer(
        200, {"content-type": "application/json"}, json.dumps(body), body, url
    )


@contextlib.contextmanager
def fake_http() -> Iterator[None]:
    """The dry run's HTTP: every call answered locally (no network, nothing guarded)."""
    real = guarded_http.request
    guarded_http.request = _fake_request  # type: ignore[assignment]
    try:
        yield
    finally:
        guarded_http.request = real  # type: ignore[assignment]


def filled(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with its placeholders given dry-run values (a base, a URL, a word)."""
    copy = json.loads(json.dumps(spec))
    for node in copy["nodes"]:
        for key, value in list(node["config"].items()):
            if isinstance(value, str) and PLACEHOLDER.match(value.strip()):
                node["config"][key] = FILLED.get(node["type"], "example")
    return copy


async def dry_run(spec: dict[str, Any]) -> tuple[bool, str | None]:
    """Run the workflow with fakes; every review approved (the first option)."""
    runnable = filled(spec)
    start = next(n for n in runnable["nodes"] if n["type"] == "input")
    fields = start["config"].get("fields") or {}
    input_data = minimal_instance(
        {"type": "object", "properties": fields, "required": list(fields)}
    )
    reviews = [n for n in runnable["nodes"] if n["type"] == "review"]
    decisions = [
        {"decision": (r["config"].get("options") or ["approve"])[0]}
        for r in reviews
        for _ in range(20)
    ]
    shared: dict[str, Any] = {"spec": runnable, "input_data": input_data}
    try:
        with (
            fake_http(),
            llm.backend.use(FixedLatencyLLM(0.0)),
            searcher.use(FakeKnowledge()),
            context.bind(context.DetachedContext(decisions=decisions)),
        ):
            await asyncio.wait_for(compile_spec(runnable).run_async(shared), 30)
    except Exception as exc:  # a dry run's failure is a finding, reported per prompt
        return False, f"{type(exc).__name__}: {exc}"
    return "result" in shared, None if "result" in shared else "ended without an output"


async def measure(
    prompts: tuple[str, ...], settings: Settings, out: Callable[[str], None]
) -> list[dict[str, Any]]:
    rows = []
    async with started(settings) as services:
        for number, prompt in enumerate(prompts, 1):
            began = time.monotonic()
            workflow, job = await services.workflows.generate(ME, prompt, None)
            seconds = time.monotonic() - began
            events = await services.store.events_after(job.id, 0, 10_000)
            cost = sum(
                (e.data.get("usage") or {}).get("cost_usd", 0.0)
                for e in events
                if e.type.value == "node.finished"
            )
            rounds = workflow.generation["rounds"] if workflow.generation else []
            ran, problem = await dry_run(workflow.spec)
            row = {
                "prompt": prompt,
                "source": workflow.source,
                "first_draft_valid": bool(rounds) and not rounds[0]["errors"],
                "rounds": len(rounds),
                "first_errors": rounds[0]["errors"][:3] if rounds else [],
                "nodes": [f"{n['id']}:{n['type']}" for n in workflow.spec["nodes"]],
                "dry_run": ran,
                "dry_run_problem": problem,
                "seconds": round(seconds, 1),
                "cost_usd": round(cost, 6),
            }
            rows.append(row)
            verdict = "ok" if ran else "FAILED"
            out(f"{number:2}/{len(prompts)} {workflow.source:8} dry run {verdict:6} {prompt[:60]}")
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = max(1, len(rows))
    return {
        "prompts": len(rows),
        "valid_first_draft": round(100 * sum(r["first_draft_valid"] for r in rows) / n, 1),
        "valid_after_repair": round(
            100 * sum(r["source"] in ("model", "repaired") for r in rows) / n, 1
        ),
        "template_fallback": round(100 * sum(r["source"] == "template" for r in rows) / n, 1),
        "dry_run_completes": round(100 * sum(r["dry_run"] for r in rows) / n, 1),
        "cost_usd": round(sum(r["cost_usd"] for r in rows), 6),
        "median_seconds": sorted(r["seconds"] for r in rows)[len(rows) // 2] if rows else 0,
    }


def main(argv: list[str] | None = None, *, out: Callable[[str], None] = print) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.pilot_eval", description=__doc__)
    parser.add_argument("--limit", type=int, default=len(PROMPTS), help="the first N prompts")
    parser.add_argument("--json", type=Path, default=Path("bench/results/pilot_eval.json"))
    args = parser.parse_args(argv)
    # every request let in: the rate limit is not what is measured
    with configured_model("genflow-pilot-eval-", rate_limit_burst=len(PROMPTS) * 2) as settings:
        out(f"model: {settings.llm} {settings.model or ''}".rstrip())
        rows = asyncio.run(measure(PROMPTS[: args.limit], settings, out))
    figures = summary(rows)
    out(
        table(
            "Pilot generation",
            ["measure", "value"],
            [[k.replace("_", " "), v] for k, v in figures.items()],
        )
    )
    return write_report(args.json, settings, {"summary": figures, "prompts": rows}, out)


if __name__ == "__main__":
    main()
