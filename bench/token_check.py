"""`python -m bench.token_check [--postgres URL]`: what the revocation check costs a request.

Every authenticated request checks that its token's id is recorded and not revoked
(backend/people/live.py): a store read, cached per replica for GENFLOW_TOKEN_CACHE_SECONDS.
This measures, on SQLite (and PostgreSQL with --postgres, a server URL: a database is
created and dropped):

- the check alone: a cached answer, and a store read (the cache's miss);
- whole requests (`GET /api/auth/me` through Quart's test client, so no network): with the
  cache (2 s, the default) and without it (0 s: every request reads the store).

Prints a table and writes bench/results/token_check.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from backend.people.model import CLI
from backend.store.sqlalchemy import SQLStore
from bench.report import RESULTS, machine, table
from tests.harness import running_app

CHECKS = 20_000  # cached answers timed
READS = 2_000  # store reads timed
REQUESTS = 2_000  # requests timed per configuration


async def check_costs(store: SQLStore) -> dict[str, float]:
    """Microseconds per signature check (HS256, what a request paid before), per cached
    answer and per store read (median of 5 rounds)."""
    from backend.auth import verify_token
    from backend.people.live import LiveTokens
    from backend.people.revocations import LocalRevocations
    from backend.people.tokens import TokenService

    tokens = TokenService(store, LocalRevocations(), cache_seconds=3600, secret="x" * 40)
    token, record = await tokens.issue("bench", admin=False, ttl=timedelta(hours=1), kind=CLI)
    verified, cached, reads = [], [], []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(CHECKS):
            verify_token(tokens.secret, token)
        verified.append((time.perf_counter() - start) / CHECKS * 1e6)
        live = LiveTokens(store.get_token, seconds=3600)
        await live.state(record.id)
        start = time.perf_counter()
        for _ in range(CHECKS):
            await live.state(record.id)
        cached.append((time.perf_counter() - start) / CHECKS * 1e6)
        cold = LiveTokens(store.get_token, seconds=0)
        start = time.perf_counter()
        for _ in range(READS):
            await cold.state(record.id)
        reads.append((time.perf_counter() - start) / READS * 1e6)
    return {
        "signature_us": statistics.median(verified),
        "cached_us": statistics.median(cached),
        "store_read_us": statistics.median(reads),
    }


async def request_costs(data_dir: Path, database_url: str | None) -> dict[str, float]:
    """Microseconds per `GET /api/auth/me`, with the cache and without it."""
    out = {}
    for name, seconds in (("cached", 2.0), ("uncached", 0.0)):
        overrides: dict[str, Any] = {"token_cache_seconds": seconds}
        if database_url:
            overrides["database_url"] = database_url
        async with running_app(data_dir / name, **overrides) as h:
            headers = h.headers("bench")
            rounds = []
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(REQUESTS):
                    response = await h.client.get("/api/auth/me", headers=headers)
                    assert response.status_code == 200
                rounds.append((time.perf_counter() - start) / REQUESTS * 1e6)
            out[f"request_{name}_us"] = statistics.median(rounds)
    return out


async def measure(label: str, url: str, data_dir: Path) -> dict[str, Any]:
    store = SQLStore(url)
    await store.initialize()
    try:
        result: dict[str, Any] = {"database": label, **await check_costs(store)}
    finally:
        await store.close()
    result |= await request_costs(data_dir, None if label == "sqlite" else url)
    return result


@contextlib.asynccontextmanager
async def postgres_database(server_url: str) -> AsyncIterator[str]:
    import psycopg

    from backend.store.migrate import conninfo
    from tests.services import with_database

    name = f"genflow_bench_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(conninfo(server_url), autocommit=True) as c:
        await c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        async with await psycopg.AsyncConnection.connect(
            conninfo(server_url), autocommit=True
        ) as c:
            await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main(postgres: str | None) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results.append(await measure("sqlite", f"sqlite+aiosqlite:///{root / 'b.db'}", root))
        if postgres:
            async with postgres_database(postgres) as url:
                results.append(await measure("postgresql", url, root / "pg"))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="a PostgreSQL server URL (postgresql+psycopg://…)")
    args = parser.parse_args()
    rows = asyncio.run(main(args.postgres))
    print(
        table(
            "Token check per request (microseconds)",
            ["database", "signature", "cached check", "store read", "request, cached",
             "request, no cache"],
            [
                [r["database"], r["signature_us"], r["cached_us"], r["store_read_us"],
                 r["request_cached_us"], r["request_uncached_us"]]
                for r in rows
            ],
        )
    )  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": machine(), "results": rows}
    (RESULTS / "token_check.json").write_text(json.dumps(out, indent=2) + "\n")
