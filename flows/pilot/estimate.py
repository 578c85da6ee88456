"""What a workflow will cost and how long it will take, computed from its graph.

Cost: each `llm` node's expected tokens (its prompt's length, plus what its references
bring in, plus a typical answer) at the model's price. Time: the longest path from the
input to an output, with each loop's body counted for as many iterations as it may run
and a fixed latency per kind of step. Human review time is not counted: it is whatever
the reviewer takes.
"""

from __future__ import annotations

from typing import Any

from flows.pilot import templates
from flows.pilot.spec import edge_type

CHARS_PER_TOKEN = 4
TOKENS_PER_REFERENCE = 150  # an earlier output pulled into a prompt
ANSWER_TOKENS = {"text": 400, "json": 200}
UNKNOWN_LIST_LENGTH = 10  # a loop over a list whose length only the run knows
STEP_SECONDS = {"api": 1.0, "knowledge": 0.1, "tool": 0.05}


def llm_tokens(config: dict[str, Any]) -> tuple[int, int]:
    text = f"{config.get('system', '')}\n{config['prompt']}"
    refs = len(templates.references(text))
    tokens_in = (
        len(templates.REFERENCE.sub("", text)) // CHARS_PER_TOKEN + refs * TOKENS_PER_REFERENCE
    )
    return tokens_in, ANSWER_TOKENS["json" if config.get("schema") else "text"]


def iterations(config: dict[str, Any]) -> int:
    if "times" in config:
        return min(config["times"], config["max_iterations"])
    return min(UNKNOWN_LIST_LENGTH, config["max_iterations"])


def estimate(
    spec: dict[str, Any],
    *,
    price: tuple[float, float],
    tokens_per_second: float,
    call_seconds: float = 0.5,
) -> dict[str, Any]:
    """`price` is USD per million tokens (in, out) of the model the workflow will use."""
    nodes = {node["id"]: node for node in spec["nodes"]}
    graph: dict[str, dict[str, str]] = {node_id: {} for node_id in nodes}
    for connection in spec["connections"]:
        graph[connection["source"]][edge_type(connection)] = connection["target"]

    def seconds(node_id: str) -> float:
        node = nodes[node_id]
        if node["type"] == "llm":
            return call_seconds + llm_tokens(node["config"])[1] / tokens_per_second
        return STEP_SECONDS.get(node["type"], 0.0)

    def longest(node_id: str, stack: tuple[str, ...]) -> tuple[float, list[str]]:
        if node_id in stack:  # back to a loop (or a review sending work back): path ends
            return 0.0, []
        node, here = nodes[node_id], (*stack, node_id)
        if node["type"] == "loop":
            body, body_path = longest(graph[node_id]["next"], here)
            after, after_path = longest(graph[node_id]["done"], here)
            return body * iterations(node["config"]) + after, [node_id, *body_path, *after_path]
        best: tuple[float, list[str]] = (0.0, [])
        for target in graph[node_id].values():
            if node["type"] == "review" and target in stack:
                continue
            found = longest(target, here)
            if found[0] >= best[0]:
                best = found
        return seconds(node_id) + best[0], [node_id, *best[1]]

    start = next(node_id for node_id, node in nodes.items() if node["type"] == "input")
    total_seconds, path = longest(start, ())
    calls = {n: llm_tokens(node["config"]) for n, node in nodes.items() if node["type"] == "llm"}
    repeats = _loop_repeats(nodes, graph)
    tokens_in = sum(t[0] * repeats.get(n, 1) for n, t in calls.items())
    tokens_out = sum(t[1] * repeats.get(n, 1) for n, t in calls.items())
    usd = (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000
    return {
        "estimated_cost": round(usd, 6),
        "execution_time": round(total_seconds, 1),
        "estimate": {
            "llm_calls": sum(repeats.get(n, 1) for n in calls),
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "price_per_million_tokens": list(price),
            "critical_path": path,
            "excludes": "the time people take to review",
        },
    }


def _loop_repeats(nodes: dict[str, Any], graph: dict[str, dict[str, str]]) -> dict[str, int]:
    """How many times each node in a loop body may run (nested loops multiply)."""
    repeats: dict[str, int] = {}
    for loop_id, node in nodes.items():
        if node["type"] != "loop":
            continue
        body, pending = set(), [graph[loop_id]["next"]]
        while pending:
            current = pending.pop()
            if current == loop_id or current in body:
                continue
            body.add(current)
            pending.extend(graph[current].values())
        for member in body:
            repeats[member] = repeats.get(member, 1) * iterations(node["config"])
    return repeats
