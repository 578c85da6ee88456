"""Identifiers that sort by creation time, so "newest first" is "largest id first"."""

from __future__ import annotations

import os
import secrets
import socket
import time


def new_id(prefix: str) -> str:
    return f"{prefix}_{time.time_ns() // 1000:014x}{secrets.token_hex(5)}"


def instance_id() -> str:
    """Names one running thing (a runner in job leases, a bus on Redis) for operators and
    for telling its own messages apart: `host:pid:random`."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
