"""Real PostgreSQL and Redis for the tests, as `scripts/services` starts them.

`scripts/test` exports GENFLOW_TEST_POSTGRES_URL and GENFLOW_TEST_REDIS_URL. Without
them the tests that need a service are skipped, unless GENFLOW_TEST_REQUIRE_SERVICES=1
(CI sets it), which turns a missing service into a failure instead of a silent skip.
Every test gets a database of its own (created from the server URL, dropped after), and
Redis database keys are flushed between tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from backend.store.migrate import conninfo
from backend.store.sqlalchemy import SQLStore

POSTGRES_ENV = "GENFLOW_TEST_POSTGRES_URL"
REDIS_ENV = "GENFLOW_TEST_REDIS_URL"


def _required() -> bool:
    return os.environ.get("GENFLOW_TEST_REQUIRE_SERVICES") == "1"


def service_url(variable: str) -> str:
    url = os.environ.get(variable)
    if not url:
        message = f"{variable} is not set (./scripts/test starts PostgreSQL and Redis)"
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    return url


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty PostgreSQL database (dropped afterwards)."""
    import psycopg

    server = service_url(POSTGRES_ENV)
    name = f"genflow_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server, name)
    finally:
        _drop(server, name)


@pytest.fixture
async def pg_store(postgres_url: str) -> AsyncIterator[SQLStore]:
    """A store on that fresh database, migrated."""
    store = SQLStore(postgres_url)
    await store.initialize()
    yield store
    await store.close()


def _drop(server: str, name: str, attempts: int = 50) -> None:
    """Drop a test database. FORCE ends the test's own connections, but not an autovacuum
    worker that happens to be in it (a superuser's process): that one finishes within
    moments, so the drop is tried again until it is gone."""
    import psycopg

    for attempt in range(attempts):
        try:
            with psycopg.connect(conninfo(server), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)  # cleanup after the test, not part of what it checks


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The Redis URL, with its database emptied before and after the test."""
    import redis

    url = service_url(REDIS_ENV)
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if _required():
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    return binary


class PrivateRedis:
    """A redis-server of the test's own, to kill clients of, stop and start again on the
    same port, without disturbing anything else using the shared one."""

    def __init__(self, binary: str) -> None:
        from tests.e2e.server import free_port

        self.binary = binary
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, within: float = 10.0) -> None:
        import redis

        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - starting it takes no time
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = asyncio.get_running_loop().time() + within
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"redis-server on {self.port} did not start")
                await asyncio.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(redis_server_binary())
    await server.start()
    try:
        yield server
    finally:
        server.stop()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (Debian's pg_createcluster), to restart
    mid-run without disturbing anything else using the shared one. Needs root."""

    def __init__(self) -> None:
        from tests.e2e.server import free_port

        versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: int(v.split(".")[0]))
        self.version = versions[-1]
        self.name = f"gftest{uuid.uuid4().hex[:8]}"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://genflow:genflow@127.0.0.1:{self.port}/genflow"

    def _run(self, *command: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")

    def create(self) -> None:
        self._run("pg_createcluster", self.version, self.name, "-p", str(self.port), "--start")
        for sql in (
            "CREATE ROLE genflow LOGIN PASSWORD 'genflow'",
            "CREATE DATABASE genflow OWNER genflow",
        ):
            self._run("runuser", "-u", "postgres", "--", "psql", "-p", str(self.port), "-c", sql)

    def restart(self) -> None:
        """Fast mode: sessions are cut, as in a crash or a failover (smart mode would
        wait for pooled connections that never leave)."""
        self._run("pg_ctlcluster", "--mode", "fast", self.version, self.name, "restart")

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name], capture_output=True, timeout=120
        )


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if shutil.which("pg_createcluster") is None or os.geteuid() != 0:
        message = "a private PostgreSQL cluster needs Debian's pg_createcluster, as root"
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    server = PrivatePostgres()
    server.create()
    try:
        yield server
    finally:
        server.drop()
