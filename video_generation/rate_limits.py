"""Counters per subject and clock-aligned window, in the shared cache: how many new videos a user may start
(`reserve_generate`), and any other limit that counts attempts the same way (`reserve`; the web sign-in counts its
failures per username and per address with it).

Every API process counts in the same place (Redis in production, see settings.CACHES), and the counter is moved
only by atomic `add` and `incr`, so neither several processes nor two simultaneous requests can exceed the limit.
What counts is a started video: a request that fails validation or replays an earlier one (Idempotency-Key) gives
its slot back. Windows are aligned to the clock ("10/hour" resets on the hour). If the cache cannot be reached the
request is let through and the outage logged: a rate limit must not take the API down with it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled

logger = logging.getLogger(__name__)

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    window_seconds: int


def parse_rate(text: str | None) -> Rate | None:
    """"10/hour" -> Rate(10, 3600); None or "" means unlimited. The period is read from its first letter."""
    if not text:
        return None
    count, _, period = text.partition("/")
    try:
        return Rate(int(count), PERIOD_SECONDS[period.strip()[0].lower()])
    except (ValueError, KeyError, IndexError):
        raise ValueError(f"invalid rate {text!r}: expected N/second, N/minute, N/hour or N/day") from None


class RateLimitExceeded(Throttled):
    """429 {"error": "Rate limit exceeded", "retry_after": n, "rate_limit": "10/hour"} with a Retry-After header:
    the rate named is the one the user went over (their plan's, or GENERATE_RATE_LIMIT)."""

    def __init__(self, wait=None, *, rate_limit: str = ""):
        super().__init__(wait=wait)
        self.rate_limit = rate_limit


@dataclass
class Reservation:
    """One counted slot; `release()` gives it back (at most once)."""

    key: str | None
    released: bool = False

    def release(self) -> None:
        if self.key is None or self.released:
            return
        self.released = True
        try:
            cache.decr(self.key)
        except ValueError:  # the window ended and its counter expired: nothing to give back
            pass
        except Exception as exc:
            logger.warning("rate limit: could not release a slot (%s)", type(exc).__name__)


_rate_overrides: list[Callable[[object], str | None]] = []


def register_rate_override(lookup: Callable[[object], str | None]) -> None:
    """Let another domain set a user's rate (billing: the plan's). `lookup(user)` returns a rate such as "50/hour",
    or None to leave GENERATE_RATE_LIMIT in force."""
    if lookup not in _rate_overrides:
        _rate_overrides.append(lookup)


def generate_rate_text(user) -> str | None:
    """The rate that applies to `user` as written: an override (the user's plan) if one is set, else
    GENERATE_RATE_LIMIT."""
    for lookup in _rate_overrides:
        if text := lookup(user):
            return text
    return settings.GENERATE_RATE_LIMIT or None


def generate_rate(user) -> Rate | None:
    return parse_rate(generate_rate_text(user))


def reserve(scope: str, rate: Rate | None, *, rate_text: str = "", now: float | None = None) -> Reservation:
    """Count one attempt for `scope` (e.g. "generate:42") in the current window of `rate`, or raise
    RateLimitExceeded if the window is full. No rate: nothing is counted. The caller may give the slot back
    (`Reservation.release()`) when the attempt turns out not to count."""
    if rate is None:
        return Reservation(key=None)
    now = time.time() if now is None else now
    window = int(now // rate.window_seconds)
    key = f"rate:{scope}:{rate.window_seconds}:{window}"
    try:
        cache.add(key, 0, timeout=rate.window_seconds + 60)
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr: count from one
        cache.add(key, 1, timeout=rate.window_seconds + 60)
        count = 1
    except Exception as exc:
        logger.warning("rate limit: the cache is unavailable (%s); letting the request through", type(exc).__name__)
        return Reservation(key=None)
    if count > rate.limit:
        Reservation(key=key).release()
        window_end = (window + 1) * rate.window_seconds
        raise RateLimitExceeded(wait=max(1, math.ceil(window_end - now)), rate_limit=rate_text)
    return Reservation(key=key)


def reserve_generate(user, *, now: float | None = None) -> Reservation:
    """Count one started video for `user`, or raise RateLimitExceeded if the window is full."""
    text = generate_rate_text(user)
    return reserve(f"generate:{user.pk}", parse_rate(text), rate_text=text or "", now=now)
