"""Forms that take effect once, however often they are sent (a double click, a reload, a second tab).

Each such form carries a fresh random token; the first request with it claims it in the shared cache (an atomic add)
and goes ahead, later ones do nothing and get what the first one left (`done`): where it was sent, or the Checkout it
opened. A claim is per user and per `scope` (the item a form buys), so one token cannot be claimed for another
account or another item. If the cache cannot be reached the request goes ahead (logged): a lost guard must not lock
people out — paid effects keep their own guard behind it (Stripe's idempotency key, the ledger's unique entries).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

FIELD = "once"  # the form field that carries the token, where a form has no name of its own for it
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
REMEMBERED_SECONDS = 23 * 3600  # under Stripe's 24 hours, for the idempotency key a checkout derives from a claim
_PENDING = "pending"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def well_formed(token) -> bool:
    return isinstance(token, str) and TOKEN_PATTERN.fullmatch(token) is not None


def claim_id(user, token: str, scope: str = "") -> str:
    """The claim's name: also what a paid call derives its idempotency key from."""
    return hashlib.sha256(f"{user.pk}:{token}:{scope}".encode()).hexdigest()


def _key(user, token: str, scope: str) -> str:
    return f"webapp:once:{claim_id(user, token, scope)}"


def claim(user, token: str, scope: str = "") -> bool:
    """True for the first request that sends `token` (it goes ahead), False for any later one."""
    try:
        return cache.add(_key(user, token, scope), _PENDING, REMEMBERED_SECONDS)
    except Exception as exc:  # the cache client's errors differ by backend
        logger.warning("webapp: the once-only form guard is unavailable (%s)", type(exc).__name__)
        return True


def done(user, token: str, result, scope: str = "") -> None:
    """The first request with `token` has finished; `result` (a str or a dict) is what a repeat gets."""
    try:
        cache.set(_key(user, token, scope), {"result": result}, REMEMBERED_SECONDS)
    except Exception as exc:
        logger.warning("webapp: the once-only form guard is unavailable (%s)", type(exc).__name__)


def release(user, token: str, scope: str = "") -> None:
    """The first request failed before it took effect: the same form may be sent again."""
    try:
        cache.delete(_key(user, token, scope))
    except Exception as exc:
        logger.warning("webapp: the once-only form guard is unavailable (%s)", type(exc).__name__)


def outcome(user, token: str, *, seconds: float, scope: str = ""):
    """What the first request with `token` left (waiting at most `seconds` while it is still running); None if it is
    still running, left nothing, or the cache cannot say."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            state = cache.get(_key(user, token, scope))
        except Exception:
            return None
        if state != _PENDING:
            return state.get("result") if isinstance(state, dict) else None
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)
