"""review: the LLM does a task -> a person approves, edits or rejects -> result.

A rejection loops back to `Process` with the attempt number and the reviewer's comment
in the next prompt; an edit of `output` goes on as approved, with the edited answer.
"""

from __future__ import annotations

from typing import Any, TypedDict

from pocketflow import AsyncFlow, AsyncNode

from flows import checks, context
from flows.gate import HumanReview
from flows.llm import complete

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "task": {
            "type": "string",
            "minLength": 1,
            "maxLength": 5000,
            "description": "What the model should do",
        },
    },
    "required": ["task"],
    "additionalProperties": False,
}


class TaskShared(TypedDict, total=False):
    task: str
    attempt: int
    output: str
    feedback: str | None
    reviews: list[dict[str, Any]]
    result: dict[str, Any]


class Process(AsyncNode):
    async def prep_async(self, shared: TaskShared) -> dict[str, Any]:
        return {
            "task": shared["task"],
            "attempt": shared.get("attempt", 0) + 1,
            "feedback": shared.get("feedback"),
            "previous": shared.get("output"),
        }

    async def exec_async(self, job: dict[str, Any]) -> str:
        context.report(f"Working on the task (attempt {job['attempt']})", attempt=job["attempt"])
        prompt = f"Task: {job['task']}"
        if job["attempt"] > 1:
            prompt += (
                f"\n\nThis is attempt {job['attempt']}. Your previous answer was rejected."
                f"\nPrevious answer: {job['previous']}"
                f"\nReviewer's comment: {job['feedback'] or '(no comment)'}"
                "\nWrite an improved answer."
            )
        output = await complete(prompt + checks.retry_note(self))
        # A refusal or a question back wastes the reviewer's time: retried, never shown.
        checks.refuse(self, checks.not_the_work(output), output)
        # The reviewer judges the answer, not its wrapping; an answer that was all
        # wrapping (one "Here is…" line) is shown as it came.
        return checks.unwrapped(output) or output

    async def post_async(self, shared: TaskShared, job: dict[str, Any], output: str) -> str:
        shared["attempt"] = job["attempt"]
        shared["output"] = output.strip()
        return "default"

    def summarize(self, shared: TaskShared) -> str:
        return f"attempt {shared['attempt']}: {len(shared['output'].split())} words"


class TaskReview(HumanReview):
    options = ("approve", "reject", "edit")
    prompt = (
        "Approve the answer, edit it yourself, or reject it with a comment saying what to change"
    )
    editable = ("output",)  # an edited answer is the result, as if approved

    def payload(self, shared: TaskShared) -> dict[str, Any]:
        return {"task": shared["task"], "output": shared["output"], "attempt": shared["attempt"]}

    def apply_decision(self, shared: TaskShared, decision: dict[str, Any]) -> None:
        super().apply_decision(shared, decision)
        shared["feedback"] = decision.get("comment")


class Result(AsyncNode):
    async def post_async(self, shared: TaskShared, prep_res: Any, exec_res: Any) -> str:
        shared["result"] = {"output": shared["output"], "attempts": shared["attempt"]}
        context.report("Approved", 1.0)
        return "default"


def build(input_: dict[str, Any] | None = None) -> AsyncFlow:
    process, review, result = Process(max_retries=2, wait=1), TaskReview(), Result()
    process >> review
    review - "reject" >> process
    review - "approve" >> result
    return AsyncFlow(start=process)
