"""Block Kit for a job: the one message per job, its review buttons, and the comment modal.

Pure functions of a `MessageView`; the follower decides when to send them. A review's
buttons are its one-click options plus *Edit* when it offers `edit` and Slack can hold
its text (bots/edits.py; the form is bots/edit_form.py).
"""

from __future__ import annotations

import json
from typing import Any

from backend.client import Decision, one_click_options
from bots import texts
from bots.edits import EDIT, editable, too_long
from bots.markdown import chunks, escape, to_mrkdwn, truncate
from bots.values import readable
from bots.view import MessageView, step_label

ACTION_PREFIX = "genflow_review_"  # action_id = prefix + decision
MODAL_CALLBACK = "genflow_decision"
COMMENT_BLOCK, COMMENT_INPUT = "comment", "comment_input"
NEEDS_COMMENT = ("reject", "revise")  # these open a modal for a comment first
FLOW_LABEL = {
    "article": "📝 Article",
    "image": "🖼️ Image",
    "review": "✅ Task",
    "workflow": "🧩 Workflow",
}
STATUS = {
    "pending": "⏳ Queued",
    "running": "⚙️ Running",
    "waiting_for_review": "👀 Waiting for review",
    "completed": "🎉 Done",
    "failed": "❌ Failed",
    "cancelled": "🚫 Cancelled",
}
Blocks = list[dict[str, Any]]


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(truncate(text, 3000))}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(truncate(text, 3000))]}


def bar(percent: int, width: int = 10) -> str:
    filled = max(0, min(width, round(percent * width / 100)))
    return "▰" * filled + "▱" * (width - filled) + f" {percent}%"


def job_message(view: MessageView, job_url: str, *, images: bool = True) -> tuple[str, Blocks]:
    """Fallback text and blocks of the job's message as it stands now."""
    label = FLOW_LABEL.get(view.flow, f"⚙️ {view.flow}")
    blocks: Blocks = [
        section(f"*{label}:* {escape(truncate(view.title, 300))}"),
        context(f"Started by <@{view.starter}> · `{view.job_id}` · <{job_url}|Open in web>"),
        context(_status_line(view)),
    ]
    if view.last_decision is not None:
        d = view.last_decision
        line = _decided(d)
        blocks.append(
            section(line + (f"\n> {escape(truncate(d.comment, 500))}" if d.comment else ""))
        )
    if view.review is not None:
        blocks += _review(view, images=images)
    elif view.status == "completed":
        blocks += _result(view, images=images)
    elif view.status == "cancelled":
        blocks.append(section(f"*Cancelled* by {texts.who(view.job.cancelled_by)}"))
    elif view.error is not None:
        error = view.error
        blocks.append(
            section(f"*{escape(error.get('type', 'Error'))}:* {escape(error.get('message', ''))}")
        )
    text = f"{label.split(' ', 1)[1]} “{escape(truncate(view.title, 80))}”: {STATUS[view.status]}"
    if view.last_decision is not None and view.review is None:
        text += f" · {_decided(view.last_decision)}"
    return text, blocks


def _decided(d: Decision) -> str:
    """The decision line, with an edit's count of changed lines when it changed text."""
    return texts.decided(d.decision, d.by, d.via, d.lines_changed if d.diff else None)


def _status_line(view: MessageView) -> str:
    parts = [f"*{STATUS.get(view.status, view.status)}*"]
    if not view.finished and view.status != "waiting_for_review" and view.node:
        step = step_label(view.node)
        parts.append(f"{step} — {escape(view.message)}" if view.message else step)
    if not view.finished or view.status == "completed":
        parts.append(bar(view.progress))
    return " · ".join(parts)


def _image_block(view: MessageView, artifact_id: str | None, title: str) -> Blocks:
    upload = view.uploads.get(artifact_id or "")
    if view.artifact(artifact_id) is None or upload is None or upload.file_id is None:
        return []
    return [
        {
            "type": "image",
            "slack_file": {"id": upload.file_id},
            "alt_text": truncate(view.title, 1900),
            "title": plain(title),
        }
    ]


def _review(view: MessageView, *, images: bool) -> Blocks:
    review = view.review or {}
    payload = review.get("payload") or {}
    blocks: Blocks = [section(f"*Review:* {escape(review.get('prompt', ''))}")]
    if _is_image(view, payload.get("artifact_id")):
        title = f"Attempt {payload.get('attempt', len(view.images))}"
        shown = _image_block(view, payload.get("artifact_id"), title) if images else []
        blocks += shown or [_not_shown(view, payload.get("artifact_id"), title)]
    if isinstance(payload.get("output"), str):
        blocks.append(
            section(f"*Attempt {payload.get('attempt', 1)}:*\n{_quote(escape(payload['output']))}")
        )
    if isinstance(payload.get("markdown"), str):
        blocks.append(section(_quote(to_mrkdwn(payload["markdown"]), 600)))
        blocks.append(context("The whole article is in the thread below."))
    if view.flow == "workflow" and payload.get("show") is not None:  # a workflow's review node
        blocks.append(section(f"*To review:*\n{readable(payload['show'], 2000)}"))
    notes = [texts.due(review)]
    fields = editable(review)
    if fields.too_long and not fields.fits:
        notes.append(f"✏️ {too_long(fields.too_long)}")
    blocks += [context(note) for note in notes if note]
    blocks.append(review_actions(view.job_id, review))
    return blocks


def review_actions(job_id: str, review: dict[str, Any]) -> dict[str, Any]:
    """The review's buttons: its one-click options, then Edit when Slack can edit it."""
    options = one_click_options(review)
    if editable(review).fits:
        options.append(EDIT)
    buttons = []
    for option in options:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": ACTION_PREFIX + option,
            "text": plain(texts.BUTTON.get(option, option.title())),
            "value": json.dumps({"job": job_id, "review": review["id"], "decision": option}),
        }
        if option == "approve":
            button["style"] = "primary"
        elif option == "reject":
            button["style"] = "danger"
        buttons.append(button)
    return {"type": "actions", "block_id": f"review_{review['id']}", "elements": buttons}


def _result(view: MessageView, *, images: bool) -> Blocks:
    result = view.result or {}
    if view.flow == "workflow":  # the output node's value, whatever its shape
        return [section(f"*Result:*\n{readable(result.get('output'))}")]
    if _is_image(view, result.get("artifact_id")):
        attempts = len(result.get("attempts") or view.images)
        title = (
            f"Final image (attempt {_attempt_of(view, result.get('artifact_id'))} of {attempts})"
        )
        shown = _image_block(view, result.get("artifact_id"), title) if images else []
        return shown or [_not_shown(view, result.get("artifact_id"), title)]
    if isinstance(result.get("output"), str):
        attempts = result.get("attempts", 1)
        return [section(f"*Result* (attempt {attempts}):\n{_quote(escape(result['output']))}")]
    if isinstance(result.get("markdown"), str):
        title = escape(result.get("title") or "Your article")
        return [
            section(f"*{title}*\n{_quote(to_mrkdwn(result['markdown']), 600)}"),
            context("The whole article is in the thread below."),
        ]
    if result:
        return [section(f"```{escape(truncate(json.dumps(result, indent=1), 2800))}```")]
    return []


def _not_shown(view: MessageView, artifact_id: str | None, title: str) -> dict[str, Any]:
    upload = view.uploads.get(artifact_id or "")
    if view.artifact(artifact_id) is not None and upload is not None and upload.posted:
        return context(f"{title} is in the thread below.")
    return context(f"{title} could not be shown in Slack; open the job in the web UI.")


def _is_image(view: MessageView, artifact_id: str | None) -> bool:
    artifact = view.artifact(artifact_id)
    return artifact is not None and artifact.kind == "image"


def _attempt_of(view: MessageView, artifact_id: str | None) -> int:
    ids = [a.id for a in view.images]
    return ids.index(artifact_id) + 1 if artifact_id in ids else len(ids)


def _quote(text: str, limit: int = 2500) -> str:
    """Already-escaped mrkdwn as a block quote (model output must never ping anyone)."""
    return "\n".join("> " + line for line in truncate(text, limit).splitlines() or [""])


def decision_modal(
    *, job_id: str, review_id: str, decision: str, channel: str, ts: str | None, prompt: str
) -> dict[str, Any]:
    """The modal a Reject / Revise click opens: a comment that goes to the model."""
    verb = texts.BUTTON.get(decision, decision.title())
    meta = {"job": job_id, "review": review_id, "decision": decision, "channel": channel, "ts": ts}
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": json.dumps(meta),
        "title": plain(truncate(f"{verb} · GenFlow", 24)),
        "submit": plain(verb),
        "close": plain("Cancel"),
        "blocks": [
            section(escape(prompt) or "Say what to change."),
            {
                "type": "input",
                "block_id": COMMENT_BLOCK,
                "optional": True,
                "label": plain("What should change?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": COMMENT_INPUT,
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    }


def article_blocks(markdown: str, limit_chars: int = 6000) -> Blocks | None:
    """An article as section blocks, or None when it is long enough to go as a file."""
    text = to_mrkdwn(markdown)
    if len(text) > limit_chars:
        return None
    return [section(piece) for piece in chunks(text)]
