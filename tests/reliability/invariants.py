"""What must hold for every job's event log, however the server was treated."""

from __future__ import annotations

from typing import Any

TERMINAL = ("job.completed", "job.failed", "job.cancelled")
UNLIMITED = {"GENFLOW_RATE_LIMIT_PER_MINUTE": "1000000", "GENFLOW_RATE_LIMIT_BURST": "1000000"}


def assert_contiguous(events: list[dict[str, Any]]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), f"seq not contiguous from 1: {seqs}"


def assert_one_terminal(events: list[dict[str, Any]]) -> str:
    """Exactly one terminal event, and it is the last; returns its type."""
    terminal = [e["type"] for e in events if e["type"] in TERMINAL]
    assert len(terminal) == 1, f"terminal events: {terminal}"
    assert events[-1]["type"] == terminal[0], "the terminal event must be the last one"
    return terminal[0]


def assert_no_checkpointed_node_ran_again(events: list[dict[str, Any]]) -> None:
    """A node visit whose `node.finished` was stored is never started or finished again.

    `node.started` carries the visit number (`attempt`); a node interrupted by a crash is
    started again with the same number (at-least-once), but once that visit's
    `node.finished` is stored, the checkpoint moved past it for good.
    """
    current: dict[str, int] = {}
    finished: set[tuple[str, int]] = set()
    for event in events:
        if event["type"] == "node.started":
            key = (event["data"]["node"], event["data"]["attempt"])
            assert key not in finished, f"checkpointed node ran again: {key}"
            current[key[0]] = key[1]
        elif event["type"] == "node.finished":
            node = event["data"]["node"]
            key = (node, current.get(node, 0))
            assert key not in finished, f"node finished twice: {key}"
            finished.add(key)


def assert_attempts_count_up(events: list[dict[str, Any]]) -> None:
    attempts = [e["data"]["attempt"] for e in events if e["type"] == "job.started"]
    assert attempts == list(range(1, len(attempts) + 1)), attempts


def assert_sound(events: list[dict[str, Any]]) -> str:
    """Every invariant; returns the terminal event type."""
    assert_contiguous(events)
    assert_no_checkpointed_node_ran_again(events)
    assert_attempts_count_up(events)
    return assert_one_terminal(events)
