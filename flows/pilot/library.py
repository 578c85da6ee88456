"""Workflow templates: known-good specs to start from, and generation's last resort.

Each template is a function of a few parameters (what the person wants, a knowledge
base, an API URL…), so generation can adapt one to a request when the model's drafts do
not validate. Values only the person can supply stay placeholders (`<<…>>`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Params = dict[str, str]
KNOWLEDGE = "<<the knowledge base to answer from>>"
API_URL = "<<the https URL of the API that returns JSON about the record>>"


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    keywords: tuple[str, ...]
    make: Callable[[Params], dict[str, Any]]

    def spec(self, params: Params | None = None) -> dict[str, Any]:
        return self.make({"goal": self.description, **(params or {})})

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "keywords": list(self.keywords),
            "workflow": self.spec(),
        }


def _node(node_id: str, kind: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "config": config}


def _edges(*pairs: tuple[str, str] | tuple[str, str, str]) -> list[dict[str, str]]:
    return [
        {"source": p[0], "target": p[1], "type": p[2] if len(p) > 2 else "default"} for p in pairs
    ]


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description, "maxLength": 5000}


def customer_support(p: Params) -> dict[str, Any]:
    return {
        "name": p.get("name", "Customer support"),
        "description": p["goal"],
        "nodes": [
            _node("start", "input", fields={"message": _text("The customer's message")}),
            _node(
                "mood",
                "llm",
                prompt="Is this customer angry or upset? Answer with one word, yes or no.\n\n"
                "Message: {{input.message}}",
            ),
            _node(
                "angry",
                "condition",
                when={"left": "{{mood.text}}", "op": "contains", "right": "yes"},
            ),
            _node(
                "handoff",
                "review",
                prompt="An upset customer: write or approve the reply yourself",
                options=["approve", "reject"],
                show="{{input.message}}",
            ),
            _node(
                "faq",
                "knowledge",
                base=p.get("knowledge_base", KNOWLEDGE),
                query="{{input.message}}",
                top_k=3,
            ),
            _node(
                "answer",
                "llm",
                system="You answer customers politely, only from the FAQ passages given.",
                prompt="FAQ passages:\n{{faq.text}}\n\nCustomer: {{input.message}}\n\nReply:",
            ),
            _node(
                "human_reply",
                "output",
                value={
                    "handled_by": "a person",
                    "decision": "{{handoff.decision}}",
                    "note": "{{handoff.comment}}",
                },
            ),
            _node("reply", "output", value={"handled_by": "the bot", "reply": "{{answer.text}}"}),
        ],
        "connections": _edges(
            ("start", "mood"),
            ("mood", "angry"),
            ("angry", "handoff", "true"),
            ("angry", "faq", "false"),
            ("handoff", "human_reply", "approve"),
            ("handoff", "human_reply", "reject"),
            ("faq", "answer"),
            ("answer", "reply"),
        ),
    }


def content_generation(p: Params) -> dict[str, Any]:
    return {
        "name": p.get("name", "Content generation"),
        "description": p["goal"],
        "nodes": [
            _node(
                "start",
                "input",
                fields={
                    "topic": _text("What to write about"),
                    "audience": {**_text("Who it is for"), "default": "general readers"},
                },
            ),
            _node(
                "draft",
                "llm",
                prompt="Write a short article about {{input.topic}} for {{input.audience}}. "
                "Three paragraphs, plain language.\n"
                "Requested: " + p["goal"] + "\n{{edit.comment}}",
            ),
            _node(
                "edit",
                "review",
                prompt="Approve the draft, or reject it with what to change",
                show="{{draft.text}}",
            ),
            _node("article", "output", value="{{draft.text}}"),
        ],
        "connections": _edges(
            ("start", "draft"),
            ("draft", "edit"),
            ("edit", "article", "approve"),
            ("edit", "draft", "reject"),
        ),
    }


def data_analysis(p: Params) -> dict[str, Any]:
    return {
        "name": p.get("name", "Data analysis"),
        "description": p["goal"],
        "nodes": [
            _node(
                "start",
                "input",
                fields={
                    "numbers": {
                        "type": "array",
                        "items": {"type": "number"},
                        "maxItems": 1000,
                        "description": "The values",
                    },
                    "question": {**_text("What to find out"), "default": "Summarise these values"},
                },
            ),
            _node(
                "each",
                "loop",
                over="{{input.numbers}}",
                max_iterations=1000,
                collect="{{square.result}}",
            ),
            _node(
                "square",
                "tool",
                tool="calculator",
                args={"expression": "{{each.item}} * {{each.item}}"},
            ),
            _node(
                "explain",
                "llm",
                prompt="Values: {{input.numbers}}\nTheir squares: {{each.results}}\n"
                "{{input.question}}. Answer in two sentences.",
            ),
            _node(
                "report",
                "output",
                value={
                    "count": "{{each.count}}",
                    "squares": "{{each.results}}",
                    "summary": "{{explain.text}}",
                },
            ),
        ],
        "connections": _edges(
            ("start", "each"),
            ("each", "square", "next"),
            ("square", "each"),
            ("each", "explain", "done"),
            ("explain", "report"),
        ),
    }


def research_with_knowledge(p: Params) -> dict[str, Any]:
    return {
        "name": p.get("name", "Research with a knowledge base"),
        "description": p["goal"],
        "nodes": [
            _node("start", "input", fields={"question": _text("The question to research")}),
            _node(
                "search",
                "knowledge",
                base=p.get("knowledge_base", KNOWLEDGE),
                query="{{input.question}}",
                top_k=5,
            ),
            _node("found", "condition", when={"left": "{{search.chunks}}", "op": "not_empty"}),
            _node(
                "answer",
                "llm",
                system="Answer only from the passages; say which source each point comes from.",
                prompt="Passages:\n{{search.text}}\n\nQuestion: {{input.question}}",
            ),
            _node(
                "answered",
                "output",
                value={"answer": "{{answer.text}}", "sources": "{{search.chunks}}"},
            ),
            _node(
                "nothing",
                "output",
                value={"answer": "Nothing in the knowledge base answers this.", "sources": []},
            ),
        ],
        "connections": _edges(
            ("start", "search"),
            ("search", "found"),
            ("found", "answer", "true"),
            ("found", "nothing", "false"),
            ("answer", "answered"),
        ),
    }


def approval_chain(p: Params) -> dict[str, Any]:
    return {
        "name": p.get("name", "Approval chain"),
        "description": p["goal"],
        "nodes": [
            _node(
                "start",
                "input",
                fields={
                    "request": _text("What is asked for"),
                    "amount": {"type": "number", "minimum": 0, "description": "The amount"},
                },
            ),
            _node(
                "summary",
                "llm",
                prompt="Summarise this request for an approver in two sentences: "
                "{{input.request}} (amount {{input.amount}})",
            ),
            _node(
                "large", "condition", when={"left": "{{input.amount}}", "op": ">", "right": 1000}
            ),
            _node("manager", "review", prompt="Approve this request?", show="{{summary.text}}"),
            _node(
                "director", "review", prompt="A large request: approve it?", show="{{summary.text}}"
            ),
            _node(
                "approved", "output", value={"status": "approved", "summary": "{{summary.text}}"}
            ),
            _node(
                "rejected", "output", value={"status": "rejected", "summary": "{{summary.text}}"}
            ),
        ],
        "connections": _edges(
            ("start", "summary"),
            ("summary", "manager"),
            ("manager", "large", "approve"),
            ("manager", "rejected", "reject"),
            ("large", "director", "true"),
            ("large", "approved", "false"),
            ("director", "approved", "approve"),
            ("director", "rejected", "reject"),
        ),
    }


def api_enrichment(p: Params) -> dict[str, Any]:
    return {
        "name": p.get("name", "API enrichment"),
        "description": p["goal"],
        "nodes": [
            _node("start", "input", fields={"record_id": _text("The record to look up")}),
            _node(
                "lookup",
                "api",
                method="GET",
                url=p.get("api_url", API_URL),
                headers={"Accept": "application/json"},
                timeout=10,
            ),
            _node("ok", "condition", when={"left": "{{lookup.status}}", "op": "==", "right": 200}),
            _node(
                "describe",
                "llm",
                prompt="Describe record {{input.record_id}} in two sentences from this data: "
                "{{lookup.body}}",
            ),
            _node(
                "enriched",
                "output",
                value={
                    "record_id": "{{input.record_id}}",
                    "data": "{{lookup.json}}",
                    "description": "{{describe.text}}",
                },
            ),
            _node(
                "failed",
                "output",
                value={
                    "record_id": "{{input.record_id}}",
                    "error": "the API answered {{lookup.status}}",
                },
            ),
        ],
        "connections": _edges(
            ("start", "lookup"),
            ("lookup", "ok"),
            ("ok", "describe", "true"),
            ("ok", "failed", "false"),
            ("describe", "enriched"),
        ),
    }


def summarize_text(p: Params) -> dict[str, Any]:
    return {
        "name": p.get("name", "Summarise a text"),
        "description": p["goal"],
        "nodes": [
            _node("start", "input", fields={"text": {**_text("The text"), "maxLength": 20000}}),
            _node("summary", "llm", prompt="Summarise in three bullet points:\n\n{{input.text}}"),
            _node("result", "output", value="{{summary.text}}"),
        ],
        "connections": _edges(("start", "summary"), ("summary", "result")),
    }


def _literal(text: str) -> str:
    """A person's words inside a template: braces that could read as a reference go."""
    return text.replace("{{", "(").replace("}}", ")").replace("<<", "(").replace(">>", ")")


def general_task(p: Params) -> dict[str, Any]:
    return {
        "name": p.get("name", "A task for the model"),
        "description": p["goal"],
        "nodes": [
            _node(
                "start", "input", fields={"text": {**_text("What to work on"), "maxLength": 20000}}
            ),
            _node("task", "llm", prompt=_literal(p["goal"]) + "\n\n{{input.text}}"),
            _node("result", "output", value="{{task.text}}"),
        ],
        "connections": _edges(("start", "task"), ("task", "result")),
    }


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in [
        Template(
            "customer_support",
            "Customer support",
            "Answer customers from an FAQ; hand upset customers to a person.",
            (
                "support",
                "customer",
                "faq",
                "ticket",
                "angry",
                "complaint",
                "help",
                "reply",
                "chatbot",
                "bot",
            ),
            customer_support,
        ),
        Template(
            "content_generation",
            "Content generation",
            "Draft an article or post on a topic; a person approves or asks for changes.",
            (
                "write",
                "article",
                "blog",
                "post",
                "content",
                "draft",
                "newsletter",
                "copy",
                "marketing",
                "social",
            ),
            content_generation,
        ),
        Template(
            "data_analysis",
            "Data analysis",
            "Go through a list of numbers, compute with the calculator, explain the result.",
            (
                "data",
                "numbers",
                "analyse",
                "analyze",
                "statistics",
                "calculate",
                "compute",
                "metrics",
                "report",
                "average",
            ),
            data_analysis,
        ),
        Template(
            "research_with_knowledge",
            "Research with a knowledge base",
            "Answer a question from your documents, citing the passages used.",
            (
                "research",
                "knowledge",
                "documents",
                "docs",
                "search",
                "question",
                "answer",
                "cite",
                "sources",
                "policy",
            ),
            research_with_knowledge,
        ),
        Template(
            "approval_chain",
            "Approval chain",
            "Summarise a request; a manager approves, and a director too above an amount.",
            (
                "approve",
                "approval",
                "expense",
                "request",
                "manager",
                "sign-off",
                "purchase",
                "budget",
                "amount",
                "escalate",
            ),
            approval_chain,
        ),
        Template(
            "api_enrichment",
            "API enrichment",
            "Look a record up in an external API and describe what came back.",
            (
                "api",
                "enrich",
                "lookup",
                "fetch",
                "http",
                "record",
                "crm",
                "webhook",
                "external",
                "weather",
            ),
            api_enrichment,
        ),
        Template(
            "general_task",
            "A task for the model",
            "Do what the request says with the text given, in one model call.",
            (
                "translate",
                "classify",
                "rewrite",
                "explain",
                "extract",
                "convert",
                "brainstorm",
                "proofread",
                "generate",
                "haiku",
            ),
            general_task,
        ),
        Template(
            "summarize_text",
            "Summarise a text",
            "Summarise a text in three bullet points.",
            (
                "summarise",
                "summarize",
                "summary",
                "tldr",
                "shorten",
                "digest",
                "notes",
                "meeting",
                "email",
                "text",
            ),
            summarize_text,
        ),
    ]
}


MIN_SCORE = 2


def recommend(request: str, limit: int = 3) -> list[Template]:
    """Templates whose keywords the request mentions, best match first."""
    words = {w.strip(".,!?;:'\"()").lower() for w in request.split()}
    text = request.lower()

    def score(template: Template) -> int:
        return sum(2 if k in words else 1 for k in template.keywords if k in text)

    ranked = sorted(TEMPLATES.values(), key=score, reverse=True)
    if score(ranked[0]) < MIN_SCORE:  # nothing fits well: a model call doing what was asked
        ranked.remove(TEMPLATES["general_task"])
        ranked.insert(0, TEMPLATES["general_task"])
    return ranked[:limit]
