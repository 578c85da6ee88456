"""Generation: a person's request -> a workflow spec that validates, every time.

Intent analysis (what they want, its inputs and outputs, which capabilities it needs) ->
template recommendation -> a spec drafted by the model with structured output -> validation
-> at most `REPAIR_ROUNDS` repairs, each sending the model the exact validation errors ->
if still invalid, the best-matching template adapted to the request. The result says
which of these it came from (`model`, `repaired`, `template`).
"""

from __future__ import annotations

import json
from typing import Any

from pocketflow import AsyncFlow, AsyncNode

from flows import context
from flows.llm import LLMError, complete
from flows.pilot import library
from flows.pilot.spec import SPEC_SCHEMA
from flows.pilot.validate import validate

REPAIR_ROUNDS = 3
# A repair prompt quotes the last draft and its errors; bounded, so that it fits a small
# model's context (2048 tokens for the embedded one) with room for the answer.
MAX_LAST_ANSWER = 1500
MAX_ERRORS_TOLD = 6
MAX_PROMPT = 4000

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 3, "maxLength": MAX_PROMPT},
        "user_preferences": {
            "type": "object",
            "properties": {
                "complexity": {"enum": ["simple", "moderate", "complex"]},
                "integrations": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
            },
        },
        "knowledge_bases": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["prompt"],
}

INTENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "goal": {"type": "string", "maxLength": 300},
        "name": {"type": "string", "maxLength": 60},
        "inputs": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": 6},
        "outputs": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": 6},
        "entities": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": 8},
        "needs": {
            "type": "array",
            "items": {"enum": ["knowledge", "api", "review", "loop", "branching", "tool"]},
            "maxItems": 6,
        },
    },
    "required": ["goal", "name", "inputs", "outputs", "needs"],
}

NODE_GUIDE = """Node types and their config:
- input: {"fields": {name: JSON Schema}}; exactly one; its values are {{input.name}}
- llm: {"prompt": template, "system"?: text, "schema"?: JSON Schema};
  output {{id.text}} (or {{id.json}} with a schema)
- condition: {"when": {"left", "op", "right"}}; op is one of == != < <= > >= contains
  not_contains empty not_empty matches; leaves by "true" and "false"
- loop: {"over": "{{id.field}}" or "times": n, "max_iterations": n, "collect"?: template};
  output {{id.item}}, {{id.index}}, {{id.results}}; leaves by "next" (the body, which
  connects back to the loop) and "done"
- api: {"method", "url", "headers"?, "body"?}; output {{id.status}}, {{id.body}}, {{id.json}}
- knowledge: {"base", "query", "top_k"?}; output {{id.text}}, {{id.chunks}}
- tool: {"tool": calculator|datetime|json_path|http_get|knowledge_search, "args": {}};
  output {{id.result}}
- review: {"prompt", "options": ["approve", "reject"], "show": template}; a person
  decides; leaves by each option; output {{id.decision}}, {{id.comment}}
- output: {"value": template or object of templates}; ends the workflow
Connections: {"source", "target", "type"}; type is "default" except for the actions above.
Templates may only reference nodes that run before, as {{node_id.field}}; no code.
Write <<what the person must supply>> for values only the person knows (an API URL, a
knowledge base they have not named)."""


def _fallback_intent(prompt: str) -> dict[str, Any]:
    words = prompt.split()
    return {
        "goal": prompt[:300],
        "name": " ".join(words[:6])[:60] or "Workflow",
        "inputs": ["text"],
        "outputs": ["result"],
        "entities": [],
        "needs": [],
    }


class AnalyzeIntent(AsyncNode):
    async def prep_async(self, shared: dict[str, Any]) -> str:
        return shared["prompt"]

    async def exec_async(self, prompt: str) -> dict[str, Any]:
        context.report("Working out what the workflow should do")
        return await complete(
            "Analyse this request for an automated workflow. Say its goal in one sentence, "
            "a short name, the inputs a run needs, the outputs it gives, the things it "
            "deals with, and which capabilities it needs (knowledge = answering from "
            "documents, api = calling a web service, review = a person approving, loop = "
            "going through a list, branching = different paths, tool = calculations or "
            f"dates).\n\nRequest: {prompt}",
            schema=INTENT_SCHEMA,
        )

    async def exec_fallback_async(self, prompt: str, exc: Exception) -> dict[str, Any]:
        context.report("Could not analyse the request with the model; going by its words")
        return _fallback_intent(prompt)

    async def post_async(self, shared: dict[str, Any], prep_res: str, intent: Any) -> str:
        shared["intent"] = intent
        return "default"

    def summarize(self, shared: dict[str, Any]) -> str:
        return shared["intent"]["goal"]


class RecommendTemplates(AsyncNode):
    async def prep_async(self, shared: dict[str, Any]) -> str:
        intent = shared["intent"]
        return " ".join([shared["prompt"], intent["goal"], *intent.get("needs", [])])

    async def exec_async(self, text: str) -> list[str]:
        return [template.name for template in library.recommend(text)]

    async def post_async(self, shared: dict[str, Any], prep_res: str, names: list[str]) -> str:
        shared["templates"] = names
        context.report(f"Closest templates: {', '.join(names)}")
        return "default"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _draft_prompt(shared: dict[str, Any]) -> str:
    example = library.TEMPLATES[shared["templates"][0]].spec()
    bases = shared.get("knowledge_bases") or []
    known = f"The person's knowledge bases: {', '.join(bases)}.\n" if bases else ""
    return (
        f"{NODE_GUIDE}\n\nAn example workflow:\n{_compact(example)}\n\n{known}"
        f"Write a workflow for this request: {shared['prompt']}\n"
        f"Its goal: {shared['intent']['goal']}\nReply with the workflow as JSON only."
    )


class DraftSpec(AsyncNode):
    """The model's draft, or its repair when the last draft had errors."""

    async def prep_async(self, shared: dict[str, Any]) -> str:
        rounds = shared.setdefault("rounds", [])
        if not rounds:
            return _draft_prompt(shared)
        last = rounds[-1]
        problems = "\n".join(f"- {e}" for e in last["errors"][:MAX_ERRORS_TOLD])
        return (
            f"{_draft_prompt(shared)}\n\nYour last answer:\n"
            f"{_compact(last['spec'])[:MAX_LAST_ANSWER]}\n\n"
            f"That workflow is invalid:\n{problems}\n"
            "Reply with the whole corrected workflow as JSON only."
        )

    async def exec_async(self, prompt: str) -> Any:
        context.report("Repairing the draft" if "Your last answer" in prompt else "Drafting")
        try:
            return await complete(prompt, schema=SPEC_SCHEMA)
        except LLMError as exc:
            return {"unusable": str(exc)}

    async def post_async(self, shared: dict[str, Any], prep_res: Any, draft: Any) -> str:
        if "unusable" in draft:
            errors = [f"the model gave no usable workflow: {draft['unusable']}"]
            shared["rounds"].append({"spec": {}, "errors": errors})
        else:
            checked = validate(draft, knowledge_bases=shared.get("knowledge_bases"))
            errors = [str(e) for e in checked.errors]
            shared["rounds"].append({"spec": draft, "errors": errors})
        if not errors:
            return "valid"
        if len(shared["rounds"]) <= REPAIR_ROUNDS:
            context.report(f"The draft has {len(errors)} problems; asking for a repair")
            return "repair"
        return "fallback"

    def summarize(self, shared: dict[str, Any]) -> str:
        errors = shared["rounds"][-1]["errors"]
        return "valid" if not errors else f"{len(errors)} problems: {errors[0]}"


class AdaptTemplate(AsyncNode):
    """The last resort: the closest template, named and described after the request."""

    async def prep_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        return shared

    async def exec_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        template = library.TEMPLATES[shared["templates"][0]]
        params = {"name": shared["intent"]["name"] or template.title, "goal": shared["prompt"]}
        bases = shared.get("knowledge_bases") or []
        if len(bases) == 1:
            params["knowledge_base"] = bases[0]
        context.report(f"Using the {template.title} template")
        return template.spec(params)

    async def post_async(self, shared: dict[str, Any], prep_res: Any, spec: Any) -> str:
        shared["rounds"].append({"spec": spec, "errors": [], "template": True})
        return "default"


class Finish(AsyncNode):
    async def prep_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        return shared

    async def exec_async(self, shared: dict[str, Any]) -> dict[str, Any]:
        rounds = shared["rounds"]
        spec = rounds[-1]["spec"]
        if rounds[-1].get("template"):
            source = "template"
        else:
            source = "model" if len(rounds) == 1 else "repaired"
        checked = validate(spec, knowledge_bases=shared.get("knowledge_bases"))
        if not checked.valid:  # a template must always validate; this is a bug if it happens
            raise ValueError(f"the generated workflow is invalid: {checked.errors[0]}")
        return {
            "workflow": spec,
            "source": source,
            "validation": checked.to_json(),
            "intent": shared["intent"],
            "templates": shared["templates"],
            "rounds": [{"errors": r["errors"]} for r in rounds],
        }

    async def post_async(self, shared: dict[str, Any], prep_res: Any, result: Any) -> str:
        shared["result"] = result
        return "default"


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    intent, recommend = AnalyzeIntent(max_retries=2), RecommendTemplates()
    draft, adapt, finish = DraftSpec(), AdaptTemplate(), Finish()
    intent >> recommend >> draft
    draft - "valid" >> finish
    draft - "repair" >> draft
    draft - "fallback" >> adapt
    adapt >> finish
    return AsyncFlow(start=intent)
