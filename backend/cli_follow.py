"""`genflow run` in the terminal: a progress bar, streamed model text, review prompts.

Each event is folded into the shared `JobView` (`backend.job_view`, the fold the web chat
and the Slack bot use) and the terminal writes what the event changed in it, as a log:
status lines on stderr, model text and the result on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any, TextIO

from backend.client import APIError, GenFlowClient
from backend.job_view import Event, JobView, Retry, Step, editable_text, fold

BAR_WIDTH = 30


def bar(progress: int) -> str:
    filled = BAR_WIDTH * max(0, min(100, progress)) // 100
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress:3d}%"


class TerminalView:
    """Writes a job for a person as its events arrive; `view` is the job so far."""

    def __init__(self, view: JobView, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.view, self.out, self.err = view, out, err
        self.in_text = False

    def line(self, text: str, progress: int | None = None) -> None:
        if self.in_text:
            self.out.write("\n")
            self.out.flush()
            self.in_text = False
        self.err.write(f"{bar(self.view.progress if progress is None else progress)} {text}\n")
        self.err.flush()

    def text(self, chunk: str) -> None:
        if chunk:
            self.in_text = True
            self.out.write(chunk)
            self.out.flush()

    def show(self, event: Event) -> bool:
        """Fold the event and write what it changed; False if it was already shown."""
        before, after = self.view, fold(self.view, event)
        if after is before:
            return False
        self.view = after
        kind, data = event["type"], event.get("data") or {}
        step = after.step(data.get("node"))
        if kind == "llm.delta" and step is not None:
            old = before.step(step.node)
            fresh = old is not None and step.text.startswith(old.text)
            self.text(step.text[len(old.text) :] if old is not None and fresh else step.text)
        elif kind in STEP_LINES and step is not None:
            self.line(STEP_LINES[kind](step))
        elif kind == "artifact.created" and (artifact := after.artifact(data.get("artifact_id"))):
            self.line(f"  artifact {artifact.id} ({artifact.mime}) at {artifact.url}")
        elif kind == "review.decided" and (decided := after.last_decision):
            self.line(f"  review: {decided.decision} by {decided.by} via {decided.via}")
        elif kind == "job.failed":
            self.line(f"✘ failed: {(after.error or {}).get('message')}")
        elif kind == "job.cancelled":
            self.line(f"✘ cancelled by {after.cancelled_by}")
        elif kind == "job.completed":
            self.line("✔ completed", 100)
            self.result(after.result)
        return True

    def result(self, result: Any) -> None:
        if isinstance(result, dict) and "markdown" in result:
            self.out.write("\n" + result["markdown"] + "\n")
        elif isinstance(result, dict) and "output" in result:
            self.out.write("\n" + str(result["output"]) + "\n")
        elif result is not None:
            self.out.write(f"\n{result}\n")
        self.out.flush()


def _started(step: Step) -> str:
    return f"▶ {step.node}"


def _progress(step: Step) -> str:
    return f"  {step.message}"


def _retry(step: Step) -> str:
    retry = next(line for line in reversed(step.lines) if isinstance(line, Retry))
    where = f", {retry.item_name}" if retry.item_name else ""
    return f"  retry {step.node}{where} (attempt {retry.attempt}): {retry.error}"


def _finished(step: Step) -> str:
    summary = f": {step.summary}" if step.summary else ""
    return f"✔ {step.node} ({step.duration_ms} ms){summary}"


STEP_LINES = {
    "node.started": _started,
    "node.progress": _progress,
    "node.retry": _retry,
    "node.finished": _finished,
}


async def ask_review(
    terminal: TerminalView, review: Mapping[str, Any]
) -> tuple[str, str | None, dict[str, str] | None]:
    """The decision, comment and (for `edit`) the edited fields, asked at the prompt."""
    payload = review.get("payload") or {}
    terminal.line(f"? {review['prompt']}")
    for key in ("output", "markdown", "url"):
        if key in payload:
            terminal.out.write(f"\n{payload[key]}\n\n")
    options = review["options"]
    while True:
        answer = (await asyncio.to_thread(input, f"Decision ({'/'.join(options)}): ")).strip()
        edits = await _ask_edits(review) if answer == "edit" else None
        if answer in options and (answer != "edit" or edits):
            break
        terminal.err.write(f"please answer one of: {', '.join(options)}\n")
    comment = None
    if answer != options[0]:
        comment = (await asyncio.to_thread(input, "Comment (optional): ")).strip() or None
    return answer, comment, edits


async def _ask_edits(review: Mapping[str, Any]) -> dict[str, str]:
    """A new value (one line) for each editable text field; empty keeps it."""
    edits = {}
    for field in editable_text(review):
        text = await asyncio.to_thread(input, f"New {field} (one line; empty keeps it): ")
        if text.strip():
            edits[field] = text.strip()
    return edits


def refused(exc: APIError, err: TextIO | None = None) -> int:
    """Say why the API refused to start a job (a 422 lists each problem: its node, if a
    workflow's, and field) and give `genflow`'s exit code for it, 1."""
    err = err or sys.stderr
    err.write(f"error: {exc.message}\n")
    for detail in exc.details if isinstance(exc.details, list) else []:
        where = ".".join(str(p) for p in (detail.get("node"), detail.get("field")) if p)
        err.write(f"  {where}: {detail.get('message')}\n")
    return 1


async def follow_job(
    client: GenFlowClient, job: Mapping[str, Any], terminal: TerminalView | None = None
) -> int:
    """Follow a job from its snapshot (the create response) until it ends; answer reviews
    at the prompt. Exit code 0 only when it completed."""
    terminal = terminal or TerminalView(JobView.from_job(job))
    if not terminal.view.finished:
        stream = client.follow(terminal.view.job_id, after=terminal.view.last_seq)
        async with contextlib.aclosing(stream) as events:
            await _show_until_the_end(client, terminal, events)
    return 0 if terminal.view.status == "completed" else 1


async def run_job(client: GenFlowClient, flow: str, input_: dict[str, Any], **terms: Any) -> int:
    """Start a job and follow it in one request (`GenFlowClient.start`) until it ends;
    answer reviews at the prompt. Exit code 0 only when it completed, 1 if refused."""
    async with contextlib.aclosing(client.start(flow, input_, **terms)) as events:
        try:
            created = await anext(events)
        except APIError as exc:
            return refused(exc)
        sys.stderr.write(f"job {created['job_id']} ({flow}) started\n")
        terminal = TerminalView(JobView(job_id=created["job_id"]).apply(created))
        await _show_until_the_end(client, terminal, events)
    return 0 if terminal.view.status == "completed" else 1


async def _show_until_the_end(
    client: GenFlowClient, terminal: TerminalView, events: AsyncIterator[Event]
) -> None:
    async for event in events:
        if await _handle(client, terminal, event):
            break


async def _handle(client: GenFlowClient, terminal: TerminalView, event: Event) -> bool:
    """Show one event (and answer the review it opens); True when the job ended."""
    if terminal.show(event) and event["type"] == "review.requested" and terminal.view.review:
        review = terminal.view.review
        decision, comment, edits = await ask_review(terminal, review)
        try:
            await client.decide(
                terminal.view.job_id,
                review["id"],
                decision,
                comment=comment,
                via="cli",
                edits=edits,
            )
        except APIError as exc:  # somebody else decided first: the stream shows what won
            terminal.line(f"  {exc.message}")
    return terminal.view.finished
