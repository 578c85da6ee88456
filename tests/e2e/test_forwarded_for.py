"""Who a login comes from, against a real `genflow serve` process (its HTTP server's
proxy handling included): X-Forwarded-For counts only from GENFLOW_FORWARDED_ALLOW_IPS.

A server that believed any local peer's X-Forwarded-For would let one client give each
password guess another address, and escape the per-address login limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import GenFlowServer, write_script

LIMIT = {"GENFLOW_LOGIN_ADDRESS_BURST": "2", "GENFLOW_LOGIN_ADDRESS_PER_MINUTE": "1"}


def failed_logins_from_three_addresses(server: GenFlowServer) -> list[int]:
    """Three wrong passwords for three names, each saying it comes from elsewhere."""
    statuses = []
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for n in range(3):
            body = {"username": f"nobody{n}", "password": "wrong password"}
            headers = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
            statuses.append(http.post("/api/auth/login", json=body, headers=headers).status_code)
    return statuses


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., GenFlowServer]]:
    started: list[GenFlowServer] = []

    def start(**env: str) -> GenFlowServer:
        script = write_script(tmp_path / "llm.json", [])
        server = GenFlowServer(data_dir=tmp_path / "data", script=script, extra_env=env)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def test_an_untrusted_peer_cannot_name_another_address(
    serve: Callable[..., GenFlowServer],
) -> None:
    server = serve(GENFLOW_FORWARDED_ALLOW_IPS="10.9.9.9", **LIMIT)  # not this machine
    assert failed_logins_from_three_addresses(server) == [401, 401, 429]


def test_a_trusted_proxy_names_each_client(serve: Callable[..., GenFlowServer]) -> None:
    server = serve(**LIMIT)  # by default this machine (the web chat) is trusted
    assert failed_logins_from_three_addresses(server) == [401, 401, 401]
