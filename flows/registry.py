"""Flow name -> definition: title, input schema, builder, and the reviews it can ask for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pocketflow import Flow

from flows import article, image, review


@dataclass(frozen=True)
class FlowSpec:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    build: Callable[[dict[str, Any]], Flow]
    review_options: tuple[str, ...] = ()
    examples: list[dict[str, Any]] = field(default_factory=list)
    # A session's stage flow: run by session actions, not listed or started on its own.
    internal: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "input_schema": self.input_schema,
            "review_options": list(self.review_options),
            "examples": self.examples,
        }


def default_flows() -> dict[str, FlowSpec]:
    """A fresh registry of the seed flows (callers may add their own)."""
    specs = [
        FlowSpec(
            name="article",
            title="Write an article",
            description="Outline, three sections written in parallel, then a conversational "
            "rewrite. Optional final review.",
            input_schema=article.INPUT_SCHEMA,
            build=article.build,
            review_options=article.ArticleReview.options,
            examples=[{"topic": "The history of coffee"}],
        ),
        FlowSpec(
            name="review",
            title="Do a task with human review",
            description="The model does the task; a person approves or rejects with a "
            "comment, and the model tries again.",
            input_schema=review.INPUT_SCHEMA,
            build=review.build,
            review_options=review.TaskReview.options,
            examples=[{"task": "Write a haiku about autumn"}],
        ),
        FlowSpec(
            name="image",
            title="Generate an image",
            description="Generate an image; a person approves it or asks for another.",
            input_schema=image.INPUT_SCHEMA,
            build=image.build,
            review_options=image.ImageReview.options,
            examples=[{"prompt": "A lighthouse at dawn, watercolor"}],
        ),
        *session_flows(),
        *pilot_flows(),
    ]
    return {spec.name: spec for spec in specs}


def session_flows() -> list[FlowSpec]:
    """The stage flows GenFlow sessions run as jobs (flows/content)."""
    from flows.content import critique, research, styling, suggest, topics, writing

    stages = [
        ("session.topics", "Discover topics", topics.INPUT_SCHEMA, topics.build),
        ("session.research", "Research a topic", research.INPUT_SCHEMA, research.build),
        ("session.write", "Write a draft", writing.INPUT_SCHEMA, writing.build),
        (
            "session.regenerate_section",
            "Rewrite one section",
            writing.REGENERATE_SCHEMA,
            writing.build_regenerate,
        ),
        ("session.style", "Restyle a draft", styling.INPUT_SCHEMA, styling.build),
        ("session.review", "Review a draft", critique.INPUT_SCHEMA, critique.build),
        ("session.suggest", "Suggest ideas", suggest.INPUT_SCHEMA, suggest.build),
    ]
    return [
        FlowSpec(
            name=name,
            title=title,
            description=title,
            input_schema=schema,
            build=build,
            internal=True,
        )
        for name, title, schema, build in stages
    ]


def pilot_flows() -> list[FlowSpec]:
    """A pilot workflow's execution (its spec compiled to a graph), and generation."""
    from flows.pilot import compile as pilot
    from flows.pilot import generate

    return [
        FlowSpec(
            name="workflow",
            title="Run a workflow",
            description="A workflow spec, compiled and run step by step.",
            input_schema=pilot.INPUT_SCHEMA,
            build=pilot.build,
            internal=True,
        ),
        FlowSpec(
            name="pilot.generate",
            title="Generate a workflow",
            description="A request in plain language, drafted into a workflow that validates.",
            input_schema=generate.INPUT_SCHEMA,
            build=generate.build,
            internal=True,
        ),
    ]
