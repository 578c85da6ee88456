"""The one HTTP client workflows may use (`api` nodes, the `http_get` tool).

A workflow is drafted by a model from someone's prompt and runs inside our network, so
every URL it names is treated as a possible SSRF: only http(s); the host is resolved once
and the connection pinned to an address that was checked (a DNS answer that changes
between the check and the connect cannot reach anything new); loopback, private,
link-local, multicast, reserved and shared addresses are refused unless
`GENFLOW_ALLOW_PRIVATE_NETWORKS`, cloud metadata always; every redirect hop is checked
the same way; one total timeout and a body size cap bound what a request can cost.
docs/pilot.md ("Network safety") states the rules for people.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import os
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from flows.slot import ProviderSlot

ALLOW_PRIVATE_ENV = "GENFLOW_ALLOW_PRIVATE_NETWORKS"
ALLOW_HINT = f"set {ALLOW_PRIVATE_ENV}=1 to allow private networks"

SCHEMES = ("http", "https")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})

# Headers that may follow a redirect to another host; everything else the caller set
# (Authorization, Cookie, X-Api-Key, ...) may be a credential meant for the first host.
CROSS_HOST_HEADERS = frozenset({"accept", "accept-language", "user-agent"})
# Framing and routing headers are ours to set: Host must name the host that was checked.
OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
USER_AGENT = "GenFlow-pilot (+https://github.com/genflow)"

# Refused even with private networks allowed: they hand out the machine's credentials.
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS IPv6
        "fd00:ec2::23",  # AWS EKS pod identity, IPv6
    )
)

_LOOPBACK = "a loopback address"
_PRIVATE = "a private address"
_LINK_LOCAL = "a link-local address"
_MULTICAST = "a multicast address"
_UNSPECIFIED = "an unspecified address"
_RESERVED = "a reserved address"

_V4_RULES = tuple(
    (ipaddress.IPv4Network(net), kind)
    for net, kind in (
        ("0.0.0.0/8", _UNSPECIFIED),  # "this network": Linux connects 0.x to itself
        ("127.0.0.0/8", _LOOPBACK),
        ("10.0.0.0/8", _PRIVATE),
        ("172.16.0.0/12", _PRIVATE),
        ("192.168.0.0/16", _PRIVATE),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("169.254.0.0/16", _LINK_LOCAL),
        ("192.0.0.0/24", _RESERVED),
        ("192.0.2.0/24", _RESERVED),
        ("198.18.0.0/15", _RESERVED),
        ("198.51.100.0/24", _RESERVED),
        ("203.0.113.0/24", _RESERVED),
        ("224.0.0.0/4", _MULTICAST),
        ("240.0.0.0/4", _RESERVED),  # includes 255.255.255.255
    )
)
_V6_RULES = tuple(
    (ipaddress.IPv6Network(net), kind)
    for net, kind in (
        ("::/128", _UNSPECIFIED),
        ("::1/128", _LOOPBACK),
        ("::/96", _RESERVED),  # deprecated IPv4-compatible addresses
        ("64:ff9b:1::/48", _PRIVATE),  # local-use NAT64
        ("100::/64", _RESERVED),  # discard-only
        ("2001::/23", _RESERVED),  # IETF protocol assignments, Teredo
        ("2001:db8::/32", _RESERVED),  # documentation
        ("fc00::/7", _PRIVATE),  # unique local
        ("fe80::/10", _LINK_LOCAL),
        ("fec0::/10", _PRIVATE),  # deprecated site-local
        ("ff00::/8", _MULTICAST),
    )
)
# IPv6 forms that carry an IPv4 destination: judged by the IPv4 address inside.
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class NetworkPolicy:
    """What the guard lets through; the runner or a test installs one via `policy`."""

    allow_private: bool = False  # GENFLOW_ALLOW_PRIVATE_NETWORKS (1/true/yes)
    max_bytes: int = 1_000_000  # response body cap
    max_redirects: int = 5

    @classmethod
    def from_env(cls) -> NetworkPolicy:
        return cls(allow_private=_flag(os.environ.get(ALLOW_PRIVATE_ENV)))


policy: ProviderSlot[NetworkPolicy] = ProviderSlot("genflow_network", NetworkPolicy.from_env)


class Refused(ValueError):
    """The request was not sent: a scheme, host or address the guard refuses (message says
    which and why, and how to allow private networks)."""


class HTTPFailed(RuntimeError):
    """Sent but failed: timeout, connection error, body over the cap (message says which)."""


@dataclass(frozen=True)
class HTTPAnswer:
    status: int
    headers: dict[str, str]
    text: str
    json: Any | None  # parsed body when it is JSON, else None
    url: str  # the final URL after redirects


@dataclass(frozen=True)
class _Redirect:
    status: int
    location: str


# --- the checks ---------------------------------------------------------------------


def _ip_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What kind of non-public address `ip` is, or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            kind = _ip_kind(inner)
            return f"{kind} ({inner}) inside an IPv6 address" if kind else None
        rules: Sequence[tuple[Any, str]] = _V6_RULES
    else:
        rules = _V4_RULES
    for network, kind in rules:
        if ip in network:
            return kind
    if not ip.is_global:  # whatever the tables above miss, the stdlib registry catches
        return "not a public address"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 destination of an IPv4-mapped, NAT64 or 6to4 address, else None."""
    if ip in _MAPPED or ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _is_metadata(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    inner = _embedded_v4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return ip in METADATA_ADDRESSES or inner in METADATA_ADDRESSES


def address_refusal(address: str, policy: NetworkPolicy) -> str | None:
    """Why `address` may not be contacted under `policy` (a phrase), or None if it may."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{address!r} is not an IP address"
    if _is_metadata(ip):
        return "a cloud metadata address, refused even when private networks are allowed"
    kind = _ip_kind(ip)
    if kind is None or policy.allow_private:
        return None
    return f"{kind}; {ALLOW_HINT}"


def name_refusal(host: str) -> str | None:
    """Why the host *name* is refused before any DNS query (cloud metadata names)."""
    if host.rstrip(".").lower() in METADATA_NAMES:
        return f"{host} is a cloud metadata host, refused even when private networks are allowed"
    return None


def refusal(host: str, addresses: Sequence[str], policy: NetworkPolicy) -> str | None:
    """Why `host`, resolving to `addresses`, may not be contacted, or None if it may.

    One forbidden address refuses the host: which of them a connection would use is not
    ours to predict, and a name that mixes public and private answers is a rebinding trick.
    """
    for address in addresses:
        reason = address_refusal(address, policy)
        if reason:
            where = address if address == host else f"{host} resolves to {address}"
            return f"{where}, {reason}"
    return None


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order of preference.

    asyncio runs getaddrinfo in a worker thread, so a slow DNS server never blocks the
    loop. A module-level function so tests can make any name resolve anywhere.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _checked_url(raw: str | httpx.URL, context: str) -> httpx.URL:
    """Parse `raw` and refuse what no policy allows: other schemes, userinfo, no host."""
    try:
        url = raw if isinstance(raw, httpx.URL) else httpx.URL(raw)
    except (httpx.InvalidURL, TypeError) as exc:
        raise Refused(f"{context}: not a valid URL ({exc})") from None
    if url.scheme not in SCHEMES:
        raise Refused(f"{context}: only http and https URLs are allowed, not {url.scheme!r}")
    if url.userinfo:
        raise Refused(
            f"{context}: URLs with a user name or password (user@host) are refused; "
            "send credentials in an Authorization header instead"
        )
    if not url.host:
        raise Refused(f"{context}: the URL has no host")
    reason = name_refusal(url.host)
    if reason:
        raise Refused(f"{context}: {reason}")
    return url


def _redacted(url: str) -> str:
    """`url` for messages, without a user name or password it may carry."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return str(url)
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else url


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _addresses(url: httpx.URL, net: NetworkPolicy, context: str) -> list[str]:
    """Resolve the URL's host once and check every answer; the request uses only these."""
    host = url.raw_host.decode("ascii")
    if _literal(url.host):
        addresses = [url.host]
    else:
        try:
            addresses = await resolve(host, _port(url))
        except OSError as exc:
            raise HTTPFailed(f"{context}: cannot resolve {host} ({exc})") from None
        if not addresses:
            raise HTTPFailed(f"{context}: {host} resolves to no address")
    reason = refusal(host, addresses, net)
    if reason:
        raise Refused(f"{context}: {reason}")
    return addresses


# --- sending ------------------------------------------------------------------------


@functools.cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context, built once: certifi's CAs, or SSL_CERT_FILE/SSL_CERT_DIR
    (they only add trust, unlike the proxy variables, which the transport never reads)."""
    return httpx.create_ssl_context(trust_env=True)


def _encode(body: Any) -> tuple[bytes | None, str | None]:
    if body is None:
        return None, None
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    try:
        return json.dumps(body, ensure_ascii=False).encode(), "application/json"
    except (TypeError, ValueError) as exc:
        raise Refused(f"the request body cannot be sent as JSON: {exc}") from None


def _request_headers(headers: Mapping[str, str] | None, content_type: str | None) -> dict:
    out = {"user-agent": USER_AGENT, "accept": "*/*"}
    if content_type:
        out["content-type"] = content_type
    for name, value in (headers or {}).items():
        if name.lower() not in OWN_HEADERS:
            out[name.lower()] = str(value)
    return out


async def _exchange(
    method: str,
    url: httpx.URL,
    headers: dict[str, str],
    content: bytes | None,
    net: NetworkPolicy,
    context: str,
) -> HTTPAnswer | _Redirect:
    """One hop: connect to a checked address only, keeping the host name for Host and SNI."""
    addresses = await _addresses(url, net, context)
    extensions: dict[str, Any] = {}
    if url.scheme == "https" and not _literal(url.host):
        extensions["sni_hostname"] = url.raw_host.decode("ascii")  # and the certificate check
    failures: list[str] = []
    for address in addresses:  # the resolver's order; the next one only if connecting fails
        pinned = url.copy_with(host=address)
        sent = httpx.Request(
            method,
            pinned,
            headers={**headers, "host": url.netloc.decode("ascii")},
            content=content,
            extensions=extensions,
        )
        # A fresh transport per hop: a pooled connection must never carry a request for a
        # host other than the one its TLS session was verified for.
        async with httpx.AsyncHTTPTransport(verify=_tls(), trust_env=False) as transport:
            try:
                response = await transport.handle_async_request(sent)
            except httpx.ConnectError as exc:
                failures.append(f"{address}: {exc or type(exc).__name__}")
                continue
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    return _Redirect(response.status_code, location)
                return await _answer(response, url, net, context)
            finally:
                await response.aclose()
    raise HTTPFailed(f"{context}: could not connect ({'; '.join(failures)})")


async def _answer(
    response: httpx.Response, url: httpx.URL, net: NetworkPolicy, context: str
) -> HTTPAnswer:
    too_big = f"{context}: the answer is larger than the {net.max_bytes}-byte cap"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > net.max_bytes:
        raise HTTPFailed(too_big)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > net.max_bytes:
            raise HTTPFailed(too_big)
        chunks.append(chunk)
    data = b"".join(chunks)
    try:
        text = data.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = data.decode("utf-8", errors="replace")
    return HTTPAnswer(
        status=response.status_code,
        headers=dict(response.headers),
        text=text,
        json=_json(text, response.headers.get("content-type", "")),
        url=str(url),
    )


def _json(text: str, content_type: str) -> Any | None:
    media = content_type.split(";")[0].strip().lower()
    if not (media.endswith("json") or text.lstrip()[:1] in ("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _same_host(a: httpx.URL, b: httpx.URL) -> bool:
    """Whether credentials for `a` may go to `b`: same host name and port, same scheme or
    the http -> https upgrade on default ports. Different ports are different hosts."""
    if a.host != b.host:
        return False
    if a.scheme == b.scheme:
        return _port(a) == _port(b)
    return a.scheme == "http" and b.scheme == "https" and a.port is None and b.port is None


async def _follow(
    method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None
) -> HTTPAnswer:
    net = policy.get()
    start = context = f"{method} {url}"
    for _ in range(net.max_redirects + 1):
        result = await _exchange(method, url, headers, content, net, context)
        if isinstance(result, HTTPAnswer):
            return result
        redirect = f"{method} {url} redirected ({result.status}) to {_redacted(result.location)}"
        try:
            target = url.join(result.location)
        except httpx.InvalidURL as exc:
            raise HTTPFailed(f"{redirect}: not a valid URL ({exc})") from None
        target = _checked_url(target, redirect)
        if (result.status == 303 and method != "HEAD") or (
            result.status in (301, 302) and method == "POST"
        ):
            method, content = "GET", None
            headers = {k: v for k, v in headers.items() if k != "content-type"}
        if not _same_host(url, target):
            if content is not None:
                raise HTTPFailed(f"{redirect}: the request body is not re-sent to a different host")
            headers = {k: v for k, v in headers.items() if k in CROSS_HOST_HEADERS}
        context = f"{method} {target} (redirected from {url})"
        url = target
    raise HTTPFailed(f"{start}: more than {net.max_redirects} redirects")


async def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    timeout: float = 10.0,  # noqa: ASYNC109 - the one total deadline callers set per node
) -> HTTPAnswer:
    """Send one request through the guard; `body` is JSON if a dict/list, text if a str.

    Raises `Refused` (nothing was sent to a refused destination) or `HTTPFailed`.
    `timeout` bounds everything: resolution, every hop and reading the body.
    """
    method = method.upper()
    shown = _redacted(url)
    if method not in METHODS:
        raise Refused(f"{method} {shown}: method not allowed; use one of {sorted(METHODS)}")
    checked = _checked_url(url, f"{method} {shown}")
    content, content_type = _encode(body)
    sent_headers = _request_headers(headers, content_type)
    try:
        async with asyncio.timeout(timeout):
            return await _follow(method, checked, sent_headers, content)
    except TimeoutError:
        raise HTTPFailed(f"{method} {checked}: no complete answer within {timeout:g} s") from None
    except httpx.TimeoutException as exc:
        raise HTTPFailed(f"{method} {checked}: timed out ({exc})") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise HTTPFailed(f"{method} {checked}: {type(exc).__name__}: {exc}") from None
