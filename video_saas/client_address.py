"""Which address a request came from: one rule for every per-address limit.

REMOTE_ADDR is the peer of the TCP connection. Behind a load balancer or ingress that is the proxy, so every
visitor would share one address (and one attacker could use up everybody's sign-in attempts). With
TRUSTED_PROXY_HOPS = N > 0, the N proxies in front of us each appended the address they were connected from to
X-Forwarded-For, so the client is the N-th entry from the right; entries further left were written by the client and
are not believed. A header with fewer entries than N, or a malformed entry, falls back to REMOTE_ADDR.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings

UNKNOWN = "unknown"


def client_address(meta) -> str:
    """The client's IP address from a request's META (or a WSGI environ), normalised; "unknown" without one."""
    peer = _normalised(meta.get("REMOTE_ADDR") or "")
    hops = settings.TRUSTED_PROXY_HOPS
    if hops <= 0:
        return peer or UNKNOWN
    forwarded = [entry.strip() for entry in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if entry.strip()]
    if len(forwarded) < hops:
        return peer or UNKNOWN
    return _normalised(forwarded[-hops]) or peer or UNKNOWN


def _normalised(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""
