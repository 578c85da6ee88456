"""`python -m bench.quality [--runs N] [--flows article,review,image]`: is the output usable?

Runs each seed flow N times (default 5) with the configured model (the same settings as
`genflow serve`: the embedded SmolLM2 unless GENFLOW_LLM / OPENAI_BASE_URL say
otherwise), through the real runner and store, approving every review, and reports how
often the output passes the checks a reader would make, with timings. Writes
bench/results/quality.json. Unlike the other benchmarks this one measures the model.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.auth import Principal
from backend.domain import TERMINAL_STATUSES, JobStatus
from backend.settings import Settings
from bench.model_runs import configured_model, started, write_report
from bench.report import table
from flows import checks

TOPICS = (
    "The history of coffee",
    "How bicycles changed cities",
    "Why sleep matters",
    "The basics of composting",
    "A beginner's guide to chess",
)
TASKS = (
    "Write a haiku about tea",
    "Write a short thank-you note to a colleague who helped me move house",
    "Give three tips for a first job interview",
    "Explain what a rainbow is to a ten-year-old",
    "Write a two-sentence product description for a reusable water bottle",
)
PROMPTS = (
    "a lighthouse at dusk",
    "a red bicycle in the rain",
    "a bowl of ramen",
    "a cat asleep on a keyboard",
    "mountains at sunrise",
)
MIN_ARTICLE_WORDS = 250
ME = Principal("quality-bench", admin=True)
Checks = dict[str, bool]


def article_checks(topic: str, job: Any, events: list[Any]) -> Checks:
    markdown: str = job.result["markdown"] if job.result else ""
    headings = re.findall(r"^## (.+)$", markdown, re.MULTILINE)
    body = "\n".join(line for line in markdown.splitlines() if not line.startswith("#"))
    return {
        "completed": job.status == JobStatus.COMPLETED,
        "3 distinct sections": len(headings) == 3 and len({h.lower() for h in headings}) == 3,
        f">= {MIN_ARTICLE_WORDS} words": checks.words(body) >= MIN_ARTICLE_WORDS,
        "about the topic": bool(checks.topic_words(topic) & checks.topic_words(body)),
        "no refusal, no repeats": bool(body)
        and not checks.repeats(body)
        and not checks.not_the_work(body),
        "style kept (no fallback)": not any(
            e.type == "node.progress" and "as drafted" in e.data.get("message", "")
            for e in events
        ),
    }


def task_checks(task: str, job: Any, events: list[Any]) -> Checks:
    outputs = [e.data["payload"]["output"] for e in events if e.type == "review.requested"]
    output = outputs[0] if outputs else ""
    return {
        "completed": job.status == JobStatus.COMPLETED,
        "an answer, not a refusal": bool(output) and not checks.not_the_work(output),
        "about the task": bool(checks.topic_words(task) & checks.topic_words(output)),
    }


def image_checks(prompt: str, job: Any, events: list[Any], image: bytes | None) -> Checks:
    from PIL import Image

    try:
        opened = Image.open(io.BytesIO(image or b""))
        opened.verify()
        decodes = True
    except Exception:
        decodes = False
    return {"completed": job.status == JobStatus.COMPLETED, "a picture that decodes": decodes}


async def _run_one(services: Any, flow: str, input_: dict[str, Any]) -> tuple[Any, list[Any]]:
    job = await services.jobs.create(flow, input_, ME.sub)
    while True:  # a benchmark may poll: it measures the model, not GenFlow's latency
        job = await services.store.get_job(job.id)
        if job.status == JobStatus.WAITING_FOR_REVIEW and job.review is not None:
            await services.jobs.decide(
                job.id, ME, review_id=job.review.id, decision="approve", comment=None, via="api"
            )
        elif job.status in TERMINAL_STATUSES:
            return job, await services.store.events_after(job.id)
        await asyncio.sleep(0.2)


async def _image_bytes(services: Any, job: Any) -> bytes | None:
    artifact_id = (job.result or {}).get("artifact_id")
    if not artifact_id:
        return None
    found = await services.store.get_artifact(artifact_id)
    return found.data if found else None


async def measure(runs: int, flows: list[str], settings: Settings) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with started(settings) as services:
        for flow in flows:
            rows: list[dict[str, Any]] = []
            for i in range(runs):
                began = time.perf_counter()
                if flow == "article":
                    topic = TOPICS[i % len(TOPICS)]
                    job, events = await _run_one(services, "article", {"topic": topic})
                    passed = article_checks(topic, job, events)
                elif flow == "review":
                    task = TASKS[i % len(TASKS)]
                    job, events = await _run_one(services, "review", {"task": task})
                    passed = task_checks(task, job, events)
                else:
                    prompt = PROMPTS[i % len(PROMPTS)]
                    job, events = await _run_one(services, "image", {"prompt": prompt})
                    passed = image_checks(prompt, job, events, await _image_bytes(services, job))
                rows.append(
                    {
                        "input": job.input,
                        "seconds": round(time.perf_counter() - began, 1),
                        "retries": sum(1 for e in events if e.type == "node.retry"),
                        "checks": passed,
                        "error": job.error,
                        "output": _output(job, events),
                        "fallbacks": [
                            e.data["message"]
                            for e in events
                            if e.type == "node.progress"
                            and re.match(r"(Kept|Fixed) ", e.data.get("message", ""))
                        ],
                    }
                )
                print(f"  {flow} {i + 1}/{runs}: {_summary(passed)}", flush=True)
            results[flow] = rows
    return results


def _output(job: Any, events: list[Any]) -> str | None:
    """What a person got, to read in the JSON: the article, or the reviewed answer."""
    if job.result and "markdown" in job.result:
        return job.result["markdown"]
    answers = [e.data["payload"].get("output") for e in events if e.type == "review.requested"]
    return answers[-1] if answers else None


def _summary(passed: Checks) -> str:
    failed = [name for name, ok in passed.items() if not ok]
    return "all checks pass" if not failed else "failed: " + ", ".join(failed)


def pass_rates(rows: list[dict[str, Any]]) -> dict[str, float]:
    names = rows[0]["checks"] if rows else {}
    return {name: sum(r["checks"][name] for r in rows) / len(rows) for name in names}


def render(results: dict[str, Any]) -> str:
    out: list[str] = []
    for flow, rows in results.items():
        seconds = sorted(r["seconds"] for r in rows)
        body = [(name, f"{rate:.0%}") for name, rate in pass_rates(rows).items()]
        body.append(("median seconds per job", seconds[len(seconds) // 2]))
        body.append(("retries per job", sum(r["retries"] for r in rows) / len(rows)))
        out.append(table(f"{flow}: {len(rows)} runs", ["check", "passed"], body))
    return "\n".join(out)


def main(argv: list[str] | None = None, *, out: Callable[[str], None] = print) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="jobs per flow (default 5)")
    parser.add_argument("--flows", default="article,review,image")
    parser.add_argument("--json", type=Path, default=Path("bench/results/quality.json"))
    args = parser.parse_args(argv)
    flows = [f.strip() for f in args.flows.split(",") if f.strip()]
    unknown = set(flows) - {"article", "review", "image"}
    if unknown:
        parser.error(f"unknown flow(s) {', '.join(sorted(unknown))}: use article, review, image")
    with configured_model("genflow-quality-") as settings:
        out(f"model: {settings.llm} {settings.model or ''}".rstrip())
        results = asyncio.run(measure(args.runs, flows, settings))
    out(render(results))
    body = {
        "runs": args.runs,
        "pass_rates": {flow: pass_rates(rows) for flow, rows in results.items()},
        "jobs": results,
    }
    return write_report(args.json, settings, body, out)


if __name__ == "__main__":
    main()
