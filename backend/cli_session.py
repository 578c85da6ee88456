"""`genflow session [CATEGORY-OR-TOPIC]`: a whole GenFlow session at the terminal.

At each step it shows where the session stands (stage, the latest result) and asks the
person what to do next, from the actions the API says are available now. A model action
streams its text as it is written. `q` leaves the session as it is: it lives on the
server (and can be continued from any surface) until it expires.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from backend.cli_follow import bar
from backend.client import APIError, GenFlowClient

Ask = Callable[[str], Awaitable[str]]


async def ask_terminal(prompt: str) -> str:
    try:
        return (await asyncio.to_thread(input, prompt)).strip()
    except EOFError:
        return "q"


def _read(path: str) -> str:
    return Path(path).expanduser().read_text()


class SessionTerminal:
    def __init__(
        self, client: GenFlowClient, ask: Ask = ask_terminal, out: TextIO = sys.stdout
    ) -> None:
        self.client, self.ask, self.out = client, ask, out
        self.shown_draft = 0

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def run(self, subject: str | None) -> int:
        context = {"category": subject} if subject else {}
        made = await self.client.create_session(f"cli-{int(time.time())}", context=context)
        session_id = made["sessionId"]
        self.say(f"session {session_id}")
        while True:
            state = await self.client.session(session_id)
            self.show(state)
            if state["progress"]["status"] == "completed":
                self.say("\n" + state["document"]["final"]["markdown"])
                return 0
            action = await self.choose(state["availableActions"])
            if action is None:
                self.say(f"left session {session_id} as it is")
                return 0
            parameters = await self.parameters(action, state)
            if parameters is None:
                continue
            try:
                answer = await self.client.session_action(session_id, action, parameters)
            except APIError as exc:
                self.say(f"! {exc.message}")
                continue
            if "actionId" in answer:
                await self.follow(answer["actionId"])

    def show(self, state: dict[str, Any]) -> None:
        progress, document = state["progress"], state["document"]
        self.say(f"\n{bar(progress['progress'])} {progress['stage']} ({progress['status']})")
        if state.get("lastMessage"):
            self.say(f"  {state['lastMessage']}")
        if progress["stage"] == "topic" and document.get("topics"):
            for number, topic in enumerate(document["topics"], 1):
                self.say(f"  {number}. {topic['title']}: {topic['angle']}")
        if (
            progress["stage"] == "writing"
            and document.get("research")
            and not document.get("draft")
        ):
            for point in document["research"]["keyPoints"]:
                self.say(f"  - {point}")
        draft = document.get("draft") or {}
        if draft.get("version", 0) > self.shown_draft:
            self.shown_draft = draft["version"]
            self.say(f"\n--- draft version {draft['version']} ---\n{draft['markdown']}---")
        if progress["stage"] == "review" and document.get("review"):
            review = document["review"]
            scores = ", ".join(
                f"{k} {review['scores'][k]}/10" for k in ("clarity", "accuracy", "engagement")
            )
            self.say(f"  review: {scores}. {review['summary']}")
            for suggestion in review["suggestions"]:
                self.say(f"  - {suggestion}")

    async def choose(self, actions: list[dict[str, Any]]) -> str | None:
        if not actions:
            return None
        menu = "  ".join(f"[{n}] {a['text']}" for n, a in enumerate(actions, 1))
        while True:
            answer = await self.ask(f"{menu}  [q] quit\n> ")
            if answer.lower() in ("q", "quit"):
                return None
            by_id = {a["action"]: a["action"] for a in actions}
            if answer in by_id:
                return answer
            if answer.isdigit() and 1 <= int(answer) <= len(actions):
                return actions[int(answer) - 1]["action"]
            self.say("! answer with a number from the list, an action's name, or q")

    async def parameters(self, action: str, state: dict[str, Any]) -> dict[str, Any] | None:
        """What the action needs from the person; None to go back to the menu."""
        document = state["document"]
        if action == "discover_topics":
            count = await self.ask("How many topics? [5] ")
            return {"count": int(count)} if count.isdigit() else {}
        if action == "select_topic":
            topics = document.get("topics") or []
            answer = await self.ask("Topic number, or a title of your own: ")
            if answer.isdigit() and 1 <= int(answer) <= len(topics):
                return {"topicId": topics[int(answer) - 1]["id"]}
            return {"title": answer} if answer else None
        if action == "edit_draft":
            path = await self.ask("File with your edited markdown (empty: back): ")
            if not path:
                return None
            try:
                return {"markdown": await asyncio.to_thread(_read, path)}
            except OSError as exc:
                self.say(f"! cannot read {path}: {exc.strerror}")
                return None
        if action == "regenerate_section":
            index = await self.ask("Which section (1, 2, …)? ")
            if not index.isdigit() or int(index) < 1:
                return None
            instructions = await self.ask("What should change? ")
            return {
                "index": int(index) - 1,
                **({"instructions": instructions} if instructions else {}),
            }
        if action == "apply_style":
            tone = await self.ask("Tone [conversational]: ")
            return {"tone": tone} if tone else {}
        if action == "request_changes":
            feedback = await self.ask("What should change? ")
            return {"feedback": feedback} if feedback else None
        return {}

    async def follow(self, job_id: str) -> None:
        """The action's job: its progress lines and streamed text, until it ends."""
        in_text = False
        async for event in self.client.follow(job_id):
            if event["type"] == "llm.delta":
                self.out.write(event["data"]["text"])
                in_text = True
            elif event["type"] in ("node.progress", "job.failed"):
                if in_text:
                    self.say()
                    in_text = False
                message = event["data"].get("message") or event["data"].get("error", {}).get(
                    "message"
                )
                self.say(f"  {message}")
        if in_text:
            self.say()
