"""`HumanReview`: a node where the flow stops for a person's decision.

Under the GenFlow runner the gate does not wait in memory: the runner stores the
request returned by `prep_async`, parks the job, and on a decision calls `post_async`
with it; the decision (e.g. "approve", "reject") is the action that picks the next node.
Under plain PocketFlow, `exec_async` asks the bound context (see flows.context).

A gate may also declare who may decide besides the job's owner (`assignees`), offer
`edit` (the reviewer changes `editable` fields of the payload and the flow goes on with
them as if approved: `apply_edits_async`), and a default deadline (`timeout` seconds,
then `on_timeout`: one of its options, or `cancel`). What the server does with these is
the server's business; here they are only part of the request.
"""

from __future__ import annotations

from typing import Any

from pocketflow import AsyncNode

from flows import context

EDIT = "edit"


class HumanReview(AsyncNode):
    options: tuple[str, ...] = ("approve", "reject")
    prompt = "Please review the result"
    assignees: tuple[str, ...] = ()  # principals who may decide, besides owner and admins
    editable: tuple[str, ...] | None = None  # payload fields an edit may change (None: all)
    timeout: float | None = None  # a default deadline, in seconds after the review opens
    on_timeout: str | None = None  # what the deadline applies: an option, or "cancel"
    edit_action = "approve"  # the action an edit goes on with

    def __init__(
        self,
        options: tuple[str, ...] | None = None,
        *,
        prompt: str | None = None,
        name: str | None = None,
        assignees: tuple[str, ...] | None = None,
        timeout: float | None = None,
        on_timeout: str | None = None,
    ) -> None:
        super().__init__()
        if options is not None:
            self.options = tuple(options)
        if prompt is not None:
            self.prompt = prompt
        if name is not None:
            self.name = name
        if assignees is not None:
            self.assignees = tuple(assignees)
        if timeout is not None:
            self.timeout = timeout
        if on_timeout is not None:
            self.on_timeout = on_timeout

    def payload(self, shared: dict[str, Any]) -> dict[str, Any]:
        """What the reviewer looks at (JSON). Override per flow."""
        return {}

    def apply_decision(self, shared: dict[str, Any], decision: dict[str, Any]) -> None:
        """Record the decision in the shared store. Override to feed comments forward."""
        entry = {"decision": decision["decision"], "comment": decision.get("comment")}
        if decision.get("edits"):
            entry["edited"] = sorted(decision["edits"])
        shared.setdefault("reviews", []).append(entry)

    async def apply_edits_async(self, shared: dict[str, Any], edits: dict[str, Any]) -> None:
        """Put the reviewer's edits (changed payload fields) into the shared store. By
        default a payload field is the shared key of the same name; override otherwise."""
        for field, value in edits.items():
            shared[field] = value

    async def prep_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        payload = self.payload(shared)
        request: dict[str, Any] = {
            "prompt": self.prompt,
            "options": list(self.options),
            "payload": payload,
        }
        if self.assignees:
            request["assignees"] = list(self.assignees)
        if EDIT in self.options:
            fields = payload if self.editable is None else self.editable
            request["editable"] = [field for field in fields if field in payload]
        if self.timeout is not None:
            request["timeout"] = self.timeout
            request["on_timeout"] = self.on_timeout
        return request

    async def exec_async(self, request: dict[str, Any]) -> dict[str, Any]:
        name = getattr(self, "name", type(self).__name__)
        return await context.current().decide(name, request)

    async def post_async(
        self, shared: dict[str, Any], request: dict[str, Any], decision: dict[str, Any]
    ) -> str:
        self.apply_decision(shared, decision)
        if decision["decision"] == EDIT:
            allowed = set(request.get("editable", ()))
            edits = {k: v for k, v in (decision.get("edits") or {}).items() if k in allowed}
            await self.apply_edits_async(shared, edits)
            return self.edit_action
        return decision["decision"]
