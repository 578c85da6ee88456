"""`HumanReview`: a node where the flow stops for a person's decision.

Under the GenFlow runner the gate does not wait in memory: the runner stores the
request returned by `prep_async`, parks the job, and on a decision calls `post_async`
with it; the decision (e.g. "approve", "reject") is the action that picks the next node.
Under plain PocketFlow, `exec_async` asks the bound context (see flows.context).
"""

from __future__ import annotations

from typing import Any

from pocketflow import AsyncNode

from flows import context


class HumanReview(AsyncNode):
    options: tuple[str, ...] = ("approve", "reject")
    prompt = "Please review the result"

    def __init__(
        self,
        options: tuple[str, ...] | None = None,
        *,
        prompt: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()
        if options is not None:
            self.options = tuple(options)
        if prompt is not None:
            self.prompt = prompt
        if name is not None:
            self.name = name

    def payload(self, shared: dict[str, Any]) -> dict[str, Any]:
        """What the reviewer looks at (JSON). Override per flow."""
        return {}

    def apply_decision(self, shared: dict[str, Any], decision: dict[str, Any]) -> None:
        """Record the decision in the shared store. Override to feed comments forward."""
        shared.setdefault("reviews", []).append(
            {"decision": decision["decision"], "comment": decision.get("comment")}
        )

    async def prep_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "options": list(self.options),
            "payload": self.payload(shared),
        }

    async def exec_async(self, request: dict[str, Any]) -> dict[str, Any]:
        name = getattr(self, "name", type(self).__name__)
        return await context.current().decide(name, request)

    async def post_async(
        self, shared: dict[str, Any], request: dict[str, Any], decision: dict[str, Any]
    ) -> str:
        self.apply_decision(shared, decision)
        return decision["decision"]
