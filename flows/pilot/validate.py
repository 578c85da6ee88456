"""Is a workflow spec runnable? Every problem names the node, the field and the fix.

Errors make a spec unusable (it is neither stored nor run); warnings are shown to the
caller and change nothing (data sent out with no review before it). Placeholders
(`<<what you must supply>>`) are listed: such a spec is valid and stored, but runs only
once they are filled in.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

import jsonschema

from flows.pilot import conditions, templates
from flows.pilot.spec import (
    CONFIGS,
    INPUT_ALIAS,
    OUTPUTS,
    SPEC_SCHEMA,
    edge_type,
    routes,
)
from flows.pilot.tools import TOOLS

# Nodes whose cycles are bounded: a loop by max_iterations, a review by a person.
BOUNDING_TYPES = ("loop", "review")


@dataclass(frozen=True)
class Problem:
    node: str | None
    field: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"node {self.node!r}, " if self.node else ""
        return f"{where}{self.field}: {self.message}"


@dataclass
class Validation:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    placeholders: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [p.to_json() for p in self.errors],
            "warnings": [p.to_json() for p in self.warnings],
            "placeholders": [p.to_json() for p in self.placeholders],
        }


def validate(spec: Any, *, knowledge_bases: Collection[str] | None = None) -> Validation:
    """Check a spec; `knowledge_bases` (ids and names the owner has) when known."""
    result = Validation()
    if not _shape(spec, result):
        return result
    nodes = {node["id"]: node for node in spec["nodes"]}
    if len(nodes) != len(spec["nodes"]):
        seen: set[str] = set()
        for node in spec["nodes"]:
            if node["id"] in seen:
                result.errors.append(
                    Problem(node["id"], "id", "two nodes have this id: rename one")
                )
            seen.add(node["id"])
        return result
    for node in spec["nodes"]:
        _config(node, result, knowledge_bases)
    graph = _edges(spec, nodes, result)
    start = _start(nodes, result)
    if start is None:
        return result
    _reachability(start, nodes, graph, result)
    _cycles(nodes, graph, result)
    if result.errors:
        return result  # references need a sound graph
    _references(start, nodes, graph, result)
    _sends_out(start, nodes, graph, result)
    return result


def _shape(spec: Any, result: Validation) -> bool:
    validator = jsonschema.Draft202012Validator(SPEC_SCHEMA)
    for error in sorted(validator.iter_errors(spec), key=lambda e: list(e.absolute_path)):
        path = list(error.absolute_path)
        node = None
        if len(path) >= 2 and path[0] == "nodes" and isinstance(spec, dict):
            item = spec["nodes"][path[1]]
            node = item.get("id") if isinstance(item, dict) else None
        where = ".".join(str(p) for p in path) or "spec"
        result.errors.append(Problem(node, where, _schema_message(error)))
    return not result.errors


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "additionalProperties":
        return f"{error.message}; remove it"
    if error.validator == "anyOf":
        return "not a comparison {left, op, right} nor a list of them"
    return error.message


def _config(
    node: dict[str, Any], result: Validation, knowledge_bases: Collection[str] | None
) -> None:
    node_id, kind, config = node["id"], node["type"], node["config"]
    if node_id == INPUT_ALIAS and kind != "input":
        result.errors.append(
            Problem(node_id, "id", "`input` names the execution's input: pick another id")
        )
    validator = jsonschema.Draft202012Validator(CONFIGS[kind])
    errors = list(validator.iter_errors(config))
    for error in errors:
        where = ".".join(str(p) for p in ("config", *error.absolute_path))
        result.errors.append(Problem(node_id, where, _schema_message(error)))
    if errors:
        return
    for where, text in templates.strings(config, "config"):
        for bad in templates.not_references(text):
            result.errors.append(
                Problem(
                    node_id,
                    where,
                    f"{bad} is not a reference: templates hold only {{{{node_id.field}}}} "
                    "paths, no code or filters",
                )
            )
    for where, what in templates.placeholders(config, "config"):
        result.placeholders.append(Problem(node_id, where, what))
    check = _CHECKS.get(kind)
    if check:
        check(node_id, config, result, knowledge_bases)


def _check_loop(node_id: str, config: dict[str, Any], result: Validation, _: Any) -> None:
    if ("over" in config) == ("times" in config):
        result.errors.append(
            Problem(node_id, "config", "a loop needs exactly one of `over` (a list) or `times`")
        )
    elif "over" in config and not templates.REFERENCE.fullmatch(config["over"].strip()):
        result.errors.append(
            Problem(node_id, "config.over", "`over` is one reference to a list, e.g. {{a.json}}")
        )


def _check_condition(node_id: str, config: dict[str, Any], result: Validation, _: Any) -> None:
    tests = config["when"] if isinstance(config["when"], list) else [config["when"]]
    for i, test in enumerate(tests):
        where = f"config.when[{i}]" if isinstance(config["when"], list) else "config.when"
        if test["op"] not in ("empty", "not_empty") and "right" not in test:
            result.errors.append(
                Problem(node_id, f"{where}.right", f"`{test['op']}` needs a right side")
            )
        right = test.get("right")
        if test["op"] == "matches" and not (
            isinstance(right, str) and templates.REFERENCE.fullmatch(right.strip())
        ):
            problem = conditions.pattern_problem(right)
            if problem:
                result.errors.append(Problem(node_id, f"{where}.right", problem))


def _check_tool(node_id: str, config: dict[str, Any], result: Validation, _: Any) -> None:
    tool = TOOLS.get(config["tool"])
    if tool is None:
        result.errors.append(
            Problem(
                node_id, "config.tool", f"no tool {config['tool']!r}: use one of {', '.join(TOOLS)}"
            )
        )
        return
    args = config.get("args") or {}
    for name in tool.args.get("required", []):
        if name not in args:
            result.errors.append(
                Problem(node_id, f"config.args.{name}", f"{tool.name} needs `{name}`")
            )
    for name in args:
        if name not in tool.args["properties"]:
            known = ", ".join(tool.args["properties"]) or "none"
            result.errors.append(
                Problem(
                    node_id,
                    f"config.args.{name}",
                    f"{tool.name} takes no `{name}` (it takes: {known})",
                )
            )


def _check_knowledge(
    node_id: str, config: dict[str, Any], result: Validation, bases: Collection[str] | None
) -> None:
    base = config["base"]
    if bases is not None and base not in bases and not templates.PLACEHOLDER.match(base):
        known = ", ".join(sorted(bases)) or "none yet: create one with POST /api/knowledge"
        result.errors.append(
            Problem(node_id, "config.base", f"no knowledge base {base!r} (yours: {known})")
        )


def _check_review(node_id: str, config: dict[str, Any], result: Validation, _: Any) -> None:
    if "default" in (config.get("options") or []):
        result.errors.append(Problem(node_id, "config.options", "`default` is not an option name"))


_CHECKS = {
    "loop": _check_loop,
    "condition": _check_condition,
    "tool": _check_tool,
    "knowledge": _check_knowledge,
    "review": _check_review,
}

Graph = dict[str, dict[str, str]]  # node id -> {action: target id}


def _edges(spec: dict[str, Any], nodes: dict[str, Any], result: Validation) -> Graph:
    graph: Graph = {node_id: {} for node_id in nodes}
    for i, connection in enumerate(spec["connections"]):
        source, target, action = connection["source"], connection["target"], edge_type(connection)
        where = f"connections[{i}]"
        if source not in nodes:
            result.errors.append(Problem(None, f"{where}.source", f"no node {source!r}"))
            continue
        if target not in nodes:
            result.errors.append(Problem(source, f"{where}.target", f"no node {target!r}"))
            continue
        allowed = routes(nodes[source])
        if action not in allowed:
            leaves = ", ".join(allowed) or "nothing: an output ends the workflow"
            result.errors.append(
                Problem(
                    source,
                    f"{where}.type",
                    f"{action!r} cannot leave a {nodes[source]['type']} node "
                    f"(it leaves by: {leaves})",
                )
            )
            continue
        if nodes[target]["type"] == "input":
            result.errors.append(
                Problem(source, f"{where}.target", "nothing may lead back into the input")
            )
            continue
        if action in graph[source]:
            result.errors.append(
                Problem(
                    source,
                    f"{where}.type",
                    f"{action!r} already leads to {graph[source][action]!r}: one target per action",
                )
            )
            continue
        graph[source][action] = target
    for node_id, node in nodes.items():
        for action in routes(node):
            if action not in graph[node_id]:
                result.errors.append(
                    Problem(
                        node_id,
                        "connections",
                        f"nothing connected for {action!r}: add a connection "
                        f"{{source: {node_id!r}, target: …, type: {action!r}}}",
                    )
                )
    return graph


def _start(nodes: dict[str, Any], result: Validation) -> str | None:
    inputs = [node_id for node_id, node in nodes.items() if node["type"] == "input"]
    if len(inputs) != 1:
        result.errors.append(
            Problem(
                None, "nodes", f"a workflow has exactly one input node; this one has {len(inputs)}"
            )
        )
        return None
    return inputs[0]


def _reachable(start: str, graph: Graph) -> list[str]:
    seen, pending = [start], [start]
    while pending:
        for target in graph[pending.pop()].values():
            if target not in seen:
                seen.append(target)
                pending.append(target)
    return seen


def _reachability(start: str, nodes: dict[str, Any], graph: Graph, result: Validation) -> None:
    reached = set(_reachable(start, graph))
    for node_id in nodes:
        if node_id not in reached:
            result.errors.append(
                Problem(node_id, "connections", f"never runs: nothing leads to it from {start!r}")
            )
    if not any(nodes[n]["type"] == "output" for n in reached):
        result.errors.append(Problem(None, "nodes", "no output node is reachable from the input"))


def _cycles(nodes: dict[str, Any], graph: Graph, result: Validation) -> None:
    """Every cycle passes a loop or a review node; any other cycle could run forever."""
    free = {n for n, node in nodes.items() if node["type"] not in BOUNDING_TYPES}
    state: dict[str, int] = {}

    def visit(node_id: str, trail: list[str]) -> None:
        state[node_id] = 1
        for target in graph[node_id].values():
            if target not in free:
                continue
            if state.get(target) == 1:
                cycle = [*trail[trail.index(target) :], target] if target in trail else [target]
                result.errors.append(
                    Problem(
                        target,
                        "connections",
                        f"unbounded cycle {' -> '.join(cycle)}: route it through a loop "
                        "node with max_iterations",
                    )
                )
            elif target not in state:
                visit(target, [*trail, target])
        state[node_id] = 2

    for node_id in sorted(free):
        if node_id not in state:
            visit(node_id, [node_id])


def dominators(start: str, graph: Graph) -> dict[str, set[str]]:
    """For each node, the nodes every path from the start passes through (itself included)."""
    order = _reachable(start, graph)
    preds: dict[str, list[str]] = {n: [] for n in order}
    for source in order:
        for target in graph[source].values():
            preds[target].append(source)
    every = set(order)
    dom = {n: ({n} if n == start else set(every)) for n in order}
    changed = True
    while changed:
        changed = False
        for n in order:
            if n == start:
                continue
            common = set.intersection(*(dom[p] for p in preds[n])) if preds[n] else set()
            new = {n} | common
            if new != dom[n]:
                dom[n], changed = new, True
    return dom


def _references(start: str, nodes: dict[str, Any], graph: Graph, result: Validation) -> None:
    dom = dominators(start, graph)
    for node_id, node in nodes.items():
        for where, text in templates.strings(node["config"], "config"):
            for ref in templates.references(text):
                problem = _reference_problem(ref, node_id, start, nodes, graph, dom, where)
                if problem:
                    result.errors.append(Problem(node_id, where, problem))


def _reference_problem(
    ref: templates.Reference,
    node_id: str,
    start: str,
    nodes: dict[str, Any],
    graph: Graph,
    dom: dict[str, set[str]],
    where: str,
) -> str | None:
    target = start if ref.node == INPUT_ALIAS else ref.node
    if target not in nodes:
        return f"{ref} names no node (nodes: {', '.join(nodes)})"
    kind = nodes[target]["type"]
    fields = set(nodes[target]["config"].get("fields") or {}) if kind == "input" else OUTPUTS[kind]
    if kind == "output":
        return f"{ref}: an output node has nothing to read"
    if (
        ref.field is None
        or (fields and ref.field not in fields)
        or (kind == "input" and not fields)
    ):
        known = ", ".join(sorted(fields)) or "none: declare them in the input's `fields`"
        return f"{ref}: {target!r} has no field {ref.field!r} (it has: {known})"
    if target == node_id and kind != "loop":
        return f"{ref}: a node cannot read its own output"
    if target in dom[node_id] and target != node_id:
        return None
    if target == node_id:  # a loop reading its own item, e.g. in `collect`
        return None
    if kind == "review" and node_id in _reachable(target, graph):
        return None  # a review's comment fed back into the step it sends work back to
    in_body = target in dom and node_id in dom[target] and node_id in _reachable(target, graph)
    if where.startswith("config.collect") and in_body:
        return None  # a loop collecting what its body made in this iteration
    return f"{ref}: {target!r} does not run before {node_id!r} on every path"


def _sends_out(start: str, nodes: dict[str, Any], graph: Graph, result: Validation) -> None:
    dom = dominators(start, graph)
    for node_id, node in nodes.items():
        config = node["config"]
        sends = (node["type"] == "api" and (config["method"] != "GET" or "body" in config)) or (
            node["type"] == "tool" and TOOLS[config["tool"]].sends_out
        )
        reviewed = any(nodes[d]["type"] == "review" for d in dom.get(node_id, ()))
        if sends and not reviewed:
            result.warnings.append(
                Problem(
                    node_id,
                    "type",
                    "sends data out of GenFlow with no review before it: add a review "
                    "node if a person should check it first",
                )
            )
