"""A job as a chat: the pure fold from GenFlow events to chat messages.

Events are the one source of every progress display (DESIGN §4), so a page that follows a
job live and a page reopened later from its link show the same conversation: `JobView`
applies events in `seq` order (duplicates are ignored) and `messages()` renders it. Each
node is a collapsible step (pending with a spinner, then done with its duration); progress
lines and streamed model text go inside it; reviews, decisions and results are plain
messages. Images are referenced by artifact id; the caller supplies local files for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ui.commands import describe

TERMINAL = frozenset({"completed", "failed", "cancelled"})
STATUS_AFTER = {
    "job.created": "pending",
    "job.started": "running",
    "review.requested": "waiting_for_review",
    "review.decided": "running",
    "job.completed": "completed",
    "job.failed": "failed",
    "job.cancelled": "cancelled",
}
DECISIONS = {  # how a decision reads in the chat: icon, past tense
    "approve": ("✔", "Approved"),
    "reject": ("✘", "Rejected"),
    "regenerate": ("↻", "Regeneration requested"),
    "revise": ("✎", "Revision requested"),
}

Message = dict[str, Any]


@dataclass
class Step:
    """One visit of one node: a collapsible step in the chat."""

    node: str
    visit: int
    lines: list[str] = field(default_factory=list)
    text: str = ""
    done: bool = False
    duration: float | None = None
    log: str | None = None

    def message(self) -> Message:
        body = "\n".join(f"- {line}" for line in self.lines)
        if self.text:
            body = f"{body}\n\n{self.text}" if body else self.text
        metadata: dict[str, Any] = {"title": step_title(self.node, self.visit)}
        metadata["status"] = "done" if self.done else "pending"
        if self.duration is not None:
            metadata["duration"] = self.duration
        if self.log:
            metadata["log"] = self.log
        return {"role": "assistant", "content": body, "metadata": metadata}


@dataclass
class Note:
    markdown: str
    role: str = "assistant"


@dataclass
class Picture:
    artifact_id: str
    caption: str


Item = Step | Note | Picture


@dataclass
class JobView:
    """Everything the chat shows about one job, folded from its events."""

    job_id: str
    flow: str | None = None
    input: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"
    progress: int = 0
    last_seq: int = 0
    items: list[Item] = field(default_factory=list)
    review: dict[str, Any] | None = None  # the open review request, per the events
    answered: str | None = None  # a review id this page has just decided
    error: str | None = None
    result: Any = None
    _steps: dict[str, Step] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def open_review(self) -> dict[str, Any] | None:
        """The review to show buttons for: open, and not already answered from this page."""
        review = self.review
        if review is None or self.finished or review.get("id") == self.answered:
            return None
        return review

    def pictures(self) -> list[str]:
        return [item.artifact_id for item in self.items if isinstance(item, Picture)]

    # -- folding events ----------------------------------------------------------------

    def apply(self, event: dict[str, Any]) -> None:
        seq = event.get("seq")
        if seq is not None:
            if seq <= self.last_seq:
                return  # already seen (a replay overlapping a live stream)
            self.last_seq = seq
        if event.get("progress") is not None:
            self.progress = int(event["progress"])
        kind, data = event["type"], event.get("data") or {}
        self.status = STATUS_AFTER.get(kind, self.status)
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is not None:
            handler(data)

    def _on_job_created(self, data: dict[str, Any]) -> None:
        first = self.flow is None  # else the page that started the job showed it already
        self.flow, self.input = data.get("flow"), data.get("input") or {}
        if first:
            self.items.insert(0, Note(describe(self.flow or "job", self.input), role="user"))

    def _on_node_started(self, data: dict[str, Any]) -> None:
        node, visit = data["node"], int(data.get("attempt") or 1)
        step = self._steps.get(node)
        if step is not None and not step.done and step.visit == visit:
            step.lines.append("resumed after a restart")
            return
        step = Step(node, visit)
        self._steps[node] = step
        self.items.append(step)

    def _step(self, node: str) -> Step:
        step = self._steps.get(node)
        if step is None:  # joined in the middle of a node; give it a step anyway
            step = self._steps[node] = Step(node, 1)
            self.items.append(step)
        return step

    def _on_node_progress(self, data: dict[str, Any]) -> None:
        self._step(data["node"]).lines.append(str(data.get("message", "")))

    def _on_llm_delta(self, data: dict[str, Any]) -> None:
        self._step(data["node"]).text += str(data.get("text", ""))

    def _on_node_retry(self, data: dict[str, Any]) -> None:
        self._step(data["node"]).lines.append(f"retrying: {data.get('error')}")

    def _on_node_finished(self, data: dict[str, Any]) -> None:
        step = self._step(data["node"])
        step.done = True
        step.duration = (data.get("duration_ms") or 0) / 1000
        step.log = data.get("summary") or None

    def _on_artifact_created(self, data: dict[str, Any]) -> None:
        if data.get("kind") == "image":
            self.items.append(Picture(data["artifact_id"], data.get("name") or "image"))

    def _on_review_requested(self, data: dict[str, Any]) -> None:
        self.review = data
        step = self._steps.get(data.get("node", ""))
        if step is not None and not step.done:
            step.log = "waiting for a decision"
        self.items.append(Note(review_markdown(data)))

    def _on_review_decided(self, data: dict[str, Any]) -> None:
        self.review = None
        self.answered = None
        self.items.append(Note(decision_markdown(data)))

    def _on_job_completed(self, data: dict[str, Any]) -> None:
        self.result = data.get("result")
        self._close_steps(None)
        self.items.append(Note(result_markdown(self.result)))

    def _on_job_failed(self, data: dict[str, Any]) -> None:
        error = data.get("error") or {}
        self.error = error.get("message") or error.get("type") or "unknown error"
        self._close_steps("failed")
        self.items.append(Note(f"✘ **The job failed:** {self.error}"))

    def _on_job_cancelled(self, data: dict[str, Any]) -> None:
        self._close_steps("cancelled")
        self.items.append(Note(f"■ **Cancelled** by {data.get('by') or 'someone'}"))

    def _close_steps(self, log: str | None) -> None:
        """A finished job has no running steps: no spinner may outlive the job."""
        self.review = None
        for step in self._steps.values():
            if not step.done:
                step.done = True
                step.log = log or step.log

    # -- rendering ---------------------------------------------------------------------

    def messages(self, files: Mapping[str, str] | None = None) -> list[Message]:
        """Chat messages; `files` maps image ids to local files ("" if unavailable)."""
        files = files or {}
        out: list[Message] = []
        for item in self.items:
            if isinstance(item, Step):
                out.append(item.message())
            elif isinstance(item, Picture):
                path = files.get(item.artifact_id)
                content: Any = {"path": path, "alt_text": item.caption}
                if not path:
                    state = "loading…" if path is None else "could not be loaded"
                    content = f"Image {item.caption} ({state})"
                out.append({"role": "assistant", "content": content})
            else:
                out.append({"role": item.role, "content": item.markdown})
        return out


def step_title(node: str, visit: int) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", node).replace("_", " ").strip()
    title = words[:1].upper() + words[1:].lower()
    return f"{title} (attempt {visit})" if visit > 1 else title


def quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())


def review_markdown(review: dict[str, Any]) -> str:
    payload = review.get("payload") or {}
    text = f"⚑ **Your review, please:** {review.get('prompt') or 'review the result'}"
    if payload.get("output"):
        text += "\n\n" + quote(str(payload["output"]))
    elif payload.get("markdown"):
        text += "\n\n---\n\n" + str(payload["markdown"]).strip() + "\n\n---"
    return text


def decision_markdown(decided: dict[str, Any]) -> str:
    decision = str(decided.get("decision"))
    icon, label = DECISIONS.get(decision, ("➜", f"Decision: {decision}"))
    text = f"{icon} **{label}** via {decided.get('via') or 'api'} by {decided.get('by') or '?'}"
    if decided.get("comment"):
        text += f": “{decided['comment']}”"
    return text


def result_markdown(result: Any) -> str:
    if isinstance(result, dict) and result.get("markdown"):
        return str(result["markdown"])
    if isinstance(result, dict) and "output" in result:
        return f"✔ **Result**\n\n{result['output']}"
    if isinstance(result, dict) and result.get("artifact_id"):
        final, attempts = result["artifact_id"], result.get("attempts") or []
        attempts = attempts if final in attempts else [*attempts, final]
        number = attempts.index(final) + 1
        return f"✔ **Done:** image {number} of {len(attempts)} is the final one."
    if result is None:
        return "✔ **Done**"
    return f"✔ **Done**\n\n```json\n{json.dumps(result, indent=2, ensure_ascii=False)}\n```"
