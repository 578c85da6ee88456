"""The PocketFlow node for each workflow node type.

Each node renders its config from the outputs of the nodes before it (`shared["outputs"]`,
plain JSON, so the runner checkpoints it after every step), does its one thing, stores
its output under its id, and returns the action that leaves it. Node names are the spec's
ids, so a checkpoint names the step to resume at.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from pocketflow import AsyncNode

from flows import context
from flows.gate import HumanReview
from flows.llm import Sampling, complete
from flows.pilot import conditions, guarded_http, templates
from flows.pilot.spec import DEFAULT_REVIEW_OPTIONS, INPUT_ALIAS, input_schema
from flows.pilot.tools import TOOLS, ToolError

EXCERPT = 120


class StepFailed(ValueError):
    """A step cannot do what its config asks (bad input, a refused URL, a failing tool)."""


def outputs(shared: dict[str, Any]) -> dict[str, Any]:
    return shared.setdefault("outputs", {})


def _excerpt(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


class SpecNode(AsyncNode):
    """A workflow node: `config` rendered in prep, output stored in post."""

    def __init__(self, node_id: str, config: dict[str, Any], *, max_retries: int = 1) -> None:
        super().__init__(max_retries=max_retries, wait=1 if max_retries > 1 else 0)
        self.name, self.config = node_id, config

    async def prep_async(self, shared: dict[str, Any]) -> Any:
        return templates.render(self.config, outputs(shared))

    def action(self, output: Any) -> str:
        return "default"

    async def post_async(self, shared: dict[str, Any], prep_res: Any, exec_res: Any) -> str:
        outputs(shared)[self.name] = exec_res
        return self.action(exec_res)

    def summarize(self, shared: dict[str, Any]) -> str:
        return _excerpt(outputs(shared).get(self.name))


class InputStep(SpecNode):
    """Checks the execution's input against the declared fields, fills defaults."""

    async def prep_async(self, shared: dict[str, Any]) -> Any:
        return shared.get("input_data") or {}

    async def exec_async(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = self.config.get("fields") or {}
        schema = input_schema({"nodes": [{"type": "input", "config": self.config}]})
        try:
            jsonschema.validate(data, schema)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "input_data"
            raise StepFailed(f"{where}: {exc.message}") from None
        defaults = {name: f["default"] for name, f in fields.items() if "default" in f}
        return {**defaults, **data}

    async def post_async(self, shared: dict[str, Any], prep_res: Any, exec_res: Any) -> str:
        outputs(shared)[INPUT_ALIAS] = exec_res
        return await super().post_async(shared, prep_res, exec_res)


class LLMStep(SpecNode):
    async def exec_async(self, config: dict[str, Any]) -> dict[str, Any]:
        context.report(f"Asking the model ({self.name})")
        answer = await complete(
            str(config["prompt"]),
            system=config.get("system") or None,
            schema=config.get("schema"),
            sampling=Sampling(model=config.get("model"), temperature=config.get("temperature")),
        )
        if config.get("schema") is not None:
            return {"json": answer, "text": json.dumps(answer, ensure_ascii=False)}
        return {"text": answer.strip()}


class ConditionStep(SpecNode):
    async def exec_async(self, config: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"result": conditions.holds(config["when"])}
        except conditions.ConditionError as exc:
            raise StepFailed(str(exc)) from None

    def action(self, output: Any) -> str:
        return "true" if output["result"] else "false"


class LoopStep(SpecNode):
    """`next` with the next item until the list (or `times`) or `max_iterations` runs out,
    then `done`. Its state lives in `shared["loops"]`, so it survives a restart, and is
    cleared when the loop is done, so an outer loop can run it again from the start."""

    async def prep_async(self, shared: dict[str, Any]) -> Any:
        state = shared.setdefault("loops", {}).get(self.name)
        scope = outputs(shared)
        if state is None:
            items = (
                templates.render(self.config["over"], scope)
                if "over" in self.config
                else list(range(self.config["times"]))
            )
            if not isinstance(items, list):
                raise StepFailed(f"`over` must be a list; it is {_excerpt(items)}")
            state = {"items": items, "index": -1, "results": []}
        elif "collect" in self.config:  # back from the body: keep what it made
            state = {
                **state,
                "results": [*state["results"], templates.render(self.config["collect"], scope)],
            }
        return state

    async def exec_async(self, state: dict[str, Any]) -> dict[str, Any]:
        index = state["index"] + 1
        bound = min(len(state["items"]), self.config["max_iterations"])
        return {**state, "index": index, "done": index >= bound, "count": bound}

    async def post_async(self, shared: dict[str, Any], prep_res: Any, exec_res: Any) -> str:
        loops = shared.setdefault("loops", {})
        done, index = exec_res["done"], exec_res["index"]
        output = {"index": index, "count": exec_res["count"], "results": exec_res["results"]}
        if done:
            loops.pop(self.name, None)
            outputs(shared)[self.name] = {**output, "item": None}
            return "done"
        loops[self.name] = {k: exec_res[k] for k in ("items", "index", "results")}
        outputs(shared)[self.name] = {**output, "item": exec_res["items"][index]}
        context.report(f"{self.name}: item {index + 1} of {exec_res['count']}", loop_index=index)
        return "next"

    def summarize(self, shared: dict[str, Any]) -> str:
        out = outputs(shared).get(self.name) or {}
        if out.get("item") is None:
            return f"done after {out.get('count', 0)} iterations"
        return f"item {out['index'] + 1} of {out['count']}: {_excerpt(out['item'])}"


class APIStep(SpecNode):
    def __init__(self, node_id: str, config: dict[str, Any]) -> None:
        super().__init__(node_id, config, max_retries=2)

    async def exec_async(self, config: dict[str, Any]) -> dict[str, Any]:
        headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
        try:
            answer = await guarded_http.request(
                config["method"],
                str(config["url"]),
                headers=headers,
                body=config.get("body"),
                timeout=float(config.get("timeout") or 10),
            )
        except guarded_http.Refused as exc:
            raise StepFailed(str(exc)) from None
        return {
            "status": answer.status,
            "body": answer.text,
            "json": answer.json,
            "headers": answer.headers,
        }

    def summarize(self, shared: dict[str, Any]) -> str:
        out = outputs(shared).get(self.name) or {}
        return f"HTTP {out.get('status')}: {_excerpt(out.get('body', ''))}"


class KnowledgeStep(SpecNode):
    async def exec_async(self, config: dict[str, Any]) -> dict[str, Any]:
        from flows.pilot.knowledge import KnowledgeError, searcher

        try:
            chunks = await searcher.get().search(
                str(config["base"]), str(config["query"]), int(config.get("top_k") or 4)
            )
        except KnowledgeError as exc:
            raise StepFailed(str(exc)) from None
        context.report(f"Found {len(chunks)} passages in {config['base']}")
        return {"chunks": chunks, "text": "\n\n".join(chunk["text"] for chunk in chunks)}


class ToolStep(SpecNode):
    async def exec_async(self, config: dict[str, Any]) -> dict[str, Any]:
        tool = TOOLS[config["tool"]]
        args = config.get("args") or {}
        try:
            jsonschema.validate(args, tool.args)
            return {"result": await tool.run(args)}
        except jsonschema.ValidationError as exc:
            raise StepFailed(f"{tool.name}: {exc.message}") from None
        except (ToolError, guarded_http.Refused) as exc:
            raise StepFailed(f"{tool.name}: {exc}") from None


class ReviewStep(HumanReview):
    """A person decides; the decision (and comment) is the node's output and its action."""

    def __init__(self, node_id: str, config: dict[str, Any]) -> None:
        super().__init__(
            tuple(config.get("options") or DEFAULT_REVIEW_OPTIONS),
            prompt=config.get("prompt") or "Please review",
            name=node_id,
        )
        self.config = config

    def payload(self, shared: dict[str, Any]) -> dict[str, Any]:
        shown = templates.render(self.config.get("show"), outputs(shared))
        return {"show": shown}

    def apply_decision(self, shared: dict[str, Any], decision: dict[str, Any]) -> None:
        outputs(shared)[self.name] = {
            "decision": decision["decision"],
            "comment": decision.get("comment") or "",
            "by": decision.get("by"),
        }

    def summarize(self, shared: dict[str, Any]) -> str:
        out = outputs(shared).get(self.name) or {}
        return f"{out.get('decision')}" + (f": {out['comment']}" if out.get("comment") else "")


class OutputStep(SpecNode):
    async def exec_async(self, config: dict[str, Any]) -> Any:
        return config["value"]

    async def post_async(self, shared: dict[str, Any], prep_res: Any, exec_res: Any) -> str:
        outputs(shared)[self.name] = exec_res
        shared["result"] = {"output": exec_res, "node": self.name}
        return "default"


STEPS: dict[str, type[SpecNode] | type[ReviewStep]] = {
    "input": InputStep,
    "llm": LLMStep,
    "condition": ConditionStep,
    "loop": LoopStep,
    "api": APIStep,
    "knowledge": KnowledgeStep,
    "tool": ToolStep,
    "review": ReviewStep,
    "output": OutputStep,
}
