"""How a revocation reaches the other processes: not at all in one process, over Redis
pub/sub with several (`redis_revocations.py`).

Telling is only a shortcut. The store is the truth, and every replica asks it again
within GENFLOW_TOKEN_CACHE_SECONDS (`live.py`), so a lost message delays a revocation
by at most that long and never loses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

Revoked = Callable[[list[str]], None]  # token ids revoked elsewhere
Missed = Callable[[], None]  # messages may have been missed (a reconnect)


class Revocations(Protocol):
    async def start(self, on_revoked: Revoked, on_missed: Missed) -> None:
        """Listen for other processes' revocations (inside the serving event loop)."""
        ...

    async def publish(self, token_ids: Sequence[str]) -> None:
        """Tell the other processes; never raises (they will ask the store anyway)."""
        ...

    async def aclose(self) -> None: ...


class LocalRevocations:
    """One process: the revoking process is the only one that checks tokens."""

    async def start(self, on_revoked: Revoked, on_missed: Missed) -> None:
        """Nobody else to hear from."""

    async def publish(self, token_ids: Sequence[str]) -> None:
        """Nobody else to tell."""

    async def aclose(self) -> None:
        """Nothing to release."""
