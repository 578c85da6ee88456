"""A job as every surface shows it: the one fold of a job's events into a view.

Events are the one source of every progress display (DESIGN §4), and the web chat, the
Slack message and `genflow run` render the same facts: status, progress, the steps with
their lines and streamed text, artifacts, the open review and its decision, the result or
the error. They fold events with this one reducer (DESIGN §10) so they cannot drift apart,
and so the terminal statuses are defined once, here. Pure and standard-library only:
`ui/` and `bots/` import it (with `backend.client`) without importing the server.

`fold(view, event)` never changes its input: views are frozen, and an event already
folded (its `seq` is not after `last_seq`) returns the very same view, so `new is old`
tells a surface that there is nothing to render. A view starts empty (`JobView(job_id)`,
then every event) or from a job snapshot (`JobView.from_job(GET /api/jobs/{id})`, then
the events after its `last_seq`) when a surface reconnects without the history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

Event = Mapping[str, Any]

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
TERMINAL_EVENTS = frozenset({"job.completed", "job.failed", "job.cancelled"})
# Options a decision needs more than a click for: `edit` sends the changed fields.
NEEDS_EDITOR = frozenset({"edit"})


def one_click_options(review: Mapping[str, Any] | None) -> list[str]:
    """A review's options a surface offers as plain buttons (an edit needs an editor,
    for the fields `editable_text` lists)."""
    return [str(o) for o in (review or {}).get("options", []) if o not in NEEDS_EDITOR]


def editable_text(review: Mapping[str, Any] | None) -> dict[str, str]:
    """What an editor offers to change before approving, field by field: the payload
    fields the review names `editable` (only a review that offers `edit` names any)
    whose values are text. The API keeps each field's JSON type (reviews/edits.py),
    so text is all a text box may edit; the payload's order is kept."""
    review = review or {}
    if not NEEDS_EDITOR & set(review.get("options") or ()):
        return {}
    payload = review.get("payload") or {}
    named = {str(name) for name in review.get("editable") or ()}
    return {k: v for k, v in payload.items() if k in named and isinstance(v, str)}


STATUS_AFTER: Mapping[str, str] = MappingProxyType(
    {
        "job.created": "pending",
        "job.started": "running",
        "review.requested": "waiting_for_review",
        "review.decided": "running",
        "job.completed": "completed",
        "job.failed": "failed",
        "job.cancelled": "cancelled",
    }
)
# What a failed job says when its event or snapshot carries no error.
FAILED: Mapping[str, str] = MappingProxyType({"type": "Error", "message": "the job failed"})


# -- a step's lines ----------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A `node.progress` report of the step's node."""

    message: str
    fraction: float | None = None


@dataclass(frozen=True)
class Retry:
    """A `node.retry`: the node's exec failed and runs again (`item` of a batch)."""

    attempt: int
    error: str
    item: int | None = None

    @property
    def item_name(self) -> str | None:
        """Which of a batch's items failed, as people count ("item 3"); None for a node."""
        return None if self.item is None else f"item {self.item + 1}"


@dataclass(frozen=True)
class Resumed:
    """The step's node started again in the same visit: the job resumed after a crash."""


StepLine = Progress | Retry | Resumed


@dataclass(frozen=True)
class Streamed:
    """Text streamed in one go by a node, or by one item of a batch node: when that item
    is tried again, its text goes and the other items' stays."""

    item: int | None
    text: str


@dataclass(frozen=True)
class Step:
    """One visit of one node: from `node.started` to `node.finished`, or the job's end."""

    node: str
    visit: int | None = None  # None: joined mid-node (its `node.started` was not seen)
    lines: tuple[StepLine, ...] = ()
    # model text streamed in this run of the node (live only: not replayed), in the order
    # it came, as runs of one batch item's text (None: the node's own, or not said)
    streamed: tuple[Streamed, ...] = ()
    finished: bool = False  # `node.finished` was seen
    duration_ms: int | None = None
    summary: str | None = None
    waiting: bool = False  # a review is open at this step
    stopped: str | None = None  # the job's final status, when the job ended mid-step

    @property
    def text(self) -> str:
        """The streamed text, as a watcher shows it."""
        return "".join(run.text for run in self.streamed)

    @property
    def done(self) -> bool:
        """Nothing more happens in this step (no spinner may outlive the job)."""
        return self.finished or self.stopped is not None

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(line.message for line in self.lines if isinstance(line, Progress))

    @property
    def message(self) -> str | None:
        """The latest progress message: what a one-line status shows."""
        messages = self.messages
        return messages[-1] if messages else None


# -- what else happens -------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    """An `artifact.created`: the artifact's id, what it is, and where to fetch it."""

    id: str
    kind: str  # image | markdown | text
    mime: str
    url: str
    name: str | None = None
    node: str | None = None


@dataclass(frozen=True)
class Decision:
    """A `review.decided`: what was decided, by whom, through which surface, and for an
    `edit`, what the reviewer changed: the unified diff per text field that the API
    computed (backend/reviews/edits.py), so a surface shows it without diffing again."""

    review_id: str | None
    decision: str
    comment: str | None = None
    by: str | None = None
    via: str = "api"
    diff: Mapping[str, str] = field(default_factory=dict)

    @property
    def lines_changed(self) -> tuple[int, int]:
        """Lines added and removed over every field's diff: a count for where the diff
        itself would not fit (a Slack message)."""
        counts = [changed_lines(text) for text in self.diff.values()]
        return sum(a for a, _ in counts), sum(r for _, r in counts)


def changed_lines(diff: str) -> tuple[int, int]:
    """Lines added and removed by one unified diff (its `---`/`+++` header, before the
    first hunk, is not counted: a removed line reading `-- x` looks the same)."""
    added = removed = 0
    in_hunk = False
    for line in diff.splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line.startswith("+"):
            added += 1
        elif in_hunk and line.startswith("-"):
            removed += 1
    return added, removed


MomentKind = Literal["step", "artifact", "review", "decision", "end"]


@dataclass(frozen=True)
class Moment:
    """One entry of the job's story, in event order; `index` points into the view's
    `steps`, `artifacts`, `reviews` or `decisions` (0 for `end`). A chat renders these."""

    kind: MomentKind
    index: int = 0


# -- the view ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobView:
    """Everything a surface shows about one job, as of the events folded so far."""

    job_id: str
    flow: str | None = None
    input: Mapping[str, Any] = field(default_factory=dict)
    status: str = "pending"
    progress: int = 0  # 0-100, as the server reported it with the latest event
    last_seq: int = 0  # the last durable event folded in
    attempt: int = 0  # the runner's claim (`job.started`); above 1 after a restart
    node: str | None = None  # the node running now (or last), None once the job ended
    steps: tuple[Step, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    reviews: tuple[dict[str, Any], ...] = ()  # every review requested, in order
    review: dict[str, Any] | None = None  # the open one
    decisions: tuple[Decision, ...] = ()
    result: Any = None
    error: dict[str, Any] | None = None  # {type, message} of a failed job
    cancelled_by: str | None = None
    timeline: tuple[Moment, ...] = ()

    @classmethod
    def from_job(cls, job: Mapping[str, Any]) -> JobView:
        """The view of a job snapshot (`GET /api/jobs/{id}`, or the create response): fold
        only the events after its `last_seq`. Steps before the snapshot are unknown."""
        status = str(job.get("status") or "pending")
        ended = status in TERMINAL_STATUSES
        review = job.get("review") if status == "waiting_for_review" else None
        timeline = (Moment("review"),) if review else ()
        error = job.get("error") or (FAILED if status == "failed" else None)
        return cls(
            job_id=str(job["id"]),
            flow=job.get("flow"),
            input=dict(job.get("input") or {}),
            status=status,
            progress=_percent(job.get("progress"), 0),
            last_seq=int(job.get("last_seq") or 0),
            node=None if ended else job.get("current_node"),
            reviews=(dict(review),) if review else (),
            review=dict(review) if review else None,
            result=job.get("result"),
            error=dict(error) if error else None,
            timeline=(*timeline, Moment("end")) if ended else timeline,
        )

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def current(self) -> Step | None:
        """The step of the node running now (or last)."""
        return self.step(self.node) if self.node else None

    @property
    def message(self) -> str | None:
        """The current step's latest progress message."""
        step = self.current
        return step.message if step else None

    @property
    def text(self) -> str:
        """The model text the current step streamed so far."""
        step = self.current
        return step.text if step else ""

    @property
    def last_decision(self) -> Decision | None:
        return self.decisions[-1] if self.decisions else None

    @property
    def images(self) -> tuple[Artifact, ...]:
        return tuple(a for a in self.artifacts if a.kind == "image")

    def step(self, node: str | None) -> Step | None:
        """The latest visit of `node`."""
        index = _step_index(self.steps, node)
        return None if index is None else self.steps[index]

    def artifact(self, artifact_id: str | None) -> Artifact | None:
        return next((a for a in self.artifacts if a.id == artifact_id), None)

    def apply(self, event: Event) -> JobView:
        """`fold(self, event)`."""
        return fold(self, event)


# -- the fold ----------------------------------------------------------------------------


def fold(view: JobView, event: Event) -> JobView:
    """The view after `event`; `view` itself when the event was already folded."""
    seq = event.get("seq")
    if seq is not None and seq <= view.last_seq:
        return view  # a replay overlapping what was seen (reconnects, refills)
    if view.finished:  # a job's end is final: nothing after it changes what it was
        return view if seq is None else replace(view, last_seq=seq)
    kind = str(event.get("type"))
    data: Mapping[str, Any] = event.get("data") or {}
    view = replace(
        view,
        status=STATUS_AFTER.get(kind, view.status),
        progress=_percent(event.get("progress"), view.progress),
        last_seq=view.last_seq if seq is None else seq,
    )
    handler = _HANDLERS.get(kind)
    return handler(view, data) if handler else view


def fold_all(view: JobView, events: Iterable[Event]) -> JobView:
    """Every event in order: a replayed history, or a burst from a live stream."""
    for event in events:
        view = fold(view, event)
    return view


def _job_created(view: JobView, data: Mapping[str, Any]) -> JobView:
    return replace(view, flow=data.get("flow", view.flow), input=dict(data.get("input") or {}))


def _job_started(view: JobView, data: Mapping[str, Any]) -> JobView:
    return replace(view, attempt=_int(data.get("attempt")) or view.attempt + 1)


def _node_started(view: JobView, data: Mapping[str, Any]) -> JobView:
    node, visit = str(data.get("node")), _int(data.get("attempt")) or 1
    index = _step_index(view.steps, node)
    if index is not None:
        step = view.steps[index]
        if not step.done and step.visit in (visit, None):  # the node runs again from its start
            again = replace(step, visit=visit, lines=(*step.lines, Resumed()), streamed=())
            return replace(view, node=node, steps=_put(view.steps, index, again))
    return replace(
        view,
        node=node,
        steps=(*view.steps, Step(node, visit)),
        timeline=(*view.timeline, Moment("step", len(view.steps))),
    )


def _node_progress(view: JobView, data: Mapping[str, Any]) -> JobView:
    line = Progress(str(data.get("message", "")), _fraction(data.get("fraction")))
    return _update_step(view, data, lambda s: replace(s, lines=(*s.lines, line)))


def _llm_delta(view: JobView, data: Mapping[str, Any]) -> JobView:
    text, item = str(data.get("text", "")), _int(data.get("item"))

    def add(step: Step) -> Step:
        runs = step.streamed
        if runs and runs[-1].item == item:
            return replace(step, streamed=(*runs[:-1], Streamed(item, runs[-1].text + text)))
        return replace(step, streamed=(*runs, Streamed(item, text)))

    return _update_step(view, data, add)


def _node_retry(view: JobView, data: Mapping[str, Any]) -> JobView:
    """The node runs again: the refused try's streamed text goes, or the retry would
    show it twice - all of it for the node, that item's for a batch item (its text said
    which item it is; the other items' text stays)."""
    item = _int(data.get("item"))
    line = Retry(_int(data.get("attempt")) or 0, str(data.get("error")), item)

    def again(step: Step) -> Step:
        kept = () if item is None else tuple(run for run in step.streamed if run.item != item)
        return replace(step, lines=(*step.lines, line), streamed=kept)

    return _update_step(view, data, again)


def _node_finished(view: JobView, data: Mapping[str, Any]) -> JobView:
    return _update_step(
        view,
        data,
        lambda s: replace(
            s,
            finished=True,
            waiting=False,
            duration_ms=_int(data.get("duration_ms")),
            summary=data.get("summary") or None,
        ),
    )


def _artifact_created(view: JobView, data: Mapping[str, Any]) -> JobView:
    artifact_id = str(data.get("artifact_id"))
    if view.artifact(artifact_id) is not None:
        return view
    artifact = Artifact(
        id=artifact_id,
        kind=str(data.get("kind") or "text"),
        mime=str(data.get("mime") or "application/octet-stream"),
        url=str(data.get("url") or f"/api/artifacts/{artifact_id}"),
        name=data.get("name") or None,
        node=data.get("node"),
    )
    return replace(
        view,
        artifacts=(*view.artifacts, artifact),
        timeline=(*view.timeline, Moment("artifact", len(view.artifacts))),
    )


def _review_requested(view: JobView, data: Mapping[str, Any]) -> JobView:
    review = dict(data)
    steps, index = view.steps, _step_index(view.steps, review.get("node"))
    if index is not None and not steps[index].done:
        steps = _put(steps, index, replace(steps[index], waiting=True))
    return replace(
        view,
        review=review,
        reviews=(*view.reviews, review),
        steps=steps,
        timeline=(*view.timeline, Moment("review", len(view.reviews))),
    )


def _review_decided(view: JobView, data: Mapping[str, Any]) -> JobView:
    decision = Decision(
        review_id=data.get("review_id"),
        decision=str(data.get("decision")),
        comment=data.get("comment") or None,
        by=data.get("by") or None,
        via=data.get("via") or "api",
        diff=_diffs(data.get("diff")),
    )
    return replace(
        view,
        review=None,
        decisions=(*view.decisions, decision),
        steps=tuple(replace(s, waiting=False) if s.waiting else s for s in view.steps),
        timeline=(*view.timeline, Moment("decision", len(view.decisions))),
    )


def _review_reminder(view: JobView, data: Mapping[str, Any]) -> JobView:
    """Half of the open review's time is gone: its `reminded_at` is set, as in a job
    snapshot, so a surface can mark the job and ping the review's assignees."""
    review = view.review
    if review is None or review.get("id") != data.get("review_id"):
        return view  # a reminder of a review that is no longer open
    reminded = {**review, "reminded_at": data.get("reminded_at") or True}
    reviews = tuple(reminded if r.get("id") == review.get("id") else r for r in view.reviews)
    return replace(view, review=reminded, reviews=reviews)


def _job_completed(view: JobView, data: Mapping[str, Any]) -> JobView:
    return _end(replace(view, result=data.get("result")))


def _job_failed(view: JobView, data: Mapping[str, Any]) -> JobView:
    return _end(replace(view, error=dict(data.get("error") or FAILED)))


def _job_cancelled(view: JobView, data: Mapping[str, Any]) -> JobView:
    return _end(replace(view, cancelled_by=data.get("by") or None))


def _end(view: JobView) -> JobView:
    """The job ended (its status is set): no open review, no running step."""
    steps = tuple(s if s.done else replace(s, stopped=view.status) for s in view.steps)
    return replace(
        view, review=None, node=None, steps=steps, timeline=(*view.timeline, Moment("end"))
    )


_HANDLERS: Mapping[str, Callable[[JobView, Mapping[str, Any]], JobView]] = MappingProxyType(
    {
        "job.created": _job_created,
        "job.started": _job_started,
        "node.started": _node_started,
        "node.progress": _node_progress,
        "llm.delta": _llm_delta,
        "node.retry": _node_retry,
        "node.finished": _node_finished,
        "artifact.created": _artifact_created,
        "review.requested": _review_requested,
        "review.decided": _review_decided,
        "review.reminder": _review_reminder,
        "job.completed": _job_completed,
        "job.failed": _job_failed,
        "job.cancelled": _job_cancelled,
    }
)


# -- helpers -----------------------------------------------------------------------------


def _update_step(view: JobView, data: Mapping[str, Any], change: Callable[[Step], Step]) -> JobView:
    """`change` the latest visit of the event's node (a new step if it was never seen
    start: a follower that joined mid-node still shows it)."""
    node = str(data.get("node"))
    index = _step_index(view.steps, node)
    if index is None:
        view = replace(
            view,
            steps=(*view.steps, Step(node)),
            timeline=(*view.timeline, Moment("step", len(view.steps))),
        )
        index = len(view.steps) - 1
    return replace(view, node=node, steps=_put(view.steps, index, change(view.steps[index])))


def _step_index(steps: tuple[Step, ...], node: str | None) -> int | None:
    for index in range(len(steps) - 1, -1, -1):
        if steps[index].node == node:
            return index
    return None


def _put(steps: tuple[Step, ...], index: int, step: Step) -> tuple[Step, ...]:
    return (*steps[:index], step, *steps[index + 1 :])


def _percent(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return max(0, min(100, int(value)))


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _diffs(value: Any) -> dict[str, str]:
    """An edit's `diff` (field -> unified diff); anything else is no diff."""
    if not isinstance(value, Mapping):
        return {}
    return {str(name): text for name, text in value.items() if isinstance(text, str) and text}


def _fraction(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
