"""`genflow run` in the terminal: a progress bar, streamed model text, review prompts."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any, TextIO

from backend.client import APIError, GenFlowClient

BAR_WIDTH = 30


def bar(progress: int) -> str:
    filled = BAR_WIDTH * max(0, min(100, progress)) // 100
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress:3d}%"


class TerminalView:
    """Writes events for a person: status lines on stderr, model text and results on stdout."""

    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.out, self.err = out, err
        self.in_text = False

    def line(self, text: str, progress: int) -> None:
        if self.in_text:
            self.out.write("\n")
            self.out.flush()
            self.in_text = False
        self.err.write(f"{bar(progress)} {text}\n")
        self.err.flush()

    def text(self, chunk: str) -> None:
        self.in_text = True
        self.out.write(chunk)
        self.out.flush()

    def show(self, event: dict[str, Any]) -> None:
        kind, data, progress = event["type"], event["data"], event.get("progress", 0)
        if kind == "llm.delta":
            self.text(data["text"])
        elif kind == "node.started":
            self.line(f"▶ {data['node']}", progress)
        elif kind == "node.progress":
            self.line(f"  {data['message']}", progress)
        elif kind == "node.retry":
            self.line(
                f"  retry {data['node']} (attempt {data['attempt']}): {data['error']}", progress
            )
        elif kind == "node.finished":
            summary = f": {data['summary']}" if data.get("summary") else ""
            self.line(f"✔ {data['node']} ({data['duration_ms']} ms){summary}", progress)
        elif kind == "artifact.created":
            self.line(
                f"  artifact {data['artifact_id']} ({data['mime']}) at {data['url']}", progress
            )
        elif kind == "review.decided":
            self.line(f"  review: {data['decision']} by {data['by']} via {data['via']}", progress)
        elif kind == "job.failed":
            self.line(f"✘ failed: {data['error']['message']}", progress)
        elif kind == "job.cancelled":
            self.line(f"✘ cancelled by {data['by']}", progress)
        elif kind == "job.completed":
            self.line("✔ completed", 100)
            self.result(data.get("result"))

    def result(self, result: Any) -> None:
        if isinstance(result, dict) and "markdown" in result:
            self.out.write("\n" + result["markdown"] + "\n")
        elif isinstance(result, dict) and "output" in result:
            self.out.write("\n" + str(result["output"]) + "\n")
        elif result is not None:
            self.out.write(f"\n{result}\n")
        self.out.flush()


async def ask_review(
    view: TerminalView, review: dict[str, Any], progress: int
) -> tuple[str, str | None]:
    payload = review.get("payload") or {}
    view.line(f"? {review['prompt']}", progress)
    for key in ("output", "markdown", "url"):
        if key in payload:
            view.out.write(f"\n{payload[key]}\n\n")
    options = review["options"]
    while True:
        answer = (await asyncio.to_thread(input, f"Decision ({'/'.join(options)}): ")).strip()
        if answer in options:
            break
        view.err.write(f"please answer one of: {', '.join(options)}\n")
    comment = None
    if answer != options[0]:
        comment = (await asyncio.to_thread(input, "Comment (optional): ")).strip() or None
    return answer, comment


async def follow_job(client: GenFlowClient, job_id: str, view: TerminalView | None = None) -> int:
    """Follow until the job ends; answer reviews at the prompt. Exit code 0 only on success."""
    view = view or TerminalView()
    async with contextlib.aclosing(client.follow(job_id)) as events:
        async for event in events:
            if await _handle(client, job_id, view, event):
                return 0 if event["type"] == "job.completed" else 1
    return 1


async def _handle(
    client: GenFlowClient, job_id: str, view: TerminalView, event: dict[str, Any]
) -> bool:
    """Show one event (and answer it if it asks for a review); True when the job ended."""
    view.show(event)
    if event["type"] == "review.requested":
        decision, comment = await ask_review(view, event["data"], event.get("progress", 0))
        try:
            await client.decide(job_id, event["data"]["id"], decision, comment=comment, via="cli")
        except APIError as exc:  # somebody else decided first: the stream shows what won
            view.line(f"  {exc.message}", event.get("progress", 0))
    return event["type"] in ("job.completed", "job.failed", "job.cancelled")
