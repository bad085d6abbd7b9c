"""One error envelope for the API (the brief's "API Error Responses"), configured as DRF's EXCEPTION_HANDLER.

* validation errors   -> 400 {"error": "Validation error", "details": {...}}
* unreadable body     -> 400 {"error": "Invalid JSON", "details": {"body": [why]}}
* body over the cap   -> 413 {"error": "Request body too large ...", "max_bytes": n}
* authentication      -> 401/403 DRF's own {"detail": ...} (the brief's 401 body)
* not found           -> 404 {"error": "Job not found"} on job endpoints, {"error": "Not found"} elsewhere
* throttled           -> 429 {"error": "Rate limit exceeded", "retry_after": seconds, "rate_limit"?: "10/hour"}
* a job refused       -> its own status and body (pipeline.signals.JobRefused: 402 {"error": "Insufficient
                         credits", "required": n, "available": m}, plan limits)
* other API errors    -> their status with {"error": message}
* anything unexpected -> logged, then 500 {"error": "Internal server error", "message": ...}; never a trace
"""

from __future__ import annotations

import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from video_saas.middleware import body_too_large_response

from .pipeline.signals import JobRefused

logger = logging.getLogger("video_generation")

INTERNAL_ERROR_BODY = {"error": "Internal server error", "message": "An unexpected error occurred"}


class JobNotFound(exceptions.NotFound):
    """The job does not exist, is malformed, or belongs to someone else (all look the same to the caller)."""

    default_detail = "Job not found"
    default_code = "job_not_found"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the resource's current state."
    default_code = "conflict"


class UnprocessableRequest(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


_KEEP_DRF_BODY = (exceptions.NotAuthenticated, exceptions.AuthenticationFailed, exceptions.PermissionDenied)


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return body_too_large_response()
    if isinstance(exc, JobRefused):
        set_rollback()
        return Response(exc.body, status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.error(
            "Unhandled error in %s", type(view).__name__ if view is not None else "API view", exc_info=exc
        )
        set_rollback()
        return Response(INTERNAL_ERROR_BODY, status=status.HTTP_500_INTERNAL_SERVER_ERROR)

    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"error": "Validation error", "details": details}
    elif isinstance(exc, exceptions.ParseError):
        response.data = {"error": "Invalid JSON", "details": {"body": [str(exc.detail)]}}
    elif isinstance(exc, exceptions.Throttled):
        retry_after = math.ceil(exc.wait) if exc.wait is not None else None
        response.data = {"error": "Rate limit exceeded", "retry_after": retry_after}
        if rate_limit := getattr(exc, "rate_limit", ""):  # the generate rate limit names itself
            response.data["rate_limit"] = rate_limit
    elif isinstance(exc, _KEEP_DRF_BODY):
        pass
    elif isinstance(exc, JobNotFound):
        response.data = {"error": str(exc.detail)}
    elif isinstance(exc, exceptions.NotFound):
        response.data = {"error": "Not found"}
    else:
        response.data = {"error": _message(exc.detail)}
    return response


def _message(detail) -> str:
    if isinstance(detail, list | tuple) and detail:
        return str(detail[0])
    if isinstance(detail, dict) and detail:
        return str(next(iter(detail.values())))
    return str(detail)
