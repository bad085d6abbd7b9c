"""What the Developers pages need beyond the key store and the webhooks services: a secret carried once across the
redirect after the form that made it (Post/Redirect/Get), and forms that take effect once however often they are
sent (a double click, a reload, a second tab).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from django.core.cache import cache

from video_saas import encryption

logger = logging.getLogger(__name__)

# --- The one-time secret ----------------------------------------------------------------------------------------

SECRET_SESSION_KEY = "webapp_developers_secret"
# How long a secret waits in the session for the page that shows it: the redirect is followed at once, so a stale
# one (a redirect never followed) is dropped rather than shown hours later.
SECRET_SHOWN_WITHIN_SECONDS = 600


@dataclass(frozen=True)
class OneTimeSecret:
    kind: str  # "key" or "webhook": which page shows it
    object_id: str  # the key's or endpoint's id
    label: str  # what it is, for the person: the key's name, the endpoint's URL
    secret: str


def secret_keep(request, *, kind: str, object_id, label: str, secret: str) -> None:
    """Keep `secret` for the next page of this session only. Encrypted (video_saas/encryption.py, whose tokens carry
    their time), so the session store never holds it in clear; saved now, so the page the redirect leads to finds
    it even while this response is still on its way."""
    request.session[SECRET_SESSION_KEY] = {"kind": kind, "object_id": str(object_id), "label": label,
                                           "token": encryption.encrypt(secret)}
    request.session.save()


def secret_take(request) -> OneTimeSecret | None:
    """The kept secret, removed from the session by this very call; None if none was kept or it waited too long."""
    kept = request.session.pop(SECRET_SESSION_KEY, None)
    if not isinstance(kept, dict):
        return None
    try:
        secret = encryption.cipher().decrypt(str(kept["token"]).encode(), ttl=SECRET_SHOWN_WITHIN_SECONDS).decode()
    except (InvalidToken, KeyError):
        return None
    return OneTimeSecret(kind=str(kept.get("kind")), object_id=str(kept.get("object_id")),
                         label=str(kept.get("label", "")), secret=secret)


# --- Forms that take effect once --------------------------------------------------------------------------------

# Every form of these pages carries a fresh random token in the field ONCE_FIELD; the first request with a token
# claims it in the shared cache (an atomic add), so a second request with the same token does nothing.
ONCE_FIELD = "once"
ONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
ONCE_REMEMBERED_SECONDS = 24 * 3600
# A repeat waits (at most this long) for the first request to finish, so the page it leads to shows the result.
REPEAT_WAITS_SECONDS = 3.0
_PENDING, _DONE = "pending", "done"


def once_token() -> str:
    return secrets.token_urlsafe(24)


def once_well_formed(token) -> bool:
    return isinstance(token, str) and ONCE_PATTERN.fullmatch(token) is not None


def _once_key(user, token: str) -> str:
    return f"webapp:once:{user.pk}:{token}"


def once_claim(user, token: str) -> bool:
    """True for the first request that sends `token` (it goes ahead), False for any later one. If the cache cannot
    be reached the request goes ahead (and the outage is logged): a lost guard must not lock people out."""
    try:
        return cache.add(_once_key(user, token), _PENDING, ONCE_REMEMBERED_SECONDS)
    except Exception as exc:  # the cache client's errors differ by backend
        logger.warning("webapp: the once-only form guard is unavailable (%s)", type(exc).__name__)
        return True


def once_done(user, token: str, location: str | None) -> None:
    """The first request with `token` has finished; a repeat is sent to `location` (where the first one was sent),
    or to the overview when the first one answered with a page of its own."""
    try:
        cache.set(_once_key(user, token), location or _DONE, ONCE_REMEMBERED_SECONDS)
    except Exception as exc:
        logger.warning("webapp: the once-only form guard is unavailable (%s)", type(exc).__name__)


def once_wait(user, token: str, *, seconds: float = REPEAT_WAITS_SECONDS) -> str | None:
    """Let a repeated request wait until the first one with `token` has finished (or `seconds` have passed); where
    the first one was sent, if it was redirected."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            state = cache.get(_once_key(user, token))
        except Exception:
            return None
        if state != _PENDING:
            return state if isinstance(state, str) and state.startswith("/") and not state.startswith("//") else None
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)
