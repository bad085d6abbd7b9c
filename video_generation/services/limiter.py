"""A shared limiter: requests per window and slots in flight, decided atomically in Redis (or in this process's
memory when no Redis is configured: single-process runs and in-process tests).

Two kinds of limit, each one sorted set per key:

- **a window** ("at most `limit` requests in any `window` seconds"): a log of send times. A caller over the limit
  is not just refused: a *reservation* is written for it at the first instant the window has room, counting every
  earlier reservation, and it is told how long to wait. When it comes back (at or after that instant) its
  reservation admits it. So a burst of callers is spread out in order, never re-queued all at once, and every
  process counts the same log. A reservation nobody uses (a cancelled job) only wastes its one slot for one window:
  the limit is never exceeded, only approached more slowly.
- **slots in flight** ("at most `limit` holders at once"): each holder's entry is scored by its lease's expiry.
  A holder renews its lease while it works and releases it when done; one that stops renewing (a crashed worker)
  loses its slot when the lease expires. Taking a slot already held renews it (a retried caller never holds two).

Check-and-take is one Lua script (Redis runs a script atomically), so racing processes cannot both take the last
slot. Times come from the caller's clock (every worker is NTP-synced; tests move it). If Redis cannot be reached
the caller is let through and the outage logged: a provider 429 is then handled as it always was.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from functools import cache

from django.conf import settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "admission:"
REDIS_TIMEOUT_SECONDS = 0.5

# KEYS[1] the log; ARGV: limit, window, now, holder, nonce. Returns the seconds to wait (0: admitted), as text.
TAKE_WINDOW_LUA = """
local key, limit, window, now = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local holder, nonce = ARGV[4], ARGV[5]
local function answer(wait)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIRE', key, math.ceil((tonumber(last[2]) - now + window) * 1000) + 60000)
  end
  return tostring(wait)
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local reserved = redis.call('ZSCORE', key, holder)
if reserved then
  reserved = tonumber(reserved)
  if reserved > now then return answer(reserved - now) end
  redis.call('ZREM', key, holder)
  redis.call('ZADD', key, reserved, holder .. ':' .. nonce)
  return answer(0)
end
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, holder .. ':' .. nonce)
  return answer(0)
end
local blocking = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
local at = tonumber(blocking[2]) + window
redis.call('ZADD', key, at, holder)
return answer(at - now)
"""

# KEYS[1] the holders; ARGV: limit, now, holder, expiry. Returns the seconds until the first lease ends (0: taken).
TAKE_SLOT_LUA = """
local key, limit, now, holder, expiry = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZSCORE', key, holder) or redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, expiry, holder)
  redis.call('PEXPIRE', key, math.ceil((expiry - now) * 1000) + 60000)
  return '0'
end
local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(tonumber(first[2]) - now)
"""

# KEYS[1] the holders; ARGV: holder, expiry, now. Renews a lease that is still held (1) or does nothing (0).
RENEW_SLOT_LUA = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  if redis.call('PTTL', KEYS[1]) < (tonumber(ARGV[2]) - tonumber(ARGV[3])) * 1000 then
    redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(ARGV[2]) - tonumber(ARGV[3])) * 1000) + 60000)
  end
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    wait_seconds: float = 0.0


ADMITTED = Verdict(True)


def verdict(wait: float) -> Verdict:
    return ADMITTED if wait <= 0 else Verdict(False, wait)


class MemoryBackend:
    """The same rules in this process's memory, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.logs: dict[str, dict[str, float]] = {}
        self.slots: dict[str, dict[str, float]] = {}

    def take_window(self, key: str, *, limit: int, window: float, now: float, holder: str) -> float:
        with self.lock:
            log = self.logs.setdefault(key, {})
            for member in [m for m, at in log.items() if at <= now - window]:
                del log[member]
            reserved = log.pop(holder, None)
            if reserved is not None:
                if reserved > now:
                    log[holder] = reserved
                    return reserved - now
                log[f"{holder}:{uuid.uuid4().hex}"] = reserved
                return 0.0
            if len(log) < limit:
                log[f"{holder}:{uuid.uuid4().hex}"] = now
                return 0.0
            at = sorted(log.values())[len(log) - limit] + window
            log[holder] = at
            return at - now

    def give_back_window(self, key: str, *, holder: str) -> None:
        with self.lock:
            log = self.logs.get(key, {})
            for member in [m for m in log if m.startswith(f"{holder}:")][-1:]:
                del log[member]

    def take_slot(self, key: str, *, limit: int, now: float, holder: str, expiry: float) -> float:
        with self.lock:
            held = self.slots.setdefault(key, {})
            for member in [m for m, until in held.items() if until <= now]:
                del held[member]
            if holder in held or len(held) < limit:
                held[holder] = expiry
                return 0.0
            return min(held.values()) - now

    def renew_slot(self, key: str, *, holder: str, now: float, expiry: float) -> None:
        with self.lock:
            held = self.slots.get(key, {})
            if holder in held:
                held[holder] = expiry

    def release_slot(self, key: str, *, holders: list[str]) -> None:
        with self.lock:
            for holder in holders:
                self.slots.get(key, {}).pop(holder, None)

    def holders(self, key: str) -> list[str]:
        with self.lock:
            return list(self.slots.get(key, {}))


class RedisBackend:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                           socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        self._take_window = self.client.register_script(TAKE_WINDOW_LUA)
        self._take_slot = self.client.register_script(TAKE_SLOT_LUA)
        self._renew_slot = self.client.register_script(RENEW_SLOT_LUA)

    def take_window(self, key: str, *, limit: int, window: float, now: float, holder: str) -> float:
        return float(self._take_window(keys=[key], args=[limit, window, repr(now), holder, uuid.uuid4().hex]))

    def give_back_window(self, key: str, *, holder: str) -> None:
        # The admitted entry is `holder:nonce`; scanning a log of at most a minute's requests is cheap.
        members = [m.decode() for m in self.client.zrange(key, 0, -1)]
        mine = [m for m in members if m.startswith(f"{holder}:")]
        if mine:
            self.client.zrem(key, mine[-1])

    def take_slot(self, key: str, *, limit: int, now: float, holder: str, expiry: float) -> float:
        return float(self._take_slot(keys=[key], args=[limit, repr(now), holder, repr(expiry)]))

    def renew_slot(self, key: str, *, holder: str, now: float, expiry: float) -> None:
        self._renew_slot(keys=[key], args=[holder, repr(expiry), repr(now)])

    def release_slot(self, key: str, *, holders: list[str]) -> None:
        if holders:
            self.client.zrem(key, *holders)

    def holders(self, key: str) -> list[str]:
        return [m.decode() for m in self.client.zrange(key, 0, -1)]


_memory = MemoryBackend()


@cache
def _redis(url: str) -> RedisBackend:
    return RedisBackend(url)


def backend() -> MemoryBackend | RedisBackend:
    """Redis when ADMISSION_REDIS_URL is set (shared by every process), else this process's memory."""
    url = settings.ADMISSION_REDIS_URL
    return _redis(url) if url else _memory


def reset_memory() -> None:
    """Forget every in-memory count (tests)."""
    global _memory
    _memory = MemoryBackend()


# --- The operations the pipeline uses: each lets the caller through when the store cannot be reached ------------

def take_window(name: str, *, limit: int, window: float, now: float, holder: str) -> Verdict:
    if limit <= 0:
        return ADMITTED
    try:
        return verdict(backend().take_window(KEY_PREFIX + name, limit=limit, window=window, now=now, holder=holder))
    except Exception as exc:
        logger.warning("admission: the limiter is unavailable (%s); letting %s through", type(exc).__name__, name)
        return ADMITTED


def give_back_window(name: str, *, holder: str) -> None:
    """Undo an admission that sent nothing (the step was taken by another worker, or its job was cancelled)."""
    try:
        backend().give_back_window(KEY_PREFIX + name, holder=holder)
    except Exception as exc:
        logger.warning("admission: could not give back a request of %s (%s)", name, type(exc).__name__)


def take_slot(name: str, *, limit: int, now: float, holder: str, lease: float) -> Verdict:
    if limit <= 0:
        return ADMITTED
    try:
        return verdict(backend().take_slot(KEY_PREFIX + name, limit=limit, now=now, holder=holder,
                                           expiry=now + lease))
    except Exception as exc:
        logger.warning("admission: the limiter is unavailable (%s); letting %s through", type(exc).__name__, name)
        return ADMITTED


def renew_slot(name: str, *, holder: str, now: float, lease: float) -> None:
    try:
        backend().renew_slot(KEY_PREFIX + name, holder=holder, now=now, expiry=now + lease)
    except Exception as exc:
        logger.warning("admission: could not renew a slot of %s (%s)", name, type(exc).__name__)


def release_slots(name: str, holders: list[str]) -> None:
    try:
        backend().release_slot(KEY_PREFIX + name, holders=holders)
    except Exception as exc:
        logger.warning("admission: could not release slots of %s (%s)", name, type(exc).__name__)


def slot_holders(name: str) -> list[str]:
    try:
        return backend().holders(KEY_PREFIX + name)
    except Exception as exc:
        logger.warning("admission: could not list the slots of %s (%s)", name, type(exc).__name__)
        return []
