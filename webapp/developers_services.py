"""What the Developers pages need beyond the key store and the webhooks services: a secret carried once across the
redirect after the form that made it (Post/Redirect/Get). Their forms take effect once: webapp/once.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cryptography.fernet import InvalidToken

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
