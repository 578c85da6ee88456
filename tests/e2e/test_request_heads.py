"""A request's head is bounded in time and size, against a real `genflow serve` process:
a client that never finishes its headers is let go, and an endless header is refused,
while everyone else is served."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from backend.http_server import HEAD_BYTES, HEAD_SECONDS
from tests.e2e.server import GenFlowServer, write_script


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GenFlowServer]:
    tmp = tmp_path_factory.mktemp("heads")
    proc = GenFlowServer(data_dir=tmp / "data", script=write_script(tmp / "llm.json", []))
    try:
        yield proc.start()
    finally:
        proc.stop()


def connect(server: GenFlowServer) -> socket.socket:
    """A raw connection whose reads give up well after the server should have acted."""
    return socket.create_connection(("127.0.0.1", server.port), timeout=HEAD_SECONDS + 20)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def healthy(server: GenFlowServer) -> bool:
    return httpx.get(f"{server.base_url}/api/health", timeout=10).status_code == 200


def test_a_client_that_never_finishes_its_headers_is_let_go(server: GenFlowServer) -> None:
    with connect(server) as silent, connect(server) as slow:
        slow.sendall(b"GET /api/health HTTP/1.1\r\nHost: genflow\r\n")  # ... and no more
        assert healthy(server)  # others are served meanwhile
        # closed, with nothing said (a server that kept them would time these reads out)
        assert read_all(silent) == b"" and read_all(slow) == b""


def test_an_endless_header_is_cut_off(server: GenFlowServer) -> None:
    """Past its limit a head gets 431 and the connection closes: a client still sending
    meets a closed connection, not a server buffering all it sends."""
    sent, answer = 0, b""
    with connect(server) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: genflow\r\nX-Filler: ")
        try:
            while sent < 100 * HEAD_BYTES:
                sock.sendall(b"a" * 4096)
                sent += 4096
            answer = read_all(sock)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while this client was still sending
    assert sent < 100 * HEAD_BYTES, "the server read on"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert healthy(server)


def test_a_large_but_reasonable_head_is_served(server: GenFlowServer) -> None:
    cookie = "session=" + "c" * 20_000  # big cookies exist
    response = httpx.get(f"{server.base_url}/api/health", headers={"Cookie": cookie})
    assert response.status_code == 200
