"""A workflow as a Mermaid flowchart: what the web view draws before anyone runs it."""

from __future__ import annotations

import re
from typing import Any

from flows.pilot.spec import edge_type

SHAPES = {
    "input": ('[/"', '"/]'),
    "output": ('[\\"', '"\\]'),
    "condition": ('{"', '"}'),
    "review": ('[["', '"]]'),
    "loop": ('(["', '"])'),
}


def _label(text: str) -> str:
    """Mermaid labels in quotes: no quotes, brackets or markup inside."""
    return re.sub(r"[\"<>{}\[\]#`]", "", text)[:60]


def _mermaid_id(node_id: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node_id)


def mermaid(spec: dict[str, Any]) -> str:
    lines = ["flowchart TD"]
    for node in spec["nodes"]:
        left, right = SHAPES.get(node["type"], ('["', '"]'))
        label = _label(f"{node['id']} ({node['type']})")
        lines.append(f"    {_mermaid_id(node['id'])}{left}{label}{right}")
    for connection in spec["connections"]:
        action = edge_type(connection)
        arrow = "-->" if action == "default" else f"-->|{_label(action)}|"
        lines.append(
            f"    {_mermaid_id(connection['source'])} {arrow} {_mermaid_id(connection['target'])}"
        )
    return "\n".join(lines)
