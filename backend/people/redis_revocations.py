"""Revocations between processes over Redis pub/sub, channel `genflow:tokens:revoked`.

A message is `{"revoked": [token id, ...]}`. Each API replica keeps one subscriber
connection; when it (re)connects it forgets every token it had found live, because
messages sent while it was away are lost. The CLI publishes too (`genflow token revoke`,
`genflow user remove`), so a revocation made at a terminal reaches running replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from backend.people.revocations import Missed, Revoked
from backend.settings import redacted

log = logging.getLogger(__name__)

CHANNEL = "genflow:tokens:revoked"
FAILURES = (RedisError, OSError)


class RedisRevocations:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 1.0,
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        self.url = url
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        # Short timeouts, one quick retry: a revocation is stored already; the message
        # only makes it take effect sooner.
        self._commands = Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 1)
        )
        self._listener: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()  # set while subscribed (tests wait for it)

    async def start(self, on_revoked: Revoked, on_missed: Missed) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(
                self._listen(on_revoked, on_missed), name="token-revocations"
            )

    async def publish(self, token_ids: Sequence[str]) -> None:
        if not token_ids:
            return
        try:
            await self._commands.publish(CHANNEL, json.dumps({"revoked": list(token_ids)}))
        except FAILURES as exc:
            log.warning(
                "could not announce %d revoked token(s) over Redis (%s); other replicas "
                "refuse them within GENFLOW_TOKEN_CACHE_SECONDS",
                len(token_ids),
                exc,
            )

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        with contextlib.suppress(*FAILURES):
            await self._commands.aclose()

    async def _listen(self, on_revoked: Revoked, on_missed: Missed) -> None:
        backoff, failing = self.min_backoff, False
        while True:
            # No retries inside redis-py: a broken subscription must end up here, so
            # that the reconnect forgets what may have been missed meanwhile.
            client = Redis.from_url(
                self.url, socket_keepalive=True, retry=Retry(NoBackoff(), 0, supported_errors=())
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                on_missed()
                self.connected.set()
                if failing:
                    log.info("hearing of revoked tokens over Redis again")
                backoff, failing = self.min_backoff, False
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        on_revoked(_token_ids(message.get("data")))
            except FAILURES as exc:
                self.connected.clear()
                if not failing:
                    log.warning(
                        "not hearing of revoked tokens from %s (%s): tokens are checked "
                        "against the database every GENFLOW_TOKEN_CACHE_SECONDS meanwhile",
                        redacted(self.url),
                        exc,
                    )
                    failing = True
            finally:
                with contextlib.suppress(*FAILURES):
                    await pubsub.aclose()
                with contextlib.suppress(*FAILURES):
                    await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)


def _token_ids(data: object) -> list[str]:
    """The ids in a message; [] for anything malformed (never an exception)."""
    try:
        ids = json.loads(data)["revoked"]  # type: ignore[arg-type]
    except (TypeError, ValueError, KeyError):
        return []
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
