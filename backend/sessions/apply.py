"""What each action does to a session: pure functions of the session (and a job).

Each returns `(changes, frames)`: the fields to set and the frames to append, which the
service writes in one compare-and-set. The document keeps every draft version in
`history`, so an edit or a rewrite never loses the one before it.
"""

from __future__ import annotations

from typing import Any

from backend.domain import Job, JobStatus, isoformat, utcnow
from backend.errors import Conflict, InvalidInput
from backend.sessions.actions import next_stage
from backend.sessions.model import NewFrame, Session

Planned = tuple[dict[str, Any], list[NewFrame]]

CAPABILITIES: dict[str, list[str]] = {
    "topic": ["suggestions"],
    "research": ["suggestions"],
    "writing": ["suggestions", "editing"],
    "styling": ["suggestions", "editing"],
    "review": ["suggestions", "editing", "feedback"],
}
# A rough time per model action with a small model; shown to people as a hint only.
ESTIMATED_SECONDS = {
    "discover_topics": 15,
    "research_topic": 20,
    "write_article": 60,
    "regenerate_section": 20,
    "apply_style": 45,
    "review_article": 20,
}
STAGE_PROGRESS = {"topic": 0, "research": 20, "writing": 40, "styling": 70, "review": 85}


def estimated_seconds(session: Session) -> int | None:
    if session.status != "processing" or not session.active_action:
        return None
    return ESTIMATED_SECONDS.get(session.active_action)


def _stage(session: Session, to: str, message: str, **data: Any) -> Planned:
    return (
        {"stage": to, "status": "idle", "progress": STAGE_PROGRESS[to], "last_message": message},
        [NewFrame("stage.change", {"from": session.stage, "to": to, **data})],
    )


def topic_title(session: Session) -> str:
    topic = session.document.get("topic") or {}
    return (
        topic.get("title") or session.context.get("topic") or session.context.get("category") or ""
    )


def _with_draft(document: dict[str, Any], markdown: str, source: str) -> dict[str, Any]:
    version = (document.get("draft") or {}).get("version", 0) + 1
    draft = {"markdown": markdown, "version": version, "source": source, "at": isoformat(utcnow())}
    return {**document, "draft": draft, "history": [*document.get("history", []), draft]}


def change(session: Session, action: str, params: dict[str, Any]) -> Planned:
    """The actions that need no model."""
    document = session.document
    if action == "select_topic":
        if "topicId" in params:
            found = [t for t in document.get("topics", []) if t["id"] == params["topicId"]]
            if not found:
                ids = [t["id"] for t in document.get("topics", [])]
                raise InvalidInput(
                    f"no topic {params['topicId']!r} in this session",
                    [
                        {
                            "field": "parameters.topicId",
                            "message": f"use one of: {', '.join(ids) or '(discover topics first)'}",
                        }
                    ],
                )
            topic = found[0]
        else:
            topic = {"title": params["title"]}
        changes, frames = _stage(
            session, "research", f"Topic chosen: {topic['title']}", topic=topic
        )
        return {**changes, "document": {**document, "topic": topic}}, frames
    if action == "edit_draft":
        new = _with_draft(document, params["markdown"], "edit")
        return (
            {"document": new, "last_message": f"Draft edited (version {new['draft']['version']})"},
            [NewFrame("draft.updated", {"draft": new["draft"], "source": "edit"})],
        )
    if action == "advance":
        to = next_stage(session.stage)
        return _stage(session, to, f"Moved on to {to}")
    if action == "approve":
        final = (document.get("draft") or {}).get("markdown", "")
        return (
            {
                "status": "completed",
                "progress": 100,
                "last_message": "Approved: the article is final",
                "document": {
                    **document,
                    "final": {"markdown": final, "approvedAt": isoformat(utcnow())},
                },
            },
            [
                NewFrame(
                    "stage.change",
                    {
                        "from": session.stage,
                        "to": session.stage,
                        "status": "completed",
                        "final": final,
                    },
                )
            ],
        )
    if action == "request_changes":
        to = params.get("stage", "writing")
        feedback = [
            *document.get("feedback", []),
            {"text": params["feedback"], "at": isoformat(utcnow())},
        ]
        changes, frames = _stage(
            session, to, f"Changes requested: {params['feedback']}", feedback=params["feedback"]
        )
        return {
            **changes,
            "document": {**document, "feedback": feedback, "pendingFeedback": params["feedback"]},
        }, frames
    raise Conflict(f"{action!r} runs a model; it is not a plain change")


def job_input(session: Session, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """The stage flow's input: the document so far, the session's context, the request."""
    document, context = session.document, session.context
    topic = topic_title(session)
    feedback = document.get("pendingFeedback")
    draft = (document.get("draft") or {}).get("markdown", "")
    extra = {k: v for k, v in (("audience", context.get("audience")), ("feedback", feedback)) if v}
    if action == "discover_topics":
        return {
            k: v
            for k, v in {
                "category": params.get("category") or context.get("category"),
                "topic": context.get("topic"),
                "audience": context.get("audience"),
                "count": params.get("count", 5),
                "keywords": params.get("keywords"),
            }.items()
            if v
        }
    if action == "research_topic":
        angle = (document.get("topic") or {}).get("angle")
        return {
            "topic": topic,
            **({"angle": angle} if angle else {}),
            **({"questions": params["questions"]} if params.get("questions") else {}),
            **extra,
        }
    if action == "write_article":
        outline = params.get("outline") or (document.get("research") or {}).get("suggestedOutline")
        word_count = params.get("wordCount") or context.get("wordCount")
        return {
            "topic": topic,
            **({"outline": outline} if outline else {}),
            **({"wordCount": word_count} if word_count else {}),
            **extra,
        }
    if action == "regenerate_section":
        return {
            "topic": topic,
            "markdown": draft,
            "index": params["index"],
            **({"instructions": params["instructions"]} if params.get("instructions") else {}),
        }
    if action == "apply_style":
        tone = params.get("tone") or context.get("tone")
        return {
            "topic": topic,
            "markdown": draft,
            **({"tone": tone} if tone else {}),
            **({"instructions": params["instructions"]} if params.get("instructions") else {}),
            **({"feedback": feedback} if feedback else {}),
        }
    if action == "review_article":
        return {"topic": topic, "markdown": draft}
    raise Conflict(f"{action!r} does not run a model")


def job_result(session: Session, job: Job | None) -> Planned:
    """A finished job folded into the document, with the frame that says what changed."""
    idle: dict[str, Any] = {
        "status": "idle",
        "active_job_id": None,
        "active_action": None,
        "current_step": None,
    }
    action = session.active_action or ""
    if job is None or job.status is not JobStatus.COMPLETED:
        failed = job is not None and job.status is JobStatus.FAILED
        message = (job.error or {}).get("message", "") if job and job.error else "the job is gone"
        if not failed and job is not None:
            message = "the action was cancelled"
        return (
            {**idle, "status": "error" if failed else "idle", "last_message": message},
            [
                NewFrame(
                    "error",
                    {
                        "code": "action_failed" if failed else "action_cancelled",
                        "message": message,
                        "action": action,
                        "actionId": job.id if job else None,
                    },
                )
            ],
        )
    result, document = job.result or {}, session.document
    done = NewFrame(
        "progress.update", {"status": "idle", "action": action, "actionId": job.id, "progress": 100}
    )
    if action == "discover_topics":
        topics = result["topics"]
        return (
            {
                **idle,
                "document": {**document, "topics": topics},
                "last_message": f"{len(topics)} topics found",
            },
            [NewFrame("topics.discovered", {"topics": topics}), done],
        )
    if action == "research_topic":
        research = result["research"]
        return (
            {
                **idle,
                "stage": "writing",
                "progress": STAGE_PROGRESS["writing"],
                "document": {**document, "research": research},
                "last_message": "Research notes ready",
            },
            [
                NewFrame("research.completed", {"research": research}),
                NewFrame("stage.change", {"from": "research", "to": "writing"}),
                done,
            ],
        )
    if action == "review_article":
        review = result["review"]
        return (
            {
                **idle,
                "document": {**document, "review": review},
                "last_message": "The model reviewed the article",
            },
            [NewFrame("review.completed", {"review": review}), done],
        )
    # write_article, regenerate_section, apply_style: a new draft version
    new = _with_draft(document, result["markdown"], action)
    if action == "write_article" and result.get("outline"):
        new["outline"] = result["outline"]
    new.pop("pendingFeedback", None)
    return (
        {
            **idle,
            "document": new,
            "last_message": f"Draft version {new['draft']['version']} ({action.replace('_', ' ')})",
        },
        [NewFrame("draft.updated", {"draft": new["draft"], "source": action}), done],
    )
