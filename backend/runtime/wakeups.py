"""Waking waiting followers a slice per event-loop turn.

One event of a job with a thousand followers wakes a thousand tasks, each of which then
writes to its socket (tens of µs each). Woken all at once, asyncio runs every one of them
before anything that became ready meanwhile - the writer thread's next commit, the runner's
next step, another job's events - so those wait out the whole fan-out and then start one of
their own. Woken a slice per turn, other work runs between slices, and followers not yet
woken take the events published meanwhile in the same write (fewer wake-ups and writes, not
fewer events). Waiters are woken in the order they were rung.
"""

from __future__ import annotations

import asyncio
from collections import deque

PER_TURN = 128  # wake-ups per loop turn: several ms of socket writes between other work


class WakeUps:
    def __init__(self, per_turn: int = PER_TURN) -> None:
        self.per_turn = per_turn
        self._budget = per_turn  # wake-ups still allowed before the next turn
        self._queued: deque[asyncio.Future[None]] = deque()
        self._turn: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rung = self._woken = 0  # wake-ups queued and taken off the queue, ever
        self._barriers: deque[tuple[int, asyncio.Future[None]]] = deque()

    def wake(self, waiter: asyncio.Future[None]) -> None:
        """Resolve `waiter` now if this turn's slice has room, else in a later turn."""
        loop = waiter.get_loop()
        if loop is not self._loop:  # (tests run one loop after another)
            self._loop, self._turn, self._budget = loop, None, self.per_turn
            self._queued.clear()
            self._barriers.clear()
            self._rung = self._woken = 0
        if self._budget > 0 and not self._queued:
            self._budget -= 1
            _resolve(waiter)
        else:
            self._queued.append(waiter)
            self._rung += 1
        if self._turn is None:
            self._turn = loop.call_soon(self._next_turn)

    async def after_queued(self) -> None:
        """Until every wake-up queued so far has been handed out: for work that should not
        come between followers and their events, such as ending a finished stream."""
        if self._queued:
            waiter = asyncio.get_running_loop().create_future()
            self._barriers.append((self._rung, waiter))
            await waiter

    def _next_turn(self) -> None:
        # Runs behind the tasks the last slice woke: the next slice queues behind them and
        # behind whatever else became ready meanwhile.
        self._budget = self.per_turn
        while self._queued and self._budget > 0:
            self._budget -= 1
            self._woken += 1
            _resolve(self._queued.popleft())
        while self._barriers and self._barriers[0][0] <= self._woken:
            _resolve(self._barriers.popleft()[1])
        if self._queued:
            assert self._loop is not None
            self._turn = self._loop.call_soon(self._next_turn)
        else:
            self._turn = None

    def __len__(self) -> int:
        """Waiters rung but not woken yet."""
        return len(self._queued)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # its task may have been cancelled (the client went away)
        waiter.set_result(None)
