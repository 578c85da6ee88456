"""Is this token id live? The store's answer, kept for a few seconds per replica.

Every authenticated request asks, so the answer is cached: `live` (and `unknown`) for
`seconds` (GENFLOW_TOKEN_CACHE_SECONDS, default 2), `revoked` and `expired` for good
(they never change back). Concurrent requests with the same token share one lookup.
`revoked()` marks ids dead at once: on the replica that revoked them, and on the others
when they hear of it (Redis, `redis_revocations.py`). A replica that heard nothing still
asks the store again within `seconds`: that is the bound on how long a revoked token can
keep working anywhere, whatever happens to Redis.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable

from backend.domain import utcnow
from backend.people.model import EXPIRED, LIVE, REVOKED, UNKNOWN, TokenRecord

FINAL = frozenset({REVOKED, EXPIRED})
MAX_ENTRIES = 100_000  # one entry per token seen (only validly signed ones get here)

Lookup = Callable[[str], Awaitable[TokenRecord | None]]


class LiveTokens:
    def __init__(
        self,
        lookup: Lookup,
        *,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.lookup = lookup
        self.seconds = seconds
        self.clock = clock
        self.max_entries = max_entries
        self.lookups = 0  # store reads made (for tests and benchmarks)
        self._entries: dict[str, tuple[str, float]] = {}  # id -> (state, trusted until)
        self._pending: dict[str, asyncio.Future[str]] = {}

    async def state(self, token_id: str) -> str:
        """LIVE, REVOKED, EXPIRED or UNKNOWN (never issued, or pruned long ago)."""
        entry = self._entries.get(token_id)
        if entry is not None and entry[1] > self.clock():
            return entry[0]
        pending = self._pending.get(token_id)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(token_id))
            self._pending[token_id] = pending
            pending.add_done_callback(lambda done: self._settled(token_id, done))
        return await asyncio.shield(pending)

    def revoked(self, token_ids: Iterable[str]) -> None:
        """These ids are dead from now on (a lookup in flight cannot bring them back)."""
        for token_id in token_ids:
            self._remember(token_id, REVOKED)

    def forget_live(self) -> None:
        """Ask the store again about every id: revocations may have gone unheard (the
        Redis connection was down)."""
        self._entries = {k: v for k, v in self._entries.items() if v[0] in FINAL}

    async def _look_up(self, token_id: str) -> str:
        self.lookups += 1
        record = await self.lookup(token_id)
        state = UNKNOWN if record is None else record.state(utcnow())
        known = self._entries.get(token_id)
        if known is not None and known[0] == REVOKED:  # heard of meanwhile
            return REVOKED
        self._remember(token_id, state)
        return state

    def _remember(self, token_id: str, state: str) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # the store still knows; this only costs lookups
        until = math.inf if state in FINAL else self.clock() + self.seconds
        self._entries[token_id] = (state, until)

    def _settled(self, token_id: str, done: asyncio.Future[str]) -> None:
        if self._pending.get(token_id) is done:
            del self._pending[token_id]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter got it already


__all__ = ["EXPIRED", "LIVE", "REVOKED", "UNKNOWN", "LiveTokens"]
