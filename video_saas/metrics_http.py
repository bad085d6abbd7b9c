"""GET /metrics, who may read it, and the request-duration middleware.

Access (one rule, `denial`, for the API and the worker's metrics server):
- a request whose REMOTE_ADDR is a loopback address and that carries no proxy header (X-Forwarded-For, Forwarded,
  X-Real-IP) is let in, unless METRICS_OPEN_ON_LOOPBACK is false. REMOTE_ADDR is the peer of the TCP connection;
  forwarding headers are never believed, only noticed: a request relayed by a proxy on the same host arrives from
  loopback, and its proxy header says it came from elsewhere. (A proxy on the same host that adds no such header
  makes every request look local: set METRICS_OPEN_ON_LOOPBACK=false there.)
- anything else needs `Authorization: Bearer <METRICS_TOKEN>`, compared in constant time: no header (or another
  scheme) is 401, a wrong token 403; with METRICS_TOKEN unset, 404. The bodies say nothing more.

/metrics is answered by the middleware, first in the chain, before the host check and the HTTPS redirect: a
Prometheus server scrapes a pod by its IP address over plain HTTP, and the answer builds no URL and sets no cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver

from . import metrics

PATH = "/metrics"
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


@dataclass(frozen=True)
class Denied:
    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()


NOT_FOUND = Denied(404, "Not found\n")
NO_CREDENTIALS = Denied(401, "Unauthorized\n", (("WWW-Authenticate", 'Bearer realm="metrics"'),))
WRONG_TOKEN = Denied(403, "Forbidden\n")


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def is_local(meta) -> bool:
    """Sent from this host, directly: a loopback peer and no sign of a proxy in between."""
    return is_loopback(meta.get("REMOTE_ADDR") or "") and not any(meta.get(h) for h in PROXY_HEADERS)


def denial(meta) -> Denied | None:
    """Why a request (its META or WSGI environ) may not read the metrics; None when it may."""
    if settings.METRICS_OPEN_ON_LOOPBACK and is_local(meta):
        return None
    token = settings.METRICS_TOKEN
    if not token:
        return NOT_FOUND
    scheme, _, given = (meta.get("HTTP_AUTHORIZATION") or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return NO_CREDENTIALS
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return WRONG_TOKEN
    return None


def metrics_response(request) -> HttpResponse:
    refused = denial(request.META)
    if refused is not None:
        response = HttpResponse(refused.body, status=refused.status, content_type="text/plain; charset=utf-8")
        for name, value in refused.headers:
            response[name] = value
        return response
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    from .metrics_db import DatabaseCollector

    body, content_type = metrics.exposition(DatabaseCollector())
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response


# --- Request durations ------------------------------------------------------------------------------------------------

def route_of(request) -> str:
    """The URL pattern that answered (e.g. `api/video/status/<uuid:job_id>/`), never the raw path: a path that matched
    no pattern is `unmatched`, so the label's values are bounded by the URLconf."""
    match = getattr(request, "resolver_match", None)
    return (match.route if match is not None else "") or metrics.UNMATCHED_ROUTE


def api_routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the URLconf under api/ (the ones exported at zero from start-up)."""
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes += api_routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/"):
            routes.append(route)
    return routes


class MetricsMiddleware:
    """First in MIDDLEWARE: answers GET /metrics, and times every other request by its route and status class.
    Nothing here touches the database; the label children are cached (metrics._child)."""

    def __init__(self, get_response):
        self.get_response = get_response
        metrics.export_route_series(api_routes())

    def __call__(self, request):
        started = time.perf_counter()
        if request.path_info == PATH:
            response = metrics_response(request)
            route = metrics.METRICS_ROUTE
        else:
            response = self.get_response(request)
            route = route_of(request)
        metrics.observe_http(route, response.status_code, time.perf_counter() - started)
        return response
