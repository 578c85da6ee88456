"""What a model answers to a workflow's generation prompts and to the workflow it drafted,
for scripted tests (as tests/e2e/test_workflow_process.py scripts them).

The draft asks for an article on a topic, for an audience, in some paragraphs (a text
field, a text field with a default, a number field with a default), has a person approve
it, and returns it: every part of the Workflows view's run form and a review on the way.
"""

from __future__ import annotations

from typing import Any

from flows.pilot.library import TEMPLATES

REQUEST = "A short article on a topic I give, approved by me before it is final"
INTENT = {
    "goal": "Draft a short article for approval",
    "name": "Article with approval",
    "inputs": ["topic"],
    "outputs": ["article"],
    "entities": [],
    "needs": ["review"],
}
ARTICLE = "Green tea reached Japan from China in the ninth century, carried home by monks."
SPEC: dict[str, Any] = {
    "name": "Article with approval",
    "description": "Draft a short article on a topic; a person approves it.",
    "nodes": [
        {
            "id": "start",
            "type": "input",
            "config": {
                "fields": {
                    "topic": {"type": "string", "description": "What to write about"},
                    "audience": {"type": "string", "default": "general readers"},
                    "paragraphs": {"type": "integer", "default": 3, "minimum": 1},
                }
            },
        },
        {
            "id": "draft",
            "type": "llm",
            "config": {
                "prompt": "Write a short article about {{input.topic}} for {{input.audience}} "
                "in {{input.paragraphs}} paragraphs.\n{{edit.comment}}"
            },
        },
        {
            "id": "edit",
            "type": "review",
            "config": {"prompt": "Approve the draft, or reject it", "show": "{{draft.text}}"},
        },
        {"id": "article", "type": "output", "config": {"value": "{{draft.text}}"}},
    ],
    "connections": [
        {"source": "start", "target": "draft"},
        {"source": "draft", "target": "edit"},
        {"source": "edit", "target": "article", "type": "approve"},
        {"source": "edit", "target": "draft", "type": "reject"},
    ],
}

# The fake model's rules (`match` is part of the prompt). The draft prompt quotes the
# closest template, whose words may match the article rule, so it comes first.
WORKFLOW_RULES = [
    {"answer": INTENT, "match": "Analyse this request"},
    {"answer": SPEC, "match": "Write a workflow for this request"},
    {"answer": ARTICLE, "match": "Write a short article about"},
]


# The content_generation template as the model's draft, and its `draft` node's answer for
# the topic "tea": what the server-process and Slack tests script for `/workflow`.
TEA = "Tea reached Europe in the 1600s through Dutch traders."
TEA_SPEC = TEMPLATES["content_generation"].spec({"name": "Article with approval"})
TEA_RULES: list[dict[str, Any]] = [
    {"answer": INTENT, "match": "Analyse this request"},
    {"answer": TEA_SPEC, "match": "Write a workflow for this request"},
    {"answer": TEA, "match": "Write a short article about tea"},
]
