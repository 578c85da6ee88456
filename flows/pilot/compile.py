"""A validated workflow spec -> a PocketFlow graph the durable runner walks like any flow.

The job's input carries the spec it runs (`{"spec", "input_data"}`), so an execution
resumes with the version it started with even if the workflow is edited meanwhile.
"""

from __future__ import annotations

from typing import Any

from pocketflow import AsyncFlow

from flows.pilot.nodes import STEPS
from flows.pilot.spec import edge_type
from flows.pilot.validate import validate

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {"type": "object"},
        "input_data": {"type": "object"},
        "workflow_id": {"type": "string"},
        "version": {"type": "integer"},
    },
    "required": ["spec", "input_data"],
}


class InvalidSpec(ValueError):
    def __init__(self, problems: list[Any]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def compile_spec(spec: dict[str, Any]) -> AsyncFlow:
    checked = validate(spec)
    if not checked.valid:
        raise InvalidSpec(checked.errors)
    nodes = {node["id"]: STEPS[node["type"]](node["id"], node["config"]) for node in spec["nodes"]}
    for connection in spec["connections"]:
        nodes[connection["source"]] - edge_type(connection) >> nodes[connection["target"]]
    start = next(node["id"] for node in spec["nodes"] if node["type"] == "input")
    return AsyncFlow(start=nodes[start])


def build(input_: dict[str, Any]) -> AsyncFlow:
    return compile_spec(input_["spec"])
