"""The one place where an HTTP exchange with a provider becomes a result or a typed error (and is counted:
video_saas_provider_requests_total)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from structlog.contextvars import bound_contextvars

from video_saas import metrics

from .errors import (
    AmbiguousError,
    PermanentError,
    ProviderError,
    RateLimitedError,
    RetryableError,
    error_for_response,
    error_for_transport,
)

# (code, message) pulled out of a provider's error body.
ErrorBodyParser = Callable[[httpx.Response], tuple[str, str]]


def send(
    client: httpx.Client,
    request: httpx.Request,
    *,
    provider: str,
    operation: str,
    creates_work: bool,
    parse_error: ErrorBodyParser,
) -> httpx.Response:
    """Send `request` and return a 2xx response, or raise the ProviderError subclass that fits (errors.py).

    `creates_work` marks a call that makes the provider start paid work: if such a call times out or the
    connection drops after the request went out, the outcome is unknown and AmbiguousError is raised.
    Idempotent calls (polls, GETs) raise RetryableError instead. `operation` names the call in the metrics
    (metrics.OPERATIONS).
    """
    try:
        response = exchange(client, request, provider=provider, creates_work=creates_work, parse_error=parse_error)
    except ProviderError as exc:
        metrics.count_provider_request(provider, operation, outcome_of(exc))
        raise
    metrics.count_provider_request(provider, operation, "success")
    return response


def exchange(client: httpx.Client, request: httpx.Request, *, provider: str, creates_work: bool,
             parse_error: ErrorBodyParser) -> httpx.Response:
    try:
        with bound_contextvars(provider=provider):  # every line logged about the exchange names the provider
            response = client.send(request)
    except httpx.HTTPError as exc:
        raise error_for_transport(exc, provider=provider, creates_work=creates_work) from None
    if response.is_success:
        return response
    code, message = parse_error(response)
    raise error_for_response(response, provider=provider, code=code,
                             message=message or default_message(response.status_code))


# The classes that name an outcome, most specific first (RateLimitedError is a RetryableError).
OUTCOMES = ((RateLimitedError, "rate_limited"), (RetryableError, "retryable"), (AmbiguousError, "ambiguous"),
            (PermanentError, "permanent"))


def outcome_of(error: ProviderError) -> str:
    return next((name for cls, name in OUTCOMES if isinstance(error, cls)), "permanent")


def default_message(status_code: int) -> str:
    if status_code == 429:
        return "rate limited"
    return "provider error" if status_code >= 500 else "request rejected"


def json_body(response: httpx.Response, *, provider: str) -> dict:
    """The response's JSON object, or a RetryableError if the provider sent something else."""
    try:
        body = response.json()
    except ValueError:
        raise RetryableError(f"{provider} sent a response that is not JSON", provider=provider,
                             code="bad_response", status_code=response.status_code) from None
    if not isinstance(body, dict):
        raise RetryableError(f"{provider} sent an unexpected response shape", provider=provider,
                             code="bad_response", status_code=response.status_code)
    return body
