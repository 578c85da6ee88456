"""Live fan-out across processes over Redis pub/sub (DESIGN §11).

Each process keeps a `LocalBus` for its own followers. `publish()` delivers locally at once
and queues the events for Redis; one publisher task sends them, pipelined, on the channel
`genflow:job:<job_id>`. One pub/sub connection per process subscribes a job's channel
while the job has followers here and hands what other processes publish to them (a
process skips its own messages: its followers had them already).

Redis is only a doorbell, the database stays the truth. Whenever delivery may have missed
something, followers are offered LAGGED and refill from the store: when a channel becomes
live (events published before that went unseen), when the connection breaks, every
`poll_interval` seconds while it is down (so followers poll the database), and once more
after the reconnect. Only `llm.delta` events, which are never stored, are lost meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from backend.events import Event
from backend.ids import instance_id
from backend.runtime.bus import LocalBus, Subscription
from backend.settings import redacted

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "genflow:job:"
BATCH = 256  # queued publishes sent in one pipeline
FAILURES = (RedisError, OSError)


def channel_of(job_id: str) -> str:
    return CHANNEL_PREFIX + job_id


class RedisBus:
    """An `EventBus` shared by every process that uses the same Redis."""

    def __init__(
        self,
        url: str,
        *,
        poll_interval: float = 1.0,
        queue_size: int = 1000,
        outgoing_size: int = 10_000,
        ping_interval: float = 5.0,
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
        connect_timeout: float = 2.0,
        flush_timeout: float = 1.0,
    ) -> None:
        self.url = url
        self.poll_interval = poll_interval
        self.ping_interval = ping_interval
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self.connect_timeout, self.flush_timeout = connect_timeout, flush_timeout
        self.origin = instance_id()  # tells this bus's own messages apart
        # ... by their first bytes (`_messages` starts every message so), unparsed: a
        # worker watching its jobs for a cancel gets back every event it publishes.
        self._own_text = f'{{"origin":{json.dumps(self.origin)},'
        self._own = self._own_text.encode()
        self.local = LocalBus(queue_size, on_followers=self._followers_changed)
        self.dropped = 0  # publishes that never reached Redis
        self._outgoing: asyncio.Queue[list[Event]] = asyncio.Queue(outgoing_size)
        self._wanted: set[str] = set()  # channels of the jobs followed here
        self._sent: set[str] = set()  # channels SUBSCRIBEd on the current connection
        self._live: set[str] = set()  # ...and confirmed by Redis
        self._changed = asyncio.Event()
        self._connected = False
        self._publish_failing = False
        self._drop_reported = False
        self._first_attempt = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._commands: Redis | None = None
        self._subscriber: Redis | None = None
        self._stopped = False

    # -- EventBus -----------------------------------------------------------------------

    def publish(self, events: Iterable[Event]) -> None:
        try:
            events = list(events)
            self.local.publish(events)
            if events and not self._stopped:
                self._outgoing.put_nowait(events)
        except asyncio.QueueFull:
            self._dropped(1, "the outgoing queue is full")
        except Exception:  # never let fan-out break the caller's write path
            log.exception("publishing events failed")

    def subscribe(self, job_id: str) -> Subscription:
        return self.local.subscribe(job_id)

    def close(self) -> None:
        self.local.close()

    def follower_count(self, job_id: str | None = None) -> int:
        return self.local.follower_count(job_id)

    async def start(self) -> None:
        """Start the publisher, the subscriber and the poller; waits at most
        `connect_timeout` for the first connection, never fails (Redis may come later)."""
        if self._tasks or self._stopped:
            return
        self._commands = Redis.from_url(
            self.url,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=5.0,  # a PUBLISH that hangs longer: Redis is in trouble
            socket_keepalive=True,
        )
        # The subscriber's errors must reach us (redis-py would reconnect and resubscribe
        # silently, and followers would never learn they missed events): no retries.
        self._subscriber = Redis.from_url(
            self.url,
            retry=Retry(NoBackoff(), 0, supported_errors=()),
            socket_connect_timeout=self.connect_timeout,
            socket_keepalive=True,
        )
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="redis-bus-publish"),
            asyncio.create_task(self._subscribe_loop(), name="redis-bus-subscribe"),
            asyncio.create_task(self._poll_loop(), name="redis-bus-poll"),
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.connect_timeout + 1):
                await self._first_attempt.wait()

    async def aclose(self) -> None:
        """Send what is still queued (for up to `flush_timeout`), end every follower's
        stream, stop the tasks and close the connections."""
        self._stopped = True
        self.local.close()
        if self._tasks and not self._publish_failing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_timeout):
                    await self._outgoing.join()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._connected = False
        for client in (self._commands, self._subscriber):
            if client is not None:
                with contextlib.suppress(*FAILURES):
                    await client.aclose()
        self._commands = self._subscriber = None

    def status(self) -> dict[str, Any]:
        return {
            "backend": "redis",
            "connected": self._connected and not self._publish_failing,
            "dropped": self.dropped,
        }

    def is_live(self, job_id: str) -> bool:
        """Whether this job's channel is subscribed and confirmed (events from other
        processes reach its followers)."""
        return channel_of(job_id) in self._live

    # -- publishing ---------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        assert self._commands is not None
        backoff = self.min_backoff
        while True:
            batch = [await self._outgoing.get()]
            while len(batch) < BATCH and not self._outgoing.empty():
                batch.append(self._outgoing.get_nowait())
            try:
                async with self._commands.pipeline(transaction=False) as pipe:
                    for channel, payload in self._messages(batch):
                        pipe.publish(channel, payload)
                    await pipe.execute()
            except Exception as exc:
                if not isinstance(exc, FAILURES):
                    log.exception("publishing events to Redis failed")
                self._dropped(len(batch), f"Redis failed: {exc}")
                self._publish_failing = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
            else:
                if self._publish_failing:
                    log.info("publishing events to Redis again")
                self._publish_failing = self._drop_reported = False
                backoff = self.min_backoff
            finally:
                for _ in batch:
                    self._outgoing.task_done()

    def _messages(self, batch: list[list[Event]]) -> list[tuple[str, str]]:
        """One message per job: {"origin": ..., "events": [event JSON, ...]}, in order."""
        by_job: dict[str, list[str]] = {}
        for events in batch:
            for event in events:
                by_job.setdefault(event.job_id, []).append(event.encode_json())
        return [
            (channel_of(job_id), f'{self._own_text}"events":[{",".join(encoded)}]}}')
            for job_id, encoded in by_job.items()
        ]

    def _dropped(self, count: int, why: str) -> None:
        if not self._drop_reported:  # once until publishing works again
            self._drop_reported = True
            log.warning(
                "live events not sent to other processes (%s); their followers refill "
                "from the database",
                why,
            )
        self.dropped += count

    # -- subscribing --------------------------------------------------------------------

    def _followers_changed(self, job_id: str, active: bool) -> None:
        channel = channel_of(job_id)
        if active:
            self._wanted.add(channel)
        else:
            self._wanted.discard(channel)
        self._changed.set()

    async def _subscribe_loop(self) -> None:
        """One pub/sub connection at a time; on failure, followers refill and poll while
        it reconnects with backoff."""
        backoff = self.min_backoff
        reported = False
        while True:
            try:
                await self._session()
                error: Exception = RedisConnectionError("pub/sub session ended")
            except FAILURES as exc:
                error = exc
            except Exception as exc:  # a bug must not end fan-out for good
                log.exception("the Redis subscriber failed")
                error = exc
            was_connected = self._connected
            self._connected = False
            self._sent.clear()
            self._live.clear()
            self._first_attempt.set()
            if was_connected:
                log.warning(
                    "lost Redis pub/sub (%s); followers poll the database until it is back",
                    error,
                )
                self.local.lag()
                backoff, reported = self.min_backoff, False
            elif not reported:
                log.warning("cannot reach Redis at %s (%s); retrying", redacted(self.url), error)
                reported = True
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _session(self) -> None:
        assert self._subscriber is not None
        pubsub = self._subscriber.pubsub()
        try:
            await pubsub.connect()
            self._connected = True
            self._first_attempt.set()
            log.info("subscribed to live events on Redis")
            reader = asyncio.create_task(self._read(pubsub))
            writer = asyncio.create_task(self._control(pubsub))
            try:
                done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reader, writer):
                    task.cancel()
                await asyncio.gather(reader, writer, return_exceptions=True)
            for task in done:
                task.result()  # raises what ended the session
        finally:
            with contextlib.suppress(*FAILURES):
                await pubsub.aclose()

    async def _control(self, pubsub: PubSub) -> None:
        """Keeps the connection's channels equal to the followed jobs' (writes only: the
        replies arrive at `_read`), and pings so a dead connection is noticed."""
        while True:
            self._changed.clear()
            wanted = set(self._wanted)
            new, gone = wanted - self._sent, self._sent - wanted
            if gone:
                self._sent -= gone
                self._live -= gone
                await pubsub.unsubscribe(*gone)
            if new:
                self._sent |= new
                await pubsub.subscribe(*new)
            try:
                async with asyncio.timeout(self.ping_interval):
                    await self._changed.wait()
            except TimeoutError:
                await pubsub.ping()

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(timeout=self.ping_interval * 3)
            if message is None:  # not even the reply to a ping
                raise RedisConnectionError("Redis stopped answering on the pub/sub connection")
            kind = message["type"]
            if kind == "message":
                self._deliver(message["data"])
            elif kind == "subscribe":
                channel = message["channel"].decode()
                if channel in self._sent:
                    self._live.add(channel)
                    # Live from here on; what was published before went unseen.
                    self.local.lag([channel.removeprefix(CHANNEL_PREFIX)])

    def _deliver(self, data: bytes) -> None:
        if data.startswith(self._own):
            return  # our own followers had these from publish()
        try:
            payload = json.loads(data)
            if payload["origin"] == self.origin:
                return  # our own followers had these from publish()
            events = [Event.from_json(raw) for raw in payload["events"]]
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored a malformed message on the event bus: %s", exc)
            return
        self.local.publish(events)

    async def _poll_loop(self) -> None:
        """While the subscriber is down, followers refill from the store periodically."""
        while True:
            await asyncio.sleep(self.poll_interval)
            if not self._connected:
                self.local.lag()
