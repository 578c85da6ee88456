"""The benchmark chain as a LangGraph `StateGraph` with the SQLite checkpointer.

Same node work as `bench.chain` (`step_work`). Checkpoints go to `AsyncSqliteSaver`
(aiosqlite, WAL) with `synchronous=NORMAL`, the setting GenFlow's store uses, and the
graph runs with `durability="sync"`: each step's checkpoint is written before the next
step starts, the guarantee GenFlow gives.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph

from bench.chain import step_work


class ChainState(TypedDict):
    topic: str
    outputs: Annotated[list[str], operator.add]


def _node(index: int) -> Callable[[ChainState], Awaitable[dict[str, Any]]]:
    async def run(state: ChainState) -> dict[str, Any]:
        return {"outputs": [await step_work(index, state["topic"])]}

    return run


@contextlib.asynccontextmanager
async def langgraph_chain(nodes: int, db: Path) -> AsyncIterator[Any]:
    """A compiled chain of `nodes` steps checkpointing into the SQLite file `db`."""
    async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
        await saver.setup()
        await saver.conn.execute("PRAGMA synchronous=NORMAL")
        builder = StateGraph(ChainState)
        names = [f"step{i}" for i in range(nodes)]
        for index, name in enumerate(names):
            builder.add_node(name, _node(index))
        builder.add_edge(START, names[0])
        for first, second in itertools.pairwise(names):
            builder.add_edge(first, second)
        builder.add_edge(names[-1], END)
        yield builder.compile(checkpointer=saver)
