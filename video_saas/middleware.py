"""Refuse request bodies over REQUEST_MAX_BODY_BYTES before anything reads them."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse


def body_too_large_response() -> JsonResponse:
    """The one 413 answer, also used when a body without a declared length turns out too large."""
    limit = settings.REQUEST_MAX_BODY_BYTES
    return JsonResponse({"error": f"Request body too large (the limit is {limit} bytes)", "max_bytes": limit},
                        status=413)


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            too_large = int(declared) > settings.REQUEST_MAX_BODY_BYTES
        except ValueError:
            return JsonResponse({"error": "Invalid Content-Length header"}, status=400)
        if too_large:
            return body_too_large_response()
        return self.get_response(request)
