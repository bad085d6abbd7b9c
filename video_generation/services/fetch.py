"""SSRF-safe download of user-supplied URLs (product images).

`validate_public_url` checks a URL without fetching it (serializers use it too). `fetch_to_file` checks it the
same way, then connects to the very address it checked (the request goes to the IP, with the original Host
header and TLS SNI / certificate name), so a DNS answer that changes between check and connect (rebinding)
cannot redirect it. No redirects, no proxies from the environment, a byte cap, a content-type allowlist and a
deadline for the whole download.

Errors shown to users never contain the response body. The URL's own problems are PermanentError
(provider="image"); server trouble (5xx, connection failure, timeouts) is RetryableError.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import ssl
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

from .errors import PermanentError, RateLimitedError, RetryableError, parse_retry_after

PROVIDER = "image"
USER_AGENT = "video_saas-fetch/1.0"
MAX_GAP_SECONDS = 10.0  # longest silence tolerated between bytes (the deadline still bounds the total)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Host names that reach a cloud metadata server; refused even when ALLOW_PRIVATE_URLS is on.
_BLOCKED_HOSTS = frozenset({"metadata.google.internal", "metadata", "metadata.goog", "instance-data"})
_METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254"))
# Ranges to refuse beyond what `ipaddress` flags (some are only flagged on newer Pythons: CPython #113171).
_EXTRA_BLOCKED_NETWORKS = tuple(ipaddress.ip_network(net) for net in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
    "::/128", "::1/128", "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
    "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))


@dataclass(frozen=True)
class Fetched:
    content_type: str
    size: int


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower-case, no trailing dot, IPv6 without brackets
    port: int
    path_and_query: str
    addresses: tuple[IPAddress, ...]
    host_is_ip: bool


def _not_allowed(message: str = "This URL is not allowed.") -> PermanentError:
    return PermanentError(message, provider=PROVIDER, code="url_not_allowed")


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _unwrap(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.scope_id:
            return ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    return ip


def is_public_address(ip: IPAddress) -> bool:
    ip = _unwrap(ip)
    if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or not ip.is_global):
        return False
    return not any(ip.version == net.version and ip in net for net in _EXTRA_BLOCKED_NETWORKS)


def _is_numeric_host_form(host: str) -> bool:
    """True for IPv4 spellings resolvers accept that are not dotted-quad: 2130706433, 0x7f.1, 0177.0.0.1."""
    try:
        socket.inet_aton(host)
    except (OSError, ValueError):
        return False
    return True


def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            raise PermanentError("The URL's host name does not exist.", provider=PROVIDER,
                                 code="host_not_found") from None
        raise RetryableError("The URL's host name could not be resolved right now.", provider=PROVIDER,
                             code="dns_failed") from None
    except (UnicodeError, ValueError):
        raise _not_allowed() from None
    addresses = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        try:
            addresses.append(ipaddress.ip_address(sockaddr[0].split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses:
        raise PermanentError("The URL's host name does not exist.", provider=PROVIDER, code="host_not_found")
    return tuple(dict.fromkeys(addresses))


def _check(url: str) -> _Target:
    if not isinstance(url, str) or len(url) > 2048 or any(ch in url for ch in "\x00\r\n\t "):
        raise _not_allowed()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _not_allowed() from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _not_allowed("Only http and https URLs are allowed.")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise _not_allowed("URLs with user names or passwords are not allowed.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise _not_allowed()
    allow_private = bool(settings.ALLOW_PRIVATE_URLS)
    port = port if port is not None else _DEFAULT_PORTS[scheme]
    if port not in (80, 443) and not allow_private:
        raise _not_allowed("Only the standard ports 80 and 443 are allowed.")
    if host in _BLOCKED_HOSTS or (host.endswith(".internal") and not allow_private):
        raise _not_allowed()

    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is None:
        if _is_numeric_host_form(host):
            raise _not_allowed()
        try:
            host.encode("idna")
        except UnicodeError:
            raise _not_allowed() from None
        addresses = _resolve(host, port)
    else:
        addresses = (literal,)

    for ip in addresses:
        if _unwrap(ip) in _METADATA_ADDRESSES:
            raise _not_allowed()
        if not allow_private and not is_public_address(ip):
            raise _not_allowed()
    path_and_query = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return _Target(scheme, host, port, path_and_query, addresses, literal is not None)


def validate_public_url(url: str) -> None:
    """Raise PermanentError(code="url_not_allowed") unless `url` is an http(s) URL of a public host.

    Also resolves the host: an unknown name is PermanentError(code="host_not_found"), a DNS outage
    RetryableError(code="dns_failed").
    """
    _check(url)


def _pinned_request(client: httpx.Client, target: _Target, ip, allowed: frozenset[str]) -> httpx.Request:
    ip = _unwrap(ip)
    ip_host = f"[{ip}]" if ip.version == 6 else str(ip)
    url = f"{target.scheme}://{ip_host}:{target.port}{target.path_and_query}"
    host_header = f"[{target.host}]" if ":" in target.host else target.host
    if target.port != _DEFAULT_PORTS[target.scheme]:
        host_header += f":{target.port}"
    headers = {
        "Host": host_header,
        "User-Agent": USER_AGENT,
        "Accept": ", ".join(sorted(allowed)) or "*/*",
        "Accept-Encoding": "identity",
    }
    extensions = {}
    if target.scheme == "https" and not target.host_is_ip:
        extensions["sni_hostname"] = target.host  # TLS SNI and certificate check use the real name
    return client.build_request("GET", url, headers=headers, extensions=extensions)


def _status_error(response: httpx.Response) -> Exception:
    status = response.status_code
    if 300 <= status < 400:
        return PermanentError("The URL redirects elsewhere; please give the final URL.", provider=PROVIDER,
                              code="redirect_not_allowed", status_code=status)
    if status == 429:
        return RateLimitedError("The image server is rate limiting us.", provider=PROVIDER,
                                code="rate_limited", status_code=status,
                                retry_after=parse_retry_after(response.headers.get("retry-after")))
    if status == 408 or status >= 500:
        return RetryableError("The image server had a temporary error.", provider=PROVIDER,
                              code="server_error", status_code=status)
    return PermanentError(f"The image URL could not be downloaded (HTTP {status}).", provider=PROVIDER,
                          code="http_error", status_code=status)


def _too_large(max_bytes: int) -> PermanentError:
    return PermanentError(f"The file is larger than the limit of {max_bytes} bytes.", provider=PROVIDER,
                          code="too_large")


def _deadline_error() -> RetryableError:
    return RetryableError("The download took too long.", provider=PROVIDER, code="timeout")


def _read_body(response: httpx.Response, out, *, max_bytes: int, allowed: frozenset[str],
               deadline: float) -> tuple[str, int]:
    if not response.is_success:
        raise _status_error(response)
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in allowed:
        raise PermanentError("The URL does not point to an allowed file type (" + ", ".join(sorted(allowed))
                             + ").", provider=PROVIDER, code="unsupported_content_type")
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    size = 0
    for chunk in response.iter_bytes():  # no chunk_size: httpx would buffer, hiding a slow drip
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        if time.monotonic() > deadline:
            raise _deadline_error()
        out.write(chunk)
    if time.monotonic() > deadline:
        raise _deadline_error()
    if size == 0:
        raise PermanentError("The URL returned an empty file.", provider=PROVIDER, code="empty_response")
    return content_type, size


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Built once per process: loading the CA bundle costs tens of milliseconds of CPU, once per fetch otherwise.
    Each fetch still gets its own client (its connection is pinned to the address we checked)."""
    return httpx.create_ssl_context(verify=True, trust_env=False)


def fetch_to_file(
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    allowed_content_types: frozenset[str],
    deadline_seconds: float = 30.0,
) -> Fetched:
    """Download `url` to `dest` (written atomically) and return its content type and size."""
    deadline = time.monotonic() + deadline_seconds
    target = _check(url)
    allowed = frozenset(t.strip().lower() for t in allowed_content_types)
    gap = max(0.1, min(MAX_GAP_SECONDS, deadline_seconds))  # httpx timeouts bound silences, not the total

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, httpx.Client(
            trust_env=False, follow_redirects=False, timeout=httpx.Timeout(gap), verify=_tls_context()
        ) as client:
            request = _pinned_request(client, target, target.addresses[0], allowed)
            try:
                response = client.send(request, stream=True)
                try:
                    content_type, size = _read_body(response, out, max_bytes=max_bytes, allowed=allowed,
                                                     deadline=deadline)
                finally:
                    response.close()
            except httpx.TimeoutException:
                raise RetryableError("The image server did not answer in time.", provider=PROVIDER,
                                     code="timeout") from None
            except (httpx.TransportError, httpx.DecodingError) as exc:
                raise RetryableError(f"Could not download the image ({type(exc).__name__}).",
                                     provider=PROVIDER, code="connection_failed") from None
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Fetched(content_type=content_type, size=size)
