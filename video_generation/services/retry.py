"""When to try again: exponential backoff with jitter, honoured Retry-After, and attempt ceilings.

Every retry in the product (provider submits, status polls, downloads, webhook deliveries) takes its delay and its
"give up?" answer from a RetryPolicy, so they all back off the same way. Jitter is "equal jitter": a delay drawn
between half and all of the computed wait, so retries spread out yet never come back almost at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


def jittered(seconds: float) -> float:
    return random.uniform(seconds / 2, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int  # attempts in all, the first included
    base_seconds: float  # the wait after the first failure, before jitter
    cap_seconds: float  # no wait is longer

    def exhausted(self, attempts_made: int) -> bool:
        """True once `attempts_made` attempts have failed and no further one is allowed."""
        return attempts_made >= self.max_attempts

    def delay(self, attempts_made: int, *, retry_after: float | None = None) -> float:
        """Seconds to wait before the next attempt. A provider's Retry-After is honoured (up to the cap), plus up
        to a second of jitter so that everything it throttled does not come back in the same instant."""
        if retry_after is not None:
            return min(self.cap_seconds, retry_after) + random.uniform(0, 1)
        return jittered(min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts_made - 1)))
