"""Client-side helpers shared by the HTTP benchmarks: sessions, job creation, waiting."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp


def session(token: str | None = None, *, timeout: float = 600.0) -> aiohttp.ClientSession:
    """One session for thousands of connections (no pool limit; long SSE reads)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return aiohttp.ClientSession(
        headers=headers,
        connector=aiohttp.TCPConnector(limit=0, force_close=False),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=timeout),
    )


async def post_json(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Any:
    async with http.post(url, json=body) as response:
        if response.status >= 300:
            raise RuntimeError(f"POST {url}: {response.status} {await response.text()}")
        return await response.json()


async def get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        if response.status >= 300:
            raise RuntimeError(f"GET {url}: {response.status} {await response.text()}")
        return await response.json()


async def wait_until(check: Any, *, within: float, every: float = 0.1, what: str = "") -> float:
    """Await `check()` until it is true; return the seconds it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise TimeoutError(f"not done within {within} s: {what}")
        await asyncio.sleep(every)
    return time.monotonic() - started
