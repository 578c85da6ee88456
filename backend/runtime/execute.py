"""Run ONE PocketFlow node the way PocketFlow would, minus its two sharp edges.

- prep -> exec (with `max_retries`, `wait`, `exec_fallback`) -> post, as PocketFlow does;
  sync methods run in a worker thread so a blocking call never freezes the event loop.
- Batch nodes: every item has its own retry counter (a copy of the node per item, not a
  shared `cur_retry`), parallel batches run under a concurrency limit, and each finished
  item is checkpointed so a crash re-runs only the unfinished ones.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Protocol

from pocketflow import AsyncFlow, AsyncNode, AsyncParallelBatchNode, BaseNode, BatchNode, Flow

from backend import fast_json
from flows.checks import OutputRejected

OnRetry = Callable[[int, BaseException, int | None], Awaitable[None]]
# The batch item running in this task (its index), None outside a batch's items: what
# the node streams is that item's text.
batch_item: ContextVar[int | None] = ContextVar("batch_item", default=None)


class BatchCheckpoint(Protocol):
    async def load(self) -> dict[int, Any]: ...

    async def save(self, index: int, value: Any) -> None: ...

    def item_done(self, done: int, total: int) -> None: ...


async def execute_node(
    node: BaseNode,
    shared: dict[str, Any],
    *,
    on_retry: OnRetry,
    batch: BatchCheckpoint,
    concurrency: int,
) -> Any:
    """Run the node against `shared` and return its action."""
    if isinstance(node, Flow):  # a nested flow runs as one step
        if isinstance(node, AsyncFlow):
            return await node._run_async(shared)
        return await asyncio.to_thread(node._run, shared)
    is_async = isinstance(node, AsyncNode)
    prep = await node.prep_async(shared) if is_async else await asyncio.to_thread(node.prep, shared)
    if isinstance(node, BatchNode):
        result = await _run_batch(node, prep, on_retry, batch, concurrency)
    else:
        result = await _run_with_retries(node, prep, on_retry, None)
    if is_async:
        return await node.post_async(shared, prep, result)
    return await asyncio.to_thread(node.post, shared, prep, result)


async def _exec_once(node: BaseNode, item: Any) -> Any:
    if isinstance(node, AsyncNode):
        return await node.exec_async(item)
    return await asyncio.to_thread(node.exec, item)


async def _fallback(node: BaseNode, item: Any, exc: Exception) -> Any:
    if isinstance(node, AsyncNode):
        return await node.exec_fallback_async(item, exc)
    return await asyncio.to_thread(node.exec_fallback, item, exc)


async def _run_with_retries(node: BaseNode, item: Any, on_retry: OnRetry, index: int | None) -> Any:
    attempts = max(1, getattr(node, "max_retries", 1))
    wait = getattr(node, "wait", 0)
    for attempt in range(1, attempts + 1):
        node.cur_retry = attempt - 1  # PocketFlow nodes may read it in exec
        try:
            return await _exec_once(node, item)
        except Exception as exc:
            if attempt == attempts:
                return await _fallback(node, item, exc)
            await on_retry(attempt, exc, index)
            if wait > 0 and not isinstance(exc, OutputRejected):  # the server is fine
                await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def _fingerprint(item: Any) -> str | None:
    """Stays on `json`: fingerprints are stored with batch items, and a job resumed after
    an upgrade must find its finished items under the same ones."""
    try:
        return hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:16]
    except (TypeError, ValueError):
        return None


def _is_json(value: Any) -> bool:
    """The runner's one sense of JSON (`fast_json`), as its checkpoints have it."""
    try:
        fast_json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


async def _run_batch(
    node: BaseNode, items: Any, on_retry: OnRetry, batch: BatchCheckpoint, concurrency: int
) -> list[Any]:
    items = list(items or [])
    results: list[Any] = [None] * len(items)
    fingerprints = [_fingerprint(item) for item in items]
    todo: list[int] = []
    saved = await batch.load()
    for index in range(len(items)):
        entry = saved.get(index)
        if entry is not None and fingerprints[index] and entry.get("fp") == fingerprints[index]:
            results[index] = entry["result"]
        else:
            todo.append(index)
    done = len(items) - len(todo)

    async def run_item(index: int) -> None:
        nonlocal done
        item_node = copy.copy(node)  # its own cur_retry
        running = batch_item.set(index)
        try:
            results[index] = await _run_with_retries(item_node, items[index], on_retry, index)
        finally:
            batch_item.reset(running)
        if fingerprints[index] and _is_json(results[index]):
            await batch.save(index, {"fp": fingerprints[index], "result": results[index]})
        done += 1
        batch.item_done(done, len(items))

    if isinstance(node, AsyncParallelBatchNode):
        limit = asyncio.Semaphore(getattr(node, "max_concurrency", None) or concurrency)

        async def limited(index: int) -> None:
            async with limit:
                await run_item(index)

        try:
            async with asyncio.TaskGroup() as group:
                for index in todo:
                    group.create_task(limited(index))
        except ExceptionGroup as failures:  # report the item's own error, not the group
            raise failures.exceptions[0] from None
    else:
        for index in todo:
            await run_item(index)
    return results
