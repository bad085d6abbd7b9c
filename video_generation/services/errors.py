"""Typed provider errors. The pipeline decides what to do from the class alone:

- RetryableError: the provider did not do the work (5xx, connection refused); safe to try again later.
- RateLimitedError: a retryable 429; `retry_after` is the provider's Retry-After in seconds, if it sent one.
- PermanentError: the request itself is wrong or was refused for good (4xx, safety block, failed render).
- AmbiguousError: the request may have reached the provider but the answer was lost (timeout mid-request,
  connection reset). For a paid create this must never be blindly re-sent.

Messages never contain credentials, tokens or signed URLs: they are shown to users in `error_message`.
"""

from __future__ import annotations


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
