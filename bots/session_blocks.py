"""Block Kit for a GenFlow session's one message: a stage stepper, the status, the latest
result (topics, research notes, a draft excerpt, the review, the final article) and a
control for exactly the actions the API offers now.

Pure functions of a `SessionView`; the follower decides when to send them. Model text is
escaped (and quoted) so it can never ping anyone.
"""

from __future__ import annotations

import json
from typing import Any

from bots.blocks import Blocks, bar, context, plain, section
from bots.markdown import escape, to_mrkdwn, truncate
from bots.session_view import ENDED, STAGES, SessionView
from bots.texts import who

ACTION_PREFIX = "genflow_session_"  # action_id = prefix + the session action
SELECT_TOPIC = ACTION_PREFIX + "select_topic"
STATUS = {
    "idle": "💬 Your turn",
    "processing": "⚙️ Working",
    "error": "⚠️ The last action failed",
    "completed": "🎉 Approved",
}
# What a Slack click did, as the message tells it: "📌 Topic chosen by @ana".
DONE = {
    "discover_topics": ("🔎", "Topics requested"),
    "select_topic": ("📌", "Topic chosen"),
    "research_topic": ("📚", "Research requested"),
    "write_article": ("✍️", "Draft requested"),
    "edit_draft": ("📝", "Draft edited"),
    "regenerate_section": ("🔁", "Section rewrite requested"),
    "apply_style": ("🎨", "Style requested"),
    "review_article": ("🧐", "Review requested"),
    "approve": ("✅", "Approved"),
    "request_changes": ("✏️", "Changes requested"),
    "advance": ("⏭️", "Moved to the next stage"),
}
SCORES = ("clarity", "accuracy", "engagement")
EXCERPT = 600  # characters of a draft shown in the message


def session_message(view: SessionView) -> tuple[str, Blocks]:
    """Fallback text and blocks of the session's message as it stands now."""
    blocks: Blocks = [
        section(f"*🧭 GenFlow session:* {escape(truncate(view.subject, 300))}"),
        context(f"Started by <@{view.starter}> · `{view.session_id}`"),
        context(stepper(view)),
        context(_status_line(view)),
    ]
    blocks += _topic(view)
    click = view.last_click()
    if click is not None and click.action != "select_topic":  # the topic line says that one
        blocks.append(context(clicked(click.action, click.user_id, click.detail)))
    blocks += _result(view)
    controls = action_controls(view)
    if controls is not None:
        blocks.append(controls)
    text = f"Session “{escape(truncate(view.subject, 80))}”: {_status_word(view)}"
    approved = view.last_click("approve")
    if view.status == "completed" and approved is not None:
        text += " · " + clicked("approve", approved.user_id)
    return text, blocks


def clicked(action: str, user: str, detail: str | None = None) -> str:
    emoji, verb = DONE.get(action, ("☑️", action.replace("_", " ").capitalize()))
    line = f"{emoji} {verb} by {who('slack:' + user)}"
    return line + (f": “{escape(truncate(detail, 300))}”" if detail else "")


def stepper(view: SessionView) -> str:
    """`✅ Topic → ✅ Research → 👉 *Writing* → ▫️ Styling → ▫️ Review`."""
    current = STAGES.index(view.stage) if view.stage in STAGES else 0
    done = view.status == "completed"
    steps = []
    for index, stage in enumerate(STAGES):
        name = stage.capitalize()
        if done or index < current:
            steps.append(f"✅ {name}")
        elif index == current:
            steps.append(f"👉 *{name}*")
        else:
            steps.append(f"▫️ {name}")
    return " → ".join(steps)


def _status_word(view: SessionView) -> str:
    if view.ended is not None:
        return "ended"
    return STATUS.get(view.status, view.status).split(" ", 1)[1].lower()


def _status_line(view: SessionView) -> str:
    if view.ended is not None:
        return f"*🛑 {ENDED[view.ended]}*"
    parts = [f"*{STATUS.get(view.status, view.status)}*"]
    if view.status == "processing":
        message, percent, chars = view.running
        step = view.progress.get("currentStep") or "…"
        parts[0] = f"*{STATUS['processing']}: {escape(step)}*"
        if message:
            parts.append(escape(truncate(message, 200)))
        if chars:
            parts.append(f"{chars:,} characters written")
        parts.append(bar(int(percent or 0)))
        estimated = view.progress.get("estimatedTime")
        if estimated:
            parts.append(f"usually about {estimated} s")
    elif view.last_message:
        parts.append(escape(truncate(view.last_message, 300)))
    return " · ".join(parts)


def _topic(view: SessionView) -> Blocks:
    topic = view.document.get("topic") or {}
    if not topic.get("title"):
        return []
    line = f"*Topic:* {escape(truncate(topic['title'], 200))}"
    if topic.get("angle"):
        line += f" — _{escape(truncate(topic['angle'], 300))}_"
    chosen = view.last_click("select_topic")
    if chosen is not None:
        line += f"\n{clicked('select_topic', chosen.user_id)}"
    return [section(line)]


def _result(view: SessionView) -> Blocks:
    """The latest result of the session, the one the next decision is about."""
    document = view.document
    draft = document.get("draft") or {}
    if view.ended is not None and not document.get("final"):
        return []
    if document.get("final"):
        return _final(document["final"].get("markdown") or "")
    blocks: Blocks = []
    if view.stage == "topic" and document.get("topics"):
        blocks.append(section(_topics(document["topics"])))
    elif (
        view.stage == "review"
        and document.get("review")
        and _reviewed(view) == draft.get("version")
    ):
        blocks += _review(document["review"], draft)
    elif draft.get("markdown"):
        blocks.append(section(_draft(draft)))
        if view.stage == "review" and document.get("review"):
            older = f"v{_reviewed(view)}" if _reviewed(view) else "an older draft"
            blocks.append(context(f"The last review read {older}; this draft is newer."))
    elif view.stage == "writing" and document.get("research"):
        blocks += _research(document["research"])
    if document.get("pendingFeedback"):
        feedback = escape(truncate(document["pendingFeedback"], 1000))
        blocks.append(section(f"*Changes to make:*\n> {feedback}"))
    return blocks


def _reviewed(view: SessionView) -> int | None:
    """The draft version the latest review read (the current one, when the bot cannot
    tell: it has not seen the frames since the review)."""
    draft_version = (view.document.get("draft") or {}).get("version")
    return view.reviewed if view.reviewed is not None else draft_version


def _topics(topics: list[dict[str, Any]]) -> str:
    lines = []
    for number, topic in enumerate(topics[:10], 1):
        title = escape(truncate(topic.get("title") or "", 100))
        angle = escape(truncate(topic.get("angle") or "", 200))
        lines.append(f"{number}. *{title}*" + (f" — {angle}" if angle else ""))
    return "*Topics to choose from*\n" + "\n".join(lines)


def _research(research: dict[str, Any]) -> Blocks:
    points = [f"• {escape(truncate(p, 300))}" for p in (research.get("keyPoints") or [])[:8]]
    blocks: Blocks = [section("*Research notes*\n" + ("\n".join(points) or "_no key points_"))]
    questions = len(research.get("questions") or [])
    outline = len(research.get("suggestedOutline") or [])
    extra = [f"{questions} reader question(s) answered"] if questions else []
    extra += [f"an outline of {outline} sections"] if outline else []
    if extra:
        blocks.append(context(" · ".join(extra)))
    return blocks


def _draft(draft: dict[str, Any], limit: int = EXCERPT) -> str:
    source = (draft.get("source") or "").replace("_", " ")
    head = f"*Draft v{draft.get('version', 1)}*" + (f" ({escape(source)})" if source else "")
    return f"{head}\n{quote(to_mrkdwn(draft.get('markdown') or ''), limit)}"


def _review(review: dict[str, Any], draft: dict[str, Any]) -> Blocks:
    scores = review.get("scores") or {}
    line = " · ".join(f"{k.capitalize()} *{scores[k]}/10*" for k in SCORES if k in scores)
    text = f"*Review of draft v{draft.get('version', 1)}:* {line}"
    if review.get("summary"):
        text += f"\n_{escape(truncate(review['summary'], 500))}_"
    suggestions = [f"• {escape(truncate(s, 300))}" for s in (review.get("suggestions") or [])[:6]]
    blocks: Blocks = [section(text)]
    if suggestions:
        blocks.append(section("*Suggestions*\n" + "\n".join(suggestions)))
    return blocks


def _final(markdown: str) -> Blocks:
    title = markdown.strip().splitlines()[0].lstrip("# ").strip() if markdown.strip() else ""
    body = to_mrkdwn(markdown)
    return [
        section(f"*Final article: {escape(truncate(title, 200)) or 'untitled'}*\n{quote(body)}"),
        context("The whole article is in the thread below."),
    ]


def quote(text: str, limit: int = EXCERPT) -> str:
    """Already-escaped mrkdwn as a block quote, cut to `limit` characters."""
    return "\n".join("> " + line for line in truncate(text, limit).splitlines() or [""])


def action_controls(view: SessionView) -> dict[str, Any] | None:
    """One actions block: the topic menu (when there are topics) and a button per action."""
    elements: list[dict[str, Any]] = []
    topics = view.document.get("topics") or []
    for action in view.actions:
        name = action.get("action") or action.get("id", "")
        if name == "select_topic" and topics:
            elements.insert(0, topic_menu(view.session_id, topics))
            continue
        button: dict[str, Any] = {
            "type": "button",
            "action_id": ACTION_PREFIX + name,
            "text": plain(truncate(action.get("text") or name, 75)),
            "value": json.dumps({"session": view.session_id, "action": name}),
        }
        if name == "approve":
            button["style"] = "primary"
        elements.append(button)
    if not elements:
        return None
    return {"type": "actions", "block_id": "session_actions", "elements": elements[:25]}


def topic_menu(session_id: str, topics: list[dict[str, Any]]) -> dict[str, Any]:
    options = [
        {
            "text": plain(truncate(topic.get("title") or topic["id"], 75)),
            "value": json.dumps({"session": session_id, "topicId": topic["id"]}),
        }
        for topic in topics[:100]
    ]
    return {
        "type": "static_select",
        "action_id": SELECT_TOPIC,
        "placeholder": plain("Choose a topic"),
        "options": options,
    }
