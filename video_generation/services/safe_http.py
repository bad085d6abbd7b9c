"""The one HTTP client for URLs our users give us: the product image, webhooks, and anything later.

Two checks, one rule for what an acceptable URL and address are:

- `check_submitted_url` runs at submit time and makes no DNS lookup: scheme, port, credentials, control
  characters, and the host's spelling (IP literals in every notation resolvers and browsers accept, names that
  only exist inside our networks). An unsafe URL is refused with a 400 instead of failing an hour later.
- `fetch_to_file` and `post_json` check again when they use the URL: they resolve the host once, refuse it if
  any answer is not a public address, and connect to the address they checked. The request URL carries that
  IP while the Host header, TLS SNI and certificate check keep the host name, and the connection pool cannot
  reach any other address, so a DNS answer that changes between check and connect (rebinding) cannot move the
  request. One deadline bounds the whole exchange, bodies are read up to a byte cap, proxies from the
  environment are ignored. The image GET follows at most 3 redirects, each target checked and pinned like the
  first URL; POSTs follow none and return whatever status came back (the caller decides what it means).

With settings.ALLOW_PRIVATE_URLS (local runs and the sandbox serve files from loopback on high ports) only the
scheme, credentials, control characters and cloud metadata hosts and addresses are checked: the metadata
server is refused always.

Errors are ProviderErrors whose messages are shown to users: they never contain the response body or the URL.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
import socket
import ssl
import time
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
import idna
from django.conf import settings

from .errors import (
    PermanentError,
    ProviderError,
    RateLimitedError,
    RetryableError,
    error_class_for,
    error_for_response,
    error_for_transport,
)
from .storage import atomic_path

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
MAX_REDIRECTS = 3
MAX_GAP_SECONDS = 10.0  # longest silence tolerated between bytes; the deadline still bounds the total
USER_AGENT = "video_saas/1.0"

_STANDARD_PORTS = {"http": 80, "https": 443}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# Cloud metadata servers hand out credentials: refused even when ALLOW_PRIVATE_URLS is on.
METADATA_HOSTS = frozenset({
    "metadata.google.internal", "metadata", "metadata.goog", "instance-data", "instance-data.ec2.internal",
})
_METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.170.23", "100.100.100.200", "fd00:ec2::254", "fd00:ec2::23",
))
# Names that resolve inside our own machines, clusters and networks.
_INTERNAL_HOSTS = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
INTERNAL_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".svc")

# Every range that is not the public internet. Listed rather than left to `ipaddress`'s flags, which differ
# between Python releases (CPython #113171); the flags are checked as well.
_NON_PUBLIC_NETWORKS = tuple(ipaddress.ip_network(net) for net in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/8", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16",
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
# A DNS64 resolver answers an IPv4-only host with its address inside this prefix: judge the IPv4 address.
_NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

_HOST_NAME = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")
_IPV4_NUMBER = re.compile(r"0x[0-9a-f]*|[0-9]+")  # a label resolvers read as a number
_IPV4_DIGITS = {16: re.compile(r"[0-9a-f]*"), 8: re.compile(r"[0-7]+"), 10: re.compile(r"[0-9]+")}


class UnsafeUrl(ValueError):
    """A URL we will not request. The message is written for the person who sent it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UrlRefusedError(PermanentError):
    """At use time, the URL itself is the problem (not allowed, or its host does not exist): retrying cannot
    help, unlike a failed exchange with the server."""


@dataclass(frozen=True)
class Fetched:
    content_type: str
    size: int


@dataclass(frozen=True)
class PostResult:
    status_code: int
    body_start: bytes = b""  # post_json: the first bytes of the answer's body


# --- The URL rule (no DNS) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower-case ASCII (IDNA), no trailing dot; an IP address in its usual form, IPv6 unbracketed
    port: int
    path_and_query: str
    literal: IPAddress | None  # the address, when the host is one

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _STANDARD_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path_and_query}"

    def url_at(self, address: IPAddress) -> str:
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.path_and_query}"

    @property
    def tls_extensions(self) -> dict:
        if self.scheme == "https" and self.literal is None:
            return {"sni_hostname": self.host}  # SNI and the certificate check use the name, not the IP
        return {}


def check_submitted_url(url: str) -> None:
    """Raise UnsafeUrl unless `url` may be requested, as far as can be known without a DNS lookup."""
    _parse(url)


def _parse(url: str) -> _Target:
    _refuse_bad_characters(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UnsafeUrl("This is not a valid URL.") from None
    if parts.scheme not in _STANDARD_PORTS:
        raise UnsafeUrl("Only http and https URLs are allowed.")
    if "@" in parts.netloc:
        raise UnsafeUrl("URLs must not contain a user name or password.")
    raw_host, port = _split_authority(parts.netloc, parts.scheme)
    host = _normalise_host(raw_host)
    literal = _ip_literal(host)
    _refuse_unsafe_host(host, literal)
    if port not in _STANDARD_PORTS.values() and not _private_urls_allowed():
        raise UnsafeUrl("Only the standard ports 80 and 443 are allowed.")
    path_and_query = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(parts.scheme, str(literal) if literal is not None else host, port, path_and_query, literal)


def _refuse_bad_characters(url: str) -> None:
    if not isinstance(url, str):
        raise UnsafeUrl("This is not a valid URL.")
    if not url:
        raise UnsafeUrl("The URL is empty.")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in url):
        raise UnsafeUrl("The URL must not contain spaces or control characters.")


def _split_authority(netloc: str, scheme: str) -> tuple[str, int]:
    if netloc.startswith("["):
        inside, bracket, rest = netloc.partition("]")
        host = inside + bracket
    else:
        host, colon, port = netloc.partition(":")
        rest = colon + port
    if not rest or rest == ":":
        return host, _STANDARD_PORTS[scheme]
    digits = rest[1:]
    if not rest.startswith(":") or not (digits.isascii() and digits.isdigit()) or not 0 < int(digits) < 65536:
        raise UnsafeUrl("The URL's port is not valid.")
    return host, int(digits)


def _normalise_host(raw: str) -> str:
    """The host as it will be resolved: lower-case ASCII, Unicode mapped the way IDNA (UTS #46) maps it, so
    a full-width １２７.０.０.１ is checked as the 127.0.0.1 a resolver would see."""
    if not raw:
        raise UnsafeUrl("The URL has no host.")
    if raw.startswith("["):
        return _bracketed_ipv6(raw)
    if "%" in raw:
        raise UnsafeUrl("Host names must not contain percent-encoded characters.")
    try:
        host = raw.lower() if raw.isascii() else idna.encode(raw, uts46=True).decode("ascii")
    except UnicodeError:  # idna.IDNAError is one
        raise UnsafeUrl("The URL's host is not a valid international domain name.") from None
    host = host.removesuffix(".")  # one trailing dot only names the DNS root
    if len(host) > 253 or not _HOST_NAME.fullmatch(host):
        raise UnsafeUrl("The URL's host is not a valid host name.")
    return host


def _bracketed_ipv6(raw: str) -> str:
    inside = raw[1:-1] if raw.endswith("]") else ""
    if "%" in inside:
        raise UnsafeUrl("IPv6 zone identifiers are not allowed in URLs.")
    try:
        return str(ipaddress.IPv6Address(inside))
    except ValueError:
        raise UnsafeUrl("The URL's IPv6 address is not valid.") from None


def _ip_literal(host: str) -> IPAddress | None:
    if ":" in host:
        return ipaddress.IPv6Address(host)
    if _IPV4_NUMBER.fullmatch(host.rsplit(".", 1)[-1]):
        # Like browsers: a host whose last label is a number is an IPv4 address, or no host at all.
        return _legacy_ipv4(host)
    return None


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address:
    """The address resolvers (inet_aton) and browsers read in 127.1, 2130706433, 0x7f.0.0.1 or 0177.0.0.1."""
    labels = host.split(".")
    numbers = [_ipv4_number(label) for label in labels]
    *leading, last = numbers
    if len(numbers) > 4 or any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise UnsafeUrl("The URL's host is not a valid IP address.")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(label: str) -> int:
    if label.startswith("0x"):
        digits, base = label[2:], 16
    elif len(label) > 1 and label.startswith("0"):
        digits, base = label[1:], 8
    else:
        digits, base = label, 10
    if not _IPV4_DIGITS[base].fullmatch(digits):
        raise UnsafeUrl("The URL's host is not a valid IP address.")
    return int(digits or "0", base)


def _refuse_unsafe_host(host: str, literal: IPAddress | None) -> None:
    if literal is not None:
        _refuse_unsafe_address(literal)
        if literal.version == 4 and str(literal) != host and not _private_urls_allowed():
            raise UnsafeUrl("Write IP addresses in the usual dotted form, like 93.184.216.34.")
        return
    if host in METADATA_HOSTS:
        raise UnsafeUrl("Cloud metadata servers are not allowed.")
    if _private_urls_allowed():
        return
    if host in _INTERNAL_HOSTS or host.endswith(INTERNAL_SUFFIXES):
        raise UnsafeUrl("This host name only exists inside private networks.")
    if "." not in host:
        raise UnsafeUrl("Use a full host name, like images.example.com: a single name reaches internal machines.")


def _refuse_unsafe_address(ip: IPAddress) -> None:
    ip = _comparable(ip)
    if ip in _METADATA_ADDRESSES:
        raise UnsafeUrl("Cloud metadata servers are not allowed.")
    if not _private_urls_allowed() and not _is_public(ip):
        raise UnsafeUrl("The URL leads to a private, local or reserved network address.")


def _comparable(ip: IPAddress) -> IPAddress:
    """The address as our rules judge it: an IPv4 address inside NAT64's prefix stands for itself."""
    ip = _connectable(ip)
    if ip in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return ip


def _connectable(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped address as the IPv4 address it is; no zone id (ipaddress would let `fd00:ec2::254%eth0`
    differ from `fd00:ec2::254`, and a zone id cannot go into the request URL)."""
    if ip.version == 4:
        return ip
    return ip.ipv4_mapped or ipaddress.IPv6Address(int(ip))


def _is_public(ip: IPAddress) -> bool:
    if any(ip in network for network in _NON_PUBLIC_NETWORKS):
        return False
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


def _private_urls_allowed() -> bool:
    return bool(settings.ALLOW_PRIVATE_URLS)


def loggable_url(url: str) -> str:
    """Scheme and host only, for logs: query strings and webhook paths often carry secrets."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or ''}"
    except ValueError:
        return "<unparseable URL>"


# --- Use time: resolve, check, connect to what was checked -----------------------------------------------


def _refused(message: str, provider: str, code: str = "url_not_allowed") -> UrlRefusedError:
    return UrlRefusedError(message, provider=provider, code=code)


def _checked_target(url: str, provider: str) -> _Target:
    try:
        return _parse(url)
    except UnsafeUrl as exc:
        raise _refused(exc.message, provider) from None


def _checked_addresses(target: _Target, provider: str) -> tuple[IPAddress, ...]:
    """Every address the host stands for, each allowed; refused if any one is not."""
    addresses = (target.literal,) if target.literal is not None else _resolve(target, provider)
    for address in addresses:
        try:
            _refuse_unsafe_address(address)
        except UnsafeUrl as exc:
            raise _refused(exc.message, provider) from None
    return tuple(dict.fromkeys(_connectable(address) for address in addresses))


def _resolve(target: _Target, provider: str) -> tuple[IPAddress, ...]:
    try:
        answers = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            raise _refused("The URL's host name does not exist.", provider, code="host_not_found") from None
        raise RetryableError("The URL's host name could not be resolved right now.", provider=provider,
                             code="dns_failed") from None
    addresses = [ipaddress.ip_address(sockaddr[0]) for family, _type, _proto, _name, sockaddr in answers
                 if family in (socket.AF_INET, socket.AF_INET6)]
    if not addresses:
        raise _refused("The URL's host name does not exist.", provider, code="host_not_found")
    return tuple(addresses)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the deadline: httpx's timeouts bound
    each wait, so a server trickling its headers byte by byte would otherwise hold us indefinitely."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def _budget(self, timeout: float | None, error: type[Exception]) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise error("the deadline for this request has passed")
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, self._budget(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Opens TCP connections to the one address that was checked, and nowhere else."""

    def __init__(self, address: IPAddress, deadline: float) -> None:
        self._address = address
        self._deadline = deadline
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        if _address_or_none(host) != self._address:
            raise httpcore.ConnectError("refusing to connect to an address that was not checked")
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise httpcore.ConnectTimeout("the deadline for this request has passed")
        budget = remaining if timeout is None else min(timeout, remaining)
        stream = self._sockets.connect_tcp(host, port, timeout=budget, local_address=local_address,
                                           socket_options=socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not reachable through this client")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _address_or_none(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport, on a connection pool that can reach only `address` and only until `deadline`."""

    def __init__(self, address: IPAddress, deadline: float) -> None:
        super().__init__(verify=_tls_context(), trust_env=False)
        # httpx has no public way to give its transport a network backend; handle_request() uses `_pool`.
        self._pool = httpcore.ConnectionPool(ssl_context=_tls_context(), max_connections=1, retries=0,
                                             network_backend=_PinnedBackend(address, deadline))


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Built once per process: loading the CA bundle costs tens of milliseconds of CPU each time."""
    return httpx.create_ssl_context(verify=True, trust_env=False)


@contextlib.contextmanager
def _pinned_exchange(target: _Target, method: str, *, provider: str, deadline: float, timeout: float,
                     headers: Mapping[str, str], content: bytes | None = None) -> Iterator[httpx.Response]:
    """Send one request to the host's checked addresses in turn (the next only when connecting failed, so
    nothing was sent) and yield the streamed response. A fresh client per request: a pooled connection to
    the same IP must never carry a request for another host name."""
    addresses = _checked_addresses(target, provider)
    request_headers = httpx.Headers({"User-Agent": USER_AGENT})
    request_headers.update(headers)
    request_headers["Host"] = target.authority
    for attempt, address in enumerate(addresses, start=1):
        with httpx.Client(transport=_PinnedTransport(address, deadline), trust_env=False, follow_redirects=False,
                          timeout=timeout) as client:
            request = client.build_request(method, target.url_at(address), headers=request_headers,
                                           content=content, extensions=target.tls_extensions)
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError:
                if attempt == len(addresses):
                    raise
                continue
            try:
                yield response
            finally:
                response.close()
            return


@contextlib.contextmanager
def _network_errors(provider: str) -> Iterator[None]:
    """Network failures as the typed errors errors.py gives them. Fetching an image and delivering an event are
    both safe to repeat (a webhook carries its event id), so no lost answer here is ambiguous."""
    try:
        yield
    except httpx.InvalidURL:
        raise _refused("The URL is not valid.", provider) from None
    except httpx.HTTPError as exc:
        raise error_for_transport(exc, provider=provider, creates_work=False, what="the server") from None


# What each class of unsuccessful answer is called here (errors.py decides the class).
_STATUS_LABELS = {
    RateLimitedError: ("rate_limited", "The server is rate limiting us."),
    RetryableError: ("server_error", "The server had a temporary error."),
    PermanentError: ("http_error", "The server refused the request."),
}


def _status_error(response: httpx.Response, provider: str) -> ProviderError:
    code, message = _STATUS_LABELS[error_class_for(response.status_code)]
    return error_for_response(response, provider=provider, code=code, message=message)


# --- GET to a file ---------------------------------------------------------------------------------------


def fetch_to_file(
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    allowed_content_types: frozenset[str],
    deadline_seconds: float = 30.0,
    provider: str = "image",
) -> Fetched:
    """Download `url` to `dest` (written atomically; nothing is left behind on failure) and return its content
    type and size. Follows at most MAX_REDIRECTS redirects, each checked like `url`."""
    deadline = time.monotonic() + deadline_seconds
    allowed = frozenset(t.strip().lower() for t in allowed_content_types)
    target = _checked_target(url, provider)
    headers = {"Accept": ", ".join(sorted(allowed)) or "*/*", "Accept-Encoding": "identity"}
    timeout = min(MAX_GAP_SECONDS, deadline_seconds)
    with (
        _network_errors(provider),
        atomic_path(Path(dest)) as partial,
        open(partial, "wb") as out,
        _final_response(target, provider=provider, deadline=deadline, timeout=timeout, headers=headers) as response,
    ):
        content_type, size = _read_body(response, out, max_bytes=max_bytes, allowed=allowed, provider=provider)
    return Fetched(content_type=content_type, size=size)


@contextlib.contextmanager
def _final_response(target: _Target, *, provider: str, deadline: float, timeout: float,
                    headers: Mapping[str, str]) -> Iterator[httpx.Response]:
    for _hop in range(MAX_REDIRECTS + 1):
        with _pinned_exchange(target, "GET", provider=provider, deadline=deadline, timeout=timeout,
                              headers=headers) as response:
            if response.status_code not in _REDIRECT_STATUSES:
                yield response
                return
            target = _redirect_target(target, response, provider)
    raise PermanentError(f"The URL redirects more than {MAX_REDIRECTS} times.", provider=provider,
                         code="too_many_redirects")


def _redirect_target(current: _Target, response: httpx.Response, provider: str) -> _Target:
    location = response.headers.get("location", "").strip()
    if not location:
        raise PermanentError("The server redirected without saying where to.", provider=provider,
                             code="http_error", status_code=response.status_code)
    try:
        return _parse(urljoin(current.url, location))
    except UnsafeUrl as exc:
        raise _refused(f"The URL redirects to a URL that is not allowed: {exc.message}", provider) from None


def _read_body(response: httpx.Response, out: BinaryIO, *, max_bytes: int, allowed: frozenset[str],
               provider: str) -> tuple[str, int]:
    if not response.is_success:
        raise _status_error(response, provider)
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in allowed:
        raise PermanentError(f"The URL does not point to an allowed file type ({', '.join(sorted(allowed))}).",
                             provider=provider, code="unsupported_content_type")
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes, provider)
    size = 0
    for chunk in response.iter_bytes():  # no chunk_size: httpx would buffer, hiding a slow drip
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes, provider)
        out.write(chunk)
    if size == 0:
        raise PermanentError("The URL returned an empty file.", provider=provider, code="empty_response")
    return content_type, size


def _too_large(max_bytes: int, provider: str) -> PermanentError:
    return PermanentError(f"The file is larger than the limit of {max_bytes} bytes.", provider=provider,
                          code="too_large")


# --- POST ------------------------------------------------------------------------------------------------


def post_json(
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    deadline_seconds: float = 10.0,
    max_response_bytes: int = 64 * 1024,
    keep_bytes: int = 1024,
    provider: str = "webhook",
) -> PostResult:
    """POST `body` (JSON) to `url` and return whatever status came back, with the first `keep_bytes` of the
    answer's body (redirects are not followed: a 3xx is returned like any other status). Raises only when there
    was no answer: the URL refused (UrlRefusedError) or the exchange failed (a ProviderError)."""
    deadline = time.monotonic() + deadline_seconds
    target = _checked_target(url, provider)
    request_headers = httpx.Headers({"Content-Type": "application/json"})
    request_headers.update(headers)
    with (
        _network_errors(provider),
        _pinned_exchange(target, "POST", provider=provider, deadline=deadline, timeout=deadline_seconds,
                         headers=request_headers, content=body) as response,
    ):
        start = _discard_body(response, max_response_bytes, keep_bytes)
    return PostResult(status_code=response.status_code, body_start=start)


def _discard_body(response: httpx.Response, max_bytes: int, keep_bytes: int = 0) -> bytes:
    """Read at most `max_bytes` and return the first `keep_bytes` of them. The status line has already decided
    the outcome, so a body that is too long, too slow or cut off changes nothing."""
    read = 0
    kept = bytearray()
    with contextlib.suppress(httpx.TransportError):
        for chunk in response.iter_raw():
            if len(kept) < keep_bytes:
                kept += chunk[:keep_bytes - len(kept)]
            read += len(chunk)
            if read >= max_bytes:
                break
    return bytes(kept)
