"""A PocketFlow graph seen by name, so a checkpoint can say where to resume."""

from __future__ import annotations

import copy
from typing import Any

from pocketflow import BaseNode, Flow


class FlowChanged(RuntimeError):
    """The checkpoint names a node the flow no longer has."""


def node_name(node: BaseNode) -> str:
    return getattr(node, "name", None) or type(node).__name__


class Graph:
    def __init__(self, flow: Flow) -> None:
        if flow.start_node is None:
            raise ValueError("the flow has no start node")
        self.params: dict[str, Any] = dict(flow.params)
        self.start = node_name(flow.start_node)
        self.nodes: dict[str, BaseNode] = {}
        pending = [flow.start_node]
        while pending:
            node = pending.pop()
            name = node_name(node)
            known = self.nodes.get(name)
            if known is node:
                continue
            if known is not None:
                raise ValueError(
                    f"two nodes are called {name!r}: give one an explicit `name` attribute"
                )
            self.nodes[name] = node
            pending.extend(node.successors.values())

    def instance(self, name: str) -> BaseNode:
        """A fresh copy of the node, so one flow object serves many jobs at once."""
        node = self.nodes.get(name)
        if node is None:
            raise FlowChanged(
                f"the job stopped at node {name!r}, which this flow no longer has; "
                "the flow changed incompatibly, so the job cannot resume"
            )
        instance = copy.copy(node)
        instance.set_params(dict(self.params))
        return instance

    def next_name(self, node: BaseNode, action: str | None) -> str | None:
        following = node.successors.get(action or "default")
        return node_name(following) if following is not None else None

    def progress(self, finished: list[str]) -> int:
        done = len(set(finished) & self.nodes.keys())
        return min(99, int(100 * done / max(1, len(self.nodes))))
