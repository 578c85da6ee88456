"""The guarded HTTP client against real listeners on loopback: every refused destination
leaves the listener untouched (not one connection), and what is allowed behaves like HTTP
should (JSON, bodies, caps, timeouts, redirects, credentials kept to their host)."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from flows.pilot import guarded_http
from flows.pilot.guarded_http import (
    HTTPAnswer,
    HTTPFailed,
    NetworkPolicy,
    Refused,
    address_refusal,
    policy,
    request,
)

STRICT = NetworkPolicy()
OPEN = NetworkPolicy(allow_private=True)
REASONS = {200: "OK", 301: "Moved", 302: "Found", 303: "See Other", 307: "Temporary"}


# --- a loopback listener that records everything ------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Listener:
    """A tiny HTTP/1.1 server; `redirects` maps a path to (status, Location)."""

    host: str = "127.0.0.1"
    tls: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self) -> Listener:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    @property
    def untouched(self) -> bool:
        return self.connections == 0 and not self.requests

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            line, *lines = head.split("\r\n")
            method, path, _ = line.split(" ", 2)
            headers = {}
            for header in filter(None, lines):
                name, _, value = header.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            seen = Seen(method, path, headers, body)
            self.requests.append(seen)
            await self._answer(seen, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _answer(self, seen: Seen, writer: asyncio.StreamWriter) -> None:
        path = seen.path
        if path in self.redirects:
            status, location = self.redirects[path]
            return await respond(writer, status, headers={"Location": location})
        if path.startswith("/hops/"):  # /hops/N redirects N times on this host
            left = int(path.rsplit("/", 1)[1])
            if left:
                headers = {"Location": f"/hops/{left - 1}", "Set-Cookie": "session=secret"}
                return await respond(writer, 302, headers=headers)
            return await respond(writer, 200, b"done", {"Content-Type": "text/plain"})
        if path == "/json":
            body = json.dumps({"ok": True, "n": 1}).encode()
            return await respond(writer, 200, body, {"Content-Type": "application/json"})
        if path == "/text":
            return await respond(writer, 200, b"hello", {"Content-Type": "text/plain"})
        if path == "/echo":
            echoed = {
                "method": seen.method,
                "content_type": seen.headers.get("content-type"),
                "body": seen.body.decode(),
            }
            return await respond(writer, 200, json.dumps(echoed).encode())
        if path.startswith("/bytes/"):  # /bytes/N: N bytes with a Content-Length
            return await respond(writer, 200, b"x" * int(path.rsplit("/", 1)[1]))
        if path == "/stream-big":  # no Content-Length: the cap must cut the stream itself
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            for _ in range(10):
                writer.write(b"y" * 500)
                await writer.drain()
            return None
        if path == "/stall":  # never answers
            await asyncio.Event().wait()
        if path == "/stall-body":  # answers the head, then never finishes the body
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
            await writer.drain()
            await asyncio.Event().wait()
        return await respond(writer, 404, b"no such path")


async def respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()


Start = Callable[..., Awaitable[Listener]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    made: list[Listener] = []

    async def make(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Listener:
        listener = await Listener(host=host, tls=tls).start()
        made.append(listener)
        return listener

    yield make
    for listener in made:
        await listener.close()


@pytest.fixture
async def listener(start: Start) -> Listener:
    return await start()


@pytest.fixture
async def listener6(start: Start) -> Listener | None:
    """A listener on ::1 where the machine has IPv6 loopback, else None."""
    try:
        return await start("::1")
    except OSError:
        return None


@dataclass
class FakeDNS:
    """Names the test makes resolve anywhere; every lookup is recorded."""

    names: dict[str, list[str]]
    lookups: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host in self.names:
            return self.names[host]
        return await REAL_RESOLVE(host, port)


REAL_RESOLVE = guarded_http.resolve
REAL_REFUSAL = guarded_http.refusal


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDNS]:
    fake = FakeDNS(
        {
            "loopback.example": ["127.0.0.1"],
            "pinned.example": ["127.0.0.1"],
            "public.example": ["127.0.0.1"],
            "mixed.example": ["93.184.216.34", "127.0.0.1"],
            "v6first.example": ["::1", "127.0.0.1"],
        }
    )
    monkeypatch.setattr(guarded_http, "resolve", fake)
    yield fake


async def call(method: str, url: str, net: NetworkPolicy = STRICT, **kwargs: Any) -> HTTPAnswer:
    with policy.use(net):
        return await request(method, url, **kwargs)


# --- refusals: nothing reaches the listener -----------------------------------------


REFUSED = [
    ("{v4}", "loopback"),
    ("{v6}", "loopback"),
    ("http://[::ffff:127.0.0.1]:{port}/", "loopback"),
    ("http://localhost:{port}/", "loopback"),
    ("http://loopback.example:{port}/", "loopback.example resolves to 127.0.0.1"),
    ("http://mixed.example:{port}/", "resolves to 127.0.0.1"),  # one bad answer is enough
    ("http://2130706433:{port}/", "loopback"),  # 127.0.0.1 as one decimal number
    ("http://127.1:{port}/", "loopback"),
    ("http://0.0.0.0:{port}/", "unspecified"),  # Linux connects 0.0.0.0 to itself
    ("http://[::]:{port}/", "unspecified"),
    ("http://[64:ff9b::7f00:1]:{port}/", "loopback"),  # NAT64 of 127.0.0.1
    ("http://[2002:7f00:1::]:{port}/", "loopback"),  # 6to4 of 127.0.0.1
    ("http://10.0.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://100.64.0.1/", "shared"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://169.254.169.254/latest/meta-data", "metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data", "metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("ftp://127.0.0.1:{port}/", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://127.0.0.1:{port}/", "only http and https"),
    ("http://public.example@127.0.0.1:{port}/", "user name or password"),
    ("http:///no-host", "no host"),
]


@pytest.mark.parametrize(("template", "why"), REFUSED)
async def test_refused_destinations_receive_nothing(
    template: str, why: str, listener: Listener, listener6: Listener | None, dns: FakeDNS
) -> None:
    url = template.format(
        port=listener.port,
        v4=listener.url(),
        v6=listener6.url() if listener6 else "http://[::1]:9/",
    )
    with pytest.raises(Refused, match=why):
        await call("GET", url)
    assert listener.untouched
    assert listener6 is None or listener6.untouched


async def test_refusal_says_how_to_allow_private_networks(listener: Listener) -> None:
    with pytest.raises(Refused) as refused:
        await call("POST", listener.url("/echo"), body={"a": 1})
    assert "127.0.0.1" in str(refused.value)
    assert "GENFLOW_ALLOW_PRIVATE_NETWORKS=1" in str(refused.value)
    assert listener.untouched


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://169.254.170.2/v2/credentials",
        "http://100.100.100.200/latest/meta-data",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./",
    ],
)
async def test_metadata_is_refused_even_with_private_networks_allowed(
    url: str, dns: FakeDNS
) -> None:
    with pytest.raises(Refused, match="even when private networks are allowed"):
        await call("GET", url, OPEN)
    assert dns.lookups == []  # refused by name before any DNS query


async def test_userinfo_is_refused_even_with_private_networks_allowed(
    listener: Listener,
) -> None:
    with pytest.raises(Refused, match="Authorization header") as refused:
        await call("GET", f"http://user:s3cret@127.0.0.1:{listener.port}/json", OPEN)
    assert "s3cret" not in str(refused.value)
    assert listener.untouched


REDIRECT_TARGETS = [
    (302, "{second}"),
    (301, "http://localhost:{port2}/"),
    (307, "http://[::ffff:127.0.0.1]:{port2}/"),
    (308, "//127.0.0.1:{port2}/"),
    (303, "http://169.254.169.254/latest/meta-data"),
    (302, "ftp://127.0.0.1:{port2}/"),
]


@pytest.mark.parametrize(("status", "location"), REDIRECT_TARGETS)
async def test_redirect_to_loopback_is_refused(
    status: int,
    location: str,
    start: Start,
    dns: FakeDNS,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first hop stands for a public server: `public.example` resolves (and is pinned)
    # to the first listener, and only that name is waved through the address check. The
    # redirect it answers is judged by the real rules, so the second listener must never
    # see a connection.
    first, second = await start(), await start()
    first.redirects["/"] = (status, location.format(second=second.url(), port2=second.port))

    def refusal(host: str, addresses: list[str], net: NetworkPolicy) -> str | None:
        return None if host == "public.example" else REAL_REFUSAL(host, addresses, net)

    monkeypatch.setattr(guarded_http, "refusal", refusal)
    with pytest.raises(Refused, match="redirected"):
        await call("GET", f"http://public.example:{first.port}/")
    assert [r.headers["host"] for r in first.requests] == [f"public.example:{first.port}"]
    assert second.untouched


# --- what is allowed works ----------------------------------------------------------


async def test_get_json_and_text(listener: Listener) -> None:
    answer = await call("GET", listener.url("/json"), OPEN)
    assert (answer.status, answer.json) == (200, {"ok": True, "n": 1})
    assert json.loads(answer.text) == {"ok": True, "n": 1}
    assert answer.headers["content-type"] == "application/json"
    assert answer.url == listener.url("/json")
    text = await call("GET", listener.url("/text"), OPEN)
    assert (text.status, text.text, text.json) == (200, "hello", None)
    missing = await call("GET", listener.url("/nowhere"), OPEN)
    assert missing.status == 404  # an HTTP error status is an answer, not a failure


async def test_post_sends_json_and_text_bodies(listener: Listener) -> None:
    answer = await call("post", listener.url("/echo"), OPEN, body={"q": "café", "n": [1, 2]})
    assert answer.json == {
        "method": "POST",
        "content_type": "application/json",
        "body": json.dumps({"q": "café", "n": [1, 2]}, ensure_ascii=False),
    }
    text = await call("PUT", listener.url("/echo"), OPEN, body="plain words")
    assert text.json == {
        "method": "PUT",
        "content_type": "text/plain; charset=utf-8",
        "body": "plain words",
    }
    custom = await call(
        "POST",
        listener.url("/echo"),
        OPEN,
        body="<a/>",
        headers={"Content-Type": "application/xml", "Host": "evil.example"},
    )
    assert custom.json["content_type"] == "application/xml"
    assert listener.requests[-1].headers["host"] == f"127.0.0.1:{listener.port}"


async def test_host_is_resolved_once_and_the_connection_pinned(
    listener: Listener, dns: FakeDNS
) -> None:
    answer = await call("GET", f"http://pinned.example:{listener.port}/json", OPEN)
    assert answer.json == {"ok": True, "n": 1}
    assert dns.lookups == ["pinned.example"]
    # Connected to the checked address, while the request still names its host.
    assert listener.requests[0].headers["host"] == f"pinned.example:{listener.port}"
    assert answer.url == f"http://pinned.example:{listener.port}/json"


async def test_next_checked_address_is_tried_when_connecting_fails(
    listener: Listener, dns: FakeDNS
) -> None:
    # ::1 has no listener on this port (or no IPv6 at all): the connection falls back to
    # the next address from the same, single lookup.
    answer = await call("GET", f"http://v6first.example:{listener.port}/text", OPEN)
    assert answer.text == "hello"
    assert dns.lookups == ["v6first.example"]


async def test_environment_proxies_are_ignored(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, proxy = await start(), await start()
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy.url())
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    answer = await call("GET", target.url("/text"), OPEN)
    assert answer.text == "hello"
    assert proxy.untouched


async def test_body_over_the_cap_fails(listener: Listener) -> None:
    capped = NetworkPolicy(allow_private=True, max_bytes=1000)
    exact = await call("GET", listener.url("/bytes/1000"), capped)
    assert len(exact.text) == 1000
    with pytest.raises(HTTPFailed, match="1000-byte cap"):
        await call("GET", listener.url("/bytes/5000"), capped)
    with pytest.raises(HTTPFailed, match="1000-byte cap"):
        await call("GET", listener.url("/stream-big"), capped)


@pytest.mark.parametrize("path", ["/stall", "/stall-body"])
async def test_slow_server_hits_the_total_timeout(listener: Listener, path: str) -> None:
    began = time.monotonic()
    with pytest.raises(HTTPFailed, match=r"within 0\.2 s"):
        await call("GET", listener.url(path), OPEN, timeout=0.2)
    assert time.monotonic() - began < 5
    assert len(listener.requests) == 1


async def test_closed_port_fails_to_connect(listener: Listener) -> None:
    await listener.close()
    with pytest.raises(HTTPFailed, match="could not connect"):
        await call("GET", listener.url(), OPEN, timeout=5)


async def test_redirects_within_the_limit_are_followed(listener: Listener) -> None:
    answer = await call("GET", listener.url("/hops/5"), OPEN)
    assert (answer.status, answer.text) == (200, "done")
    assert answer.url == listener.url("/hops/0")
    assert [r.path for r in listener.requests] == [f"/hops/{n}" for n in range(5, -1, -1)]
    # Cookies set along the way are not carried to the next hop.
    assert all("cookie" not in r.headers for r in listener.requests)


async def test_redirects_beyond_the_limit_fail(listener: Listener) -> None:
    with pytest.raises(HTTPFailed, match="more than 5 redirects"):
        await call("GET", listener.url("/hops/6"), OPEN)
    assert len(listener.requests) == 6  # the first request and five redirects, no more
    short = NetworkPolicy(allow_private=True, max_redirects=0)
    with pytest.raises(HTTPFailed, match="more than 0 redirects"):
        await call("GET", listener.url("/hops/1"), short)


SECRETS = {"Authorization": "Bearer t0ken", "Cookie": "a=b", "X-Api-Key": "k3y"}


async def test_credentials_stay_with_their_host(start: Start) -> None:
    # Same host name, another port: another host as far as credentials go.
    first, second = await start(), await start()
    first.redirects["/"] = (302, second.url("/text"))
    headers = {**SECRETS, "Accept-Language": "fr"}
    answer = await call("GET", first.url(), OPEN, headers=headers)
    assert answer.text == "hello"
    assert first.requests[0].headers["authorization"] == "Bearer t0ken"
    sent = second.requests[0].headers
    assert not {"authorization", "cookie", "x-api-key"} & set(sent)
    assert sent["accept-language"] == "fr"
    assert "user-agent" in sent


async def test_credentials_follow_a_redirect_on_the_same_host(listener: Listener) -> None:
    await call("GET", listener.url("/hops/1"), OPEN, headers=SECRETS)
    assert [r.headers.get("authorization") for r in listener.requests] == ["Bearer t0ken"] * 2
    assert [r.headers.get("x-api-key") for r in listener.requests] == ["k3y"] * 2


async def test_redirect_methods(start: Start) -> None:
    first, second = await start(), await start()
    first.redirects["/see-other"] = (303, "/echo")
    first.redirects["/temporary"] = (307, "/echo")
    first.redirects["/elsewhere"] = (307, second.url("/echo"))
    see_other = await call("POST", first.url("/see-other"), OPEN, body={"a": 1})
    assert see_other.json == {"method": "GET", "content_type": None, "body": ""}
    temporary = await call("POST", first.url("/temporary"), OPEN, body={"a": 1})
    assert temporary.json == {
        "method": "POST",
        "content_type": "application/json",
        "body": '{"a": 1}',
    }
    with pytest.raises(HTTPFailed, match="not re-sent to a different host"):
        await call("POST", first.url("/elsewhere"), OPEN, body={"a": 1})
    assert second.untouched


# A self-signed certificate for `pinned.example` only (valid 2000-2100), made for this test.
TEST_CERT = """-----BEGIN CERTIFICATE-----
MIIBezCCASOgAwIBAgIBATAKBggqhkjOPQQDAjAZMRcwFQYDVQQDDA5waW5uZWQu
ZXhhbXBsZTAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowGTEXMBUG
A1UEAwwOcGlubmVkLmV4YW1wbGUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASb
bgLgRd1kSxx0TPZzZ5NgGpXySANHkl+q30w0surGNkHYcO/8T/eFKyZA+u+cJ+0z
rxt0RYhX2QRDSuWSxtCjo1owWDAPBgNVHRMBAf8EBTADAQH/MAsGA1UdDwQEAwIC
hDAZBgNVHREEEjAQgg5waW5uZWQuZXhhbXBsZTAdBgNVHQ4EFgQUkEDwOmBL1Kms
tufVENaPL7dAbUMwCgYIKoZIzj0EAwIDRgAwQwIfDuyyKZRETK4X8JdG8ywYIM5Q
mFovaHNA+BSmdoRlzwIgEIDdzFNQNfSGEXvHcvbusPit4UA+jg0yE+o2+tLXuY8=
-----END CERTIFICATE-----
"""
TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1aaVHJP0arc+1RBZ
mN0y+Kn22+2uxZTl7L0A4VXezR+hRANCAASbbgLgRd1kSxx0TPZzZ5NgGpXySANH
kl+q30w0surGNkHYcO/8T/eFKyZA+u+cJ+0zrxt0RYhX2QRDSuWSxtCj
-----END PRIVATE KEY-----
"""


async def test_https_is_pinned_but_verified_for_the_host_name(
    start: Start, dns: FakeDNS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chain = tmp_path / "pinned.pem"
    chain.write_text(TEST_CERT + TEST_KEY)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain)
    names: list[str | None] = []
    server.sni_callback = lambda _sock, name, _ctx: names.append(name)
    listener = await start(tls=server)
    monkeypatch.setattr(guarded_http, "_tls", lambda: ssl.create_default_context(cadata=TEST_CERT))

    # Connected to the checked 127.0.0.1, yet SNI and the certificate check use the name.
    answer = await call("GET", f"https://pinned.example:{listener.port}/json", OPEN)
    assert answer.json == {"ok": True, "n": 1}
    assert names == ["pinned.example"]
    assert listener.requests[0].headers["host"] == f"pinned.example:{listener.port}"

    # The same server reached under another name: its certificate does not match.
    dns.names["other.example"] = ["127.0.0.1"]
    with pytest.raises(HTTPFailed, match=r"(?i)certificate"):
        await call("GET", f"https://other.example:{listener.port}/json", OPEN)
    assert len(listener.requests) == 1


# --- the rules themselves -----------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "10.0.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "100.64.0.1",
        "169.254.0.1",
        "fe80::1",
        "fc00::1",
        "fd00::1",
        "224.0.0.251",
        "ff05::2",
        "0.0.0.0",
        "::",
        "255.255.255.255",
        "198.18.0.1",
        "192.0.2.1",
        "2001:db8::1",
        "::127.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_refusal(address, STRICT)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(address, STRICT) is None


def test_allow_private_opens_everything_but_metadata() -> None:
    assert address_refusal("127.0.0.1", OPEN) is None
    assert address_refusal("10.0.0.1", OPEN) is None
    assert address_refusal("fe80::1", OPEN) is None
    assert address_refusal("169.254.169.254", OPEN)
    assert address_refusal("fd00:ec2::254", OPEN)


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("1", True), ("true", True), ("YES", True), ("", False), ("0", False), ("no", False)],
)
def test_policy_from_env(value: str, allowed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENFLOW_ALLOW_PRIVATE_NETWORKS", value)
    assert NetworkPolicy.from_env() == NetworkPolicy(allow_private=allowed)


async def test_unsupported_method_and_unserialisable_body_are_refused(listener: Listener) -> None:
    with pytest.raises(Refused, match="method"):
        await call("CONNECT", listener.url(), OPEN)
    with pytest.raises(Refused, match="JSON"):
        await call("POST", listener.url("/echo"), OPEN, body={"when": object()})
    assert listener.untouched
