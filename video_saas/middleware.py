"""Refuse request bodies over REQUEST_MAX_BODY_BYTES (or a view's own limit: allows_body_bytes) before anything reads
them; give every request its id."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import structlog
from django.conf import settings
from django.http import JsonResponse
from django.urls import Resolver404, resolve


def body_too_large_response() -> JsonResponse:
    """The one 413 answer, also used when a body without a declared length turns out too large."""
    limit = settings.REQUEST_MAX_BODY_BYTES
    return JsonResponse({"error": f"Request body too large (the limit is {limit} bytes)", "max_bytes": limit},
                        status=413)


def allows_body_bytes(limit: Callable[[], int]):
    """Let one view take bodies up to `limit()` bytes instead of REQUEST_MAX_BODY_BYTES (a page with a file upload);
    the view then checks what it reads itself."""

    def mark(view):
        view.max_body_bytes = limit
        return view

    return mark


def _body_limit(request) -> int:
    """The view's own limit (allows_body_bytes), else REQUEST_MAX_BODY_BYTES. Asked only for a body over the
    latter, so ordinary requests are not resolved twice."""
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return settings.REQUEST_MAX_BODY_BYTES
    limit = getattr(view, "max_body_bytes", None)
    return max(settings.REQUEST_MAX_BODY_BYTES, limit()) if limit else settings.REQUEST_MAX_BODY_BYTES


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            too_large = int(declared) > settings.REQUEST_MAX_BODY_BYTES
        except ValueError:
            return JsonResponse({"error": "Invalid Content-Length header"}, status=400)
        if too_large and int(declared) > _body_limit(request):
            return body_too_large_response()
        return self.get_response(request)


# --- Request ids ------------------------------------------------------------------------------------------------

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only if it is 8-128 characters of letters, digits and . _ : = + - (UUIDs, W3C trace ids,
# most proxies' ids); anything else (too short to be unique, too long, spaces, quotes, newlines) is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+-]{8,128}")


def sane_request_id(value: str | None) -> str | None:
    """`value` if it may serve as a request id as it is, else None."""
    if value and len(value) <= 128 and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Every request has an id: the client's X-Request-ID when it is sane, a new one otherwise. It is bound to every
    log line of the request (and, through the job row and Celery's message headers, to every line of the jobs the
    request starts) and returned in the response's X-Request-ID. Nothing else is done per request: no log line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = sane_request_id(request.META.get("HTTP_X_REQUEST_ID")) or new_request_id()
        # Nothing bound by an earlier request on this thread survives. The id stays bound after the response: Django
        # logs a 4xx or 5xx answer ("Not Found: …") once the middleware chain has returned.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
