"""The garbage collector, set for a long-running server process.

A burst of 1,000 article jobs keeps a few hundred thousand objects alive at once (tasks,
streams, connections). With CPython's default first threshold (700 allocations) the
cyclic collector ran about 1,800 times in such a burst, and each of its full collections
walked every live object - the imported libraries' included - for about 0.3 s: a third
of the event loop's time went to it (docs/performance.md). Two standard remedies:

- a higher first threshold, so short-lived objects (a request's, an event's) mostly die
  before a collection looks at them, and far fewer survivors reach the older generations;
- `gc.freeze()` once the server has started: what start-up built (modules, the app, the
  flows) is never garbage, so no later full collection walks it again.

Cycles are still collected; only later. Only the `serve`, `up` and `worker` processes
call this: tests and the CLI keep Python's defaults.
"""

from __future__ import annotations

import gc


def raise_threshold(first: int) -> None:
    """Collect the youngest generation every `first` net allocations (0: Python's own
    threshold, unchanged); the older generations keep their ratios."""
    if first > 0:
        _, second, third = gc.get_threshold()
        gc.set_threshold(first, second, third)


def freeze_startup() -> None:
    """After start-up: collect what start-up left over, then keep every object alive now
    out of all later collections."""
    gc.collect()
    gc.freeze()
