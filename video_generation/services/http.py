"""The one place where an HTTP exchange with a provider becomes a result or a typed error."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import httpx

from .errors import AmbiguousError, PermanentError, RateLimitedError, RetryableError

RETRYABLE_STATUSES = frozenset({408, 500, 502, 503, 504})

# (code, message) pulled out of a provider's error body.
ErrorBodyParser = Callable[[httpx.Response], tuple[str, str]]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_to_datetime(value) if value else None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - (time.time() if now is None else now))


def send(
    client: httpx.Client,
    request: httpx.Request,
    *,
    provider: str,
    creates_work: bool,
    parse_error: ErrorBodyParser,
) -> httpx.Response:
    """Send `request` and return a 2xx response, or raise the ProviderError subclass that fits.

    `creates_work` marks a call that makes the provider start paid work: if such a call times out or the
    connection drops after the request went out, the outcome is unknown and AmbiguousError is raised.
    Idempotent calls (polls, GETs) raise RetryableError instead.
    """
    try:
        response = client.send(request)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise RetryableError(f"could not connect to {provider}: {type(exc).__name__}", provider=provider,
                             code="connection_failed") from None
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        message = f"{provider} did not answer in time ({type(exc).__name__})"
        if creates_work:
            raise AmbiguousError(message, provider=provider, code="no_response") from None
        raise RetryableError(message, provider=provider, code="no_response") from None

    if response.is_success:
        return response

    code, message = parse_error(response)
    request_id = response.headers.get("x-request-id", "")
    kwargs = {"provider": provider, "code": code, "status_code": response.status_code, "request_id": request_id}
    if response.status_code == 429:
        raise RateLimitedError(message or "rate limited", retry_after=parse_retry_after(
            response.headers.get("retry-after")), **kwargs)
    if response.status_code in RETRYABLE_STATUSES:
        raise RetryableError(message or "provider error", **kwargs)
    raise PermanentError(message or "request rejected", **kwargs)


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
