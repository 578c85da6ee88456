"""A job as a chat: the shared `JobView` rendered as chat messages.

`backend.job_view` folds the job's events (the same fold Slack and the CLI use), so a page
that follows a job live and a page reopened later from its link show the same
conversation. This module only renders it: the request first (as the person's own line
when the job is theirs; as "alice asked: …" when they read someone else's job, as a
reviewer or an admin), then the job's timeline —
each node a collapsible step (pending with a spinner, then done with its duration) with
its progress lines and streamed model text inside, images, reviews (with their deadline,
and the half-time reminder once it went out), decisions (an edit's changes under it, as a
diff: ui/edit_diff.py) and the end as plain messages —
with the lines this page said itself (help, refusals) where they were said. Images are
referenced by artifact id; the caller supplies local files for them.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.client import Decision, Event, JobView, Moment, Progress, Resumed, Retry, Step
from ui.commands import describe
from ui.deadlines import deadline_line, reminder_line
from ui.edit_diff import changes_message

DECISIONS = {  # how a decision reads in the chat: icon, past tense
    "approve": ("✔", "Approved"),
    "reject": ("✘", "Rejected"),
    "regenerate": ("↻", "Regeneration requested"),
    "revise": ("✎", "Revision requested"),
    "edit": ("✎", "Approved with edits"),
    "cancel": ("■", "Cancelled"),  # what a passed deadline applies by default
}

Message = dict[str, Any]


@dataclass
class Note:
    """A chat line that is not a job event: said by this page, or the person's request."""

    markdown: str
    role: str = "assistant"

    def message(self) -> Message:
        return {"role": self.role, "content": self.markdown}


@dataclass
class ChatView:
    """One job as this tab's chat: the shared view, plus what only this page knows."""

    job: JobView
    answered: str | None = None  # a review id this page has just decided
    editing: str | None = None  # a review id whose editor is open on this page
    notes: list[tuple[int, Note]] = field(default_factory=list)  # (timeline position, note)
    # Whether this page's person may cancel the job: the API's `may_cancel`, from the
    # latest snapshot (the owner and admins may; a reviewer of someone else's job may not).
    may_cancel: bool = False
    # Whether they may decide the open review: the API's `may_decide`, about the review
    # that snapshot had open (`judged`). A review opened since is not known until another
    # snapshot says (the follower asks at once), and shows no buttons until then.
    may_decide: bool = False
    judged: str | None = None
    owner: str | None = None  # the job's owner, who may decide every review of it
    others: set[str] = field(default_factory=set)  # review ids they were told are not theirs
    viewer: str | None = None  # this page's person (None: not known, shown as theirs)

    @classmethod
    def of_job(cls, job: Mapping[str, Any], viewer: str | None = None) -> ChatView:
        """A job snapshot the API answered this page's person (created, executed, read)."""
        view = cls(JobView.from_job(job), viewer=viewer)
        view.snapshot(job)
        return view

    def snapshot(self, job: Mapping[str, Any]) -> None:
        """What a later snapshot says that events do not: whether the person may cancel
        the job, and whether they may decide the review it has open."""
        self.may_cancel = job.get("may_cancel") is True
        self.owner = job.get("owner") or self.owner
        review = job.get("review") if job.get("status") == "waiting_for_review" else None
        self.judged = (review or {}).get("id")
        self.may_decide = self.judged is not None and job.get("may_decide") is True
        if self.judged is not None and self.may_decide:
            self.others.discard(self.judged)
        elif self.judged is not None:
            self.others.add(self.judged)

    @property
    def unjudged(self) -> bool:
        """A review is open here that no snapshot has said whether this person may decide."""
        review = self.open_review
        return review is not None and review.get("id") != self.judged

    @property
    def decides(self) -> bool:
        """The open review is this person's to decide (by the API's latest answer)."""
        review = self.open_review
        return review is not None and review.get("id") == self.judged and self.may_decide

    def who_decides(self, review: Mapping[str, Any]) -> str:
        """Who may decide `review`, in words: its assignees, then the job's owner."""
        return deciders(review, self.owner)

    @property
    def job_id(self) -> str:
        return self.job.job_id

    @property
    def flow(self) -> str | None:
        return self.job.flow

    @property
    def status(self) -> str:
        return self.job.status

    @property
    def progress(self) -> int:
        return self.job.progress

    @property
    def last_seq(self) -> int:
        return self.job.last_seq

    @property
    def review(self) -> dict[str, Any] | None:
        return self.job.review

    @property
    def finished(self) -> bool:
        return self.job.finished

    @property
    def open_review(self) -> dict[str, Any] | None:
        """The review to show buttons for: open, and not already answered from this page."""
        review = self.job.review
        if review is None or review.get("id") == self.answered:
            return None
        return review

    def apply(self, event: Event) -> None:
        """Fold one event into the job's view."""
        before = self.job.review
        self.job = self.job.apply(event)
        if before is not None and self.job.review is None:
            self.answered = self.editing = None

    def say(self, *notes: Note) -> None:
        """Lines for the chat that are not job events; they stay where they were said."""
        position = len(self.job.timeline)
        self.notes.extend((position, note) for note in notes)

    def pictures(self) -> list[str]:
        return [artifact.id for artifact in self.job.images]

    def request(self) -> Note | None:
        """The line that started the job (None: not known yet). The person's own job: their
        message, as they typed it. Someone else's (a reviewer's link, an admin's jobs
        panel): on the other side, saying who asked, so nobody reads it as their words."""
        if self.job.flow is None:
            return None
        text = describe(self.job.flow, dict(self.job.input))
        if self.owner is None or self.viewer is None or self.owner == self.viewer:
            return Note(text, role="user")
        return Note(f"**{person(self.owner)} asked:**\n\n{quote(text)}")

    def messages(self, files: Mapping[str, str] | None = None) -> list[Message]:
        """Chat messages; `files` maps image ids to local files ("" if unavailable)."""
        files = files or {}
        job = self.job
        out: list[Message] = []
        if (asked := self.request()) is not None:
            out.append(asked.message())
        said = deque(self.notes)
        for position, moment in enumerate(job.timeline):
            while said and said[0][0] <= position:
                out.append(said.popleft()[1].message())
            shown = moment_message(job, moment, files)
            if moment.kind == "review" and job.reviews[moment.index].get("id") in self.others:
                review = job.reviews[moment.index]  # seen, not theirs: say whose it is
                shown = Note(review_markdown(review, self.who_decides(review))).message()
            if shown is not None:
                out.append(shown)
            if moment.kind == "decision" and (edit := changes_message(job.decisions[moment.index])):
                out.append(edit)  # what an edit changed, right under who decided it
            if moment.kind == "review" and (reminder := reminder_line(job.reviews[moment.index])):
                out.append(Note(reminder).message())  # nothing happens in between: it waits
        out.extend(note.message() for _, note in said)
        return out


def moment_message(job: JobView, moment: Moment, files: Mapping[str, str]) -> Message | None:
    """One entry of the job's timeline as a chat message (None: not shown in the chat)."""
    if moment.kind == "step":
        return step_message(job.steps[moment.index])
    if moment.kind == "artifact":
        artifact = job.artifacts[moment.index]
        if artifact.kind != "image":
            return None
        caption = artifact.name or "image"
        path = files.get(artifact.id)
        content: Any = {"path": path, "alt_text": caption}
        if not path:
            state = "loading…" if path is None else "could not be loaded"
            content = f"Image {caption} ({state})"
        return {"role": "assistant", "content": content}
    if moment.kind == "review":
        return Note(review_markdown(job.reviews[moment.index])).message()
    if moment.kind == "decision":
        return Note(decision_markdown(job.decisions[moment.index])).message()
    return Note(end_markdown(job)).message()


def step_message(step: Step) -> Message:
    """A collapsible step: its lines and streamed text, pending until the step is done."""
    body = "\n".join(f"- {step_line(line)}" for line in step.lines)
    if step.text:
        body = f"{body}\n\n{step.text}" if body else step.text
    metadata: dict[str, Any] = {"title": step_title(step.node, step.visit or 1)}
    metadata["status"] = "done" if step.done else "pending"
    if step.finished:
        metadata["duration"] = (step.duration_ms or 0) / 1000
    if log := step_log(step):
        metadata["log"] = log
    return {"role": "assistant", "content": body, "metadata": metadata}


def step_line(line: Progress | Retry | Resumed) -> str:
    if isinstance(line, Progress):
        return line.message
    if isinstance(line, Retry):
        where = f" {line.item_name}" if line.item_name else ""
        return f"retrying{where}: {line.error}"
    return "resumed after a restart"


def step_log(step: Step) -> str | None:
    """The step's note beside its title: why it stopped, its summary, or what it awaits."""
    if step.stopped in ("failed", "cancelled"):
        return step.stopped
    if step.finished:
        return step.summary
    return "waiting for a decision" if step.waiting else None


def step_title(node: str, visit: int) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", node).replace("_", " ").strip()
    title = words[:1].upper() + words[1:].lower()
    return f"{title} (attempt {visit})" if visit > 1 else title


def quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())


def review_markdown(review: Mapping[str, Any], waits_for: str | None = None) -> str:
    """A review as the chat shows it; with `waits_for`, for someone who may see it but not
    decide it (the API said so): whose decision it waits for, instead of asking them."""
    payload = review.get("payload") or {}
    heading = "Your review, please" if waits_for is None else f"A review for {waits_for}"
    text = f"⚑ **{heading}:** {review.get('prompt') or 'review the result'}"
    if payload.get("output"):
        text += "\n\n" + quote(str(payload["output"]))
    elif payload.get("markdown"):
        text += "\n\n---\n\n" + str(payload["markdown"]).strip() + "\n\n---"
    elif payload.get("show") not in (None, ""):  # a workflow's review node: what to judge
        text += "\n\n" + quote(as_text(payload["show"]))
    if due := deadline_line(review):
        text += "\n\n" + due
    return text


def as_text(value: Any) -> str:
    """A value from a workflow (text, or any JSON) as text to read."""
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


def decision_markdown(decided: Decision) -> str:
    icon, label = DECISIONS.get(decided.decision, ("➜", f"Decision: {decided.decision}"))
    if decided.via == "timeout":  # nobody decided: the review's deadline did
        return f"◷ **The deadline passed:** {label[:1].lower()}{label[1:]}"
    text = f"{icon} **{label}** via {decided.via} by {person(decided.by)}"
    if decided.comment:
        text += f": “{decided.comment}”"
    return text


def deciders(review: Mapping[str, Any], owner: str | None) -> str:
    """Who may decide a review, as the request names them: "erin or alice (the job's
    owner)" (its assignees, then the owner, who may decide every review of the job; and
    admins, who are not named)."""
    assignees = [str(a) for a in review.get("assignees") or [] if a and a != owner]
    names = [person(a) for a in dict.fromkeys(assignees)]
    if owner:
        names.append(f"{person(owner)} (the job's owner)")
    if not names:
        return "the job's owner"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def person(principal: str | None) -> str:
    """A principal as a reader knows them: an account by its name, a Slack user not linked
    to an account (`slack:<team>:<user>`) by their Slack id."""
    if not principal:
        return "?"
    if principal.startswith("slack:"):
        return f"Slack user {principal.rsplit(':', 1)[-1]}"
    return principal


def end_markdown(job: JobView) -> str:
    if job.status == "failed":
        error = job.error or {}
        reason = error.get("message") or error.get("type") or "unknown error"
        return f"✘ **The job failed:** {reason}"
    if job.status == "cancelled":
        return f"■ **Cancelled** by {person(job.cancelled_by or 'someone')}"
    return result_markdown(job.result)


def result_markdown(result: Any) -> str:
    if isinstance(result, dict) and result.get("markdown"):
        return str(result["markdown"])
    if isinstance(result, dict) and "output" in result:
        output = result["output"]
        if not isinstance(output, str):  # a workflow's output may be an object
            output = f"```json\n{as_text(output)}\n```"
        return f"✔ **Result**\n\n{output}"
    if isinstance(result, dict) and result.get("artifact_id"):
        final, attempts = result["artifact_id"], result.get("attempts") or []
        attempts = attempts if final in attempts else [*attempts, final]
        number = attempts.index(final) + 1
        return f"✔ **Done:** image {number} of {len(attempts)} is the final one."
    if result is None:
        return "✔ **Done**"
    return f"✔ **Done**\n\n```json\n{json.dumps(result, indent=2, ensure_ascii=False)}\n```"
