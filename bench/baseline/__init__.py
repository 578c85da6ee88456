"""The baseline: a minimal reimplementation of the seed design GenFlow replaced.

As in PocketFlow's FastAPI background-job and human-in-the-loop cookbooks: jobs live in
a dict, each job has one asyncio.Queue that its (single) SSE reader drains, the article
flow is synchronous (`Node`, a sequential `BatchNode` for the sections, a blocking model
call) and runs in a pool of 40 threads (what Starlette's BackgroundTasks allowed), a
review waits in memory on an asyncio.Event, and nothing is stored. It is served by the
same stack as GenFlow (Quart + Hypercorn); its model is the same fixed-latency fake
(a blocking sleep in the worker thread, an awaited one in the review flow).
"""

DESIGN = (
    "seed design: jobs in a dict, one asyncio.Queue per job (one SSE reader), synchronous "
    "flow with a sequential BatchNode in a 40-thread pool, reviews wait in memory on an "
    "asyncio.Event, nothing stored; Quart + Hypercorn"
)
