"""An adaptive, fair limit on the calls in flight to one provider (a model, an image API).

Jobs are cheap waiting work; the provider is what runs out. So the calls to it, not the
jobs, are what is bounded: at most `limit` calls are in flight, and the rest wait in
FIFO order (first to ask, first to go), so a burst of jobs queues fairly behind it.

The limit adapts like TCP's congestion window (AIMD). When the provider says "too many"
(an HTTP 429, reported with `throttled`, e.g. by an HTTP client hook through
`report_throttled`), the limit becomes half the calls then in flight - once per round of
calls, not once per 429 of the same round - and no new call starts until its
`Retry-After` has passed. Every call started since that succeeds adds 1/limit, so the
limit grows by about one per round of successful calls, up to the configured ceiling.

The clock and the sleep are injectable, so tests can drive time without waiting.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from email.utils import mktime_tz, parsedate_tz

DEFAULT_HOLD_OFF = 1.0  # seconds without new calls after a 429 that names no Retry-After
MAX_HOLD_OFF = 120.0  # a longer Retry-After is not waited for in full (the SDK's bound too)

# The limit, and the round it started in, of the call in progress in this context.
_current: contextvars.ContextVar[tuple[CallLimit, int] | None] = contextvars.ContextVar(
    "genflow_call_limit", default=None
)


class CallLimit:
    """At most `limit` calls at once (None: no fixed ceiling), FIFO, adaptive to 429s."""

    def __init__(
        self,
        limit: int | None,
        *,
        name: str = "provider",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self.ceiling = limit if limit and limit > 0 else None
        self._limit = float(self.ceiling) if self.ceiling else math.inf
        self._clock = clock
        self._sleep = sleep
        self._waiters: deque[asyncio.Future[int]] = deque()
        self._in_flight = 0
        self._round = 0  # bumped by every decrease: a call knows the round it started in
        self._resume_at = 0.0  # no call starts before this (a Retry-After)
        self._timer: asyncio.Task[None] | None = None
        self.throttles = 0  # 429s reported, for /metrics and tests

    @property
    def limit(self) -> int | None:
        """The calls allowed in flight now (None: no ceiling and never throttled)."""
        return None if math.isinf(self._limit) else max(1, int(self._limit))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the calls in flight; a call that returns normally counts as a success."""
        started_in = await self._acquire()
        token = _current.set((self, started_in))
        ok = False
        try:
            yield
            ok = True
        finally:
            _current.reset(token)
            self._release(success=ok and started_in == self._round)

    def throttled(self, retry_after: float | None = None, *, started_in: int | None = None) -> None:
        """The provider refused a call as too many: halve the limit (once per round) and
        start no call until `retry_after` seconds have passed."""
        self.throttles += 1
        now = self._clock()
        hold = DEFAULT_HOLD_OFF if retry_after is None else min(max(retry_after, 0.0), MAX_HOLD_OFF)
        self._resume_at = max(self._resume_at, now + hold)
        if started_in is None or started_in == self._round:
            # Half of what was in flight (TCP's FlightSize / 2): a ceiling of 1,000 with
            # 40 calls out that drew a 429 says the provider takes fewer than 40.
            self._limit = max(1.0, min(self._limit, self._in_flight) / 2)
            self._round += 1

    # -- internals ----------------------------------------------------------------------

    def _may_start(self) -> bool:
        return self._in_flight < self._allowed() and self._clock() >= self._resume_at

    def _allowed(self) -> float:
        return self._limit if math.isinf(self._limit) else max(1, int(self._limit))

    async def _acquire(self) -> int:
        if not self._waiters and self._may_start():
            self._in_flight += 1
            return self._round
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._schedule()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(success=False)  # granted just as it was cancelled
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _release(self, *, success: bool) -> None:
        self._in_flight -= 1
        if success and not math.isinf(self._limit):
            grown = self._limit + 1 / self._limit
            self._limit = min(float(self.ceiling), grown) if self.ceiling else grown
        self._wake()

    def _wake(self) -> None:
        """Start the waiters at the head of the line while there is room; if a Retry-After
        holds them, come back when it has passed."""
        while self._waiters and self._in_flight < self._allowed():
            if self._clock() < self._resume_at:
                self._schedule()
                return
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(self._round)

    def _schedule(self) -> None:
        """One timer at a time wakes the line when a hold-off ends."""
        delay = self._resume_at - self._clock()
        if delay <= 0 or (self._timer is not None and not self._timer.done()):
            return
        self._timer = asyncio.get_running_loop().create_task(self._after(delay))

    async def _after(self, delay: float) -> None:
        await self._sleep(delay)
        self._timer = None
        if self._clock() < self._resume_at:
            self._schedule()  # a later 429 moved the hold-off on
        else:
            self._wake()


def report_throttled(retry_after: float | None = None) -> None:
    """Tell the limit of the call in progress (if any) that its provider answered 429.

    For code below a backend's `generate` that sees every response (an HTTP client hook),
    including the ones its SDK retries by itself."""
    current = _current.get()
    if current is not None:
        limit, started_in = current
        limit.throttled(retry_after, started_in=started_in)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms`, or `Retry-After` (seconds or an HTTP date); None."""
    for header, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            return max(float(value) / divisor, 0.0)
        except ValueError:
            pass
    date = headers.get("retry-after")
    parsed = parsedate_tz(date) if date else None
    return max(mktime_tz(parsed) - time.time(), 0.0) if parsed else None
