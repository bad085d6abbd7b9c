"""Typed errors of every outside exchange, and the one place that classifies them.

The pipeline decides what to do from the class alone:

- RetryableError: the other side did not do the work (5xx, connection refused); safe to try again later.
- RateLimitedError: a retryable 429; `retry_after` is the provider's Retry-After in seconds, if it sent one.
- PermanentError: the request itself is wrong or was refused for good (4xx, safety block, failed render).
- AmbiguousError: the request may have reached the provider but the answer was lost (timeout mid-request,
  connection reset). For a paid create this must never be blindly re-sent.

`error_for_response` and `error_for_transport` are the only places where an HTTP status, a provider's error code
or a network failure becomes one of these; the provider clients, downloads, the image fetch and webhook delivery
all use them. Messages never contain credentials, tokens or signed URLs: they are shown to users.
"""

from __future__ import annotations

import email.utils
import time

import httpx

from .redact import redact


class ProviderError(Exception):
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        code: str = "",
        status_code: int | None = None,
        request_id: str = "",
    ) -> None:
        message, code = redact(message), redact(code)  # shown to users and logged: never a secret or a signature
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.code = code
        self.status_code = status_code
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code}")
            parts[-1] += f", {self.code})" if self.code else ")"
        elif self.code:
            parts.append(f"({self.code})")
        return " ".join(parts)


class RetryableError(ProviderError):
    retryable = True


class RateLimitedError(RetryableError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PermanentError(ProviderError):
    retryable = False


class AmbiguousError(ProviderError):
    retryable = False


# --- Classification -------------------------------------------------------------------------------------------

# 501 Not Implemented and 505 HTTP Version Not Supported will answer the same way however often they are asked.
PERMANENT_SERVER_STATUSES = frozenset({501, 505})
RETRYABLE_CLIENT_STATUSES = frozenset({408, 425})  # Request Timeout, Too Early
# Provider error codes that say more than their HTTP status.
PROVIDER_CODES: dict[str, type[ProviderError]] = {
    "request_in_progress": RetryableError,  # HeyGen: the first request with this Idempotency-Key is still running
    "rate_limit_exceeded": RateLimitedError,  # HeyGen
    "RESOURCE_EXHAUSTED": RateLimitedError,  # Google APIs: quota
}


def error_class_for(status_code: int, code: str = "") -> type[ProviderError]:
    """The error class of an unsuccessful HTTP answer."""
    if code in PROVIDER_CODES:
        return PROVIDER_CODES[code]
    if status_code == 429:
        return RateLimitedError
    if status_code in RETRYABLE_CLIENT_STATUSES:
        return RetryableError
    if 500 <= status_code < 600 and status_code not in PERMANENT_SERVER_STATUSES:
        return RetryableError
    return PermanentError


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - (time.time() if now is None else now))


def error_for_response(response: httpx.Response, *, provider: str, message: str, code: str = "") -> ProviderError:
    """The typed error for an unsuccessful answer; `message` is what a user may read."""
    cls = error_class_for(response.status_code, code)
    kwargs = {"provider": provider, "code": code, "status_code": response.status_code,
              "request_id": response.headers.get("x-request-id", "")}
    if issubclass(cls, RateLimitedError):
        return cls(message, retry_after=parse_retry_after(response.headers.get("retry-after")), **kwargs)
    return cls(message, **kwargs)


# Failures that happen before a request can have reached the other side.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Requests that cannot work however often they are tried: a redirect loop, a scheme or a request we cannot send.
UNWORKABLE = (httpx.TooManyRedirects, httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def error_for_transport(exc: httpx.HTTPError, *, provider: str, creates_work: bool, what: str = "") -> ProviderError:
    """The typed error for a request that got no usable answer.

    `creates_work` marks a call that makes the other side start paid work: if it went out and the answer was lost,
    the outcome is unknown (AmbiguousError). Otherwise a lost answer is simply worth another try.
    """
    subject = what or provider
    if isinstance(exc, UNWORKABLE):
        return PermanentError(f"the request to {subject} cannot be made ({type(exc).__name__})", provider=provider,
                              code="request_unworkable")
    if isinstance(exc, NOT_SENT):
        return RetryableError(f"could not connect to {subject}: {type(exc).__name__}", provider=provider,
                              code="connection_failed")
    message = f"{subject} did not answer in time ({type(exc).__name__})"
    if creates_work:
        return AmbiguousError(message, provider=provider, code="no_response")
    return RetryableError(message, provider=provider, code="no_response")
