"""Secrets and signatures, the Standard Webhooks way (https://www.standardwebhooks.com):

    webhook-id: msg_<event>    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))> [v1,<...> ...]

An endpoint's secret is `whsec_` + base64 of 32 random bytes, the key being those bytes. Every secret still valid
signs (after a rotation: the new one and, for 24 hours, the old), space-separated, so a receiver holding either
verifies. The standardwebhooks package computes each signature.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from .models import Delivery

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
ROTATION_OVERLAP = timedelta(hours=24)  # how long a replaced secret keeps signing beside the new one


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def key_of(secret: str) -> bytes:
    """The HMAC key a secret stands for: a `whsec_` secret's base64-decoded bytes; any other string (an operator's
    WEBHOOK_SECRET of old) as its UTF-8 bytes, as it was signed before."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX):] + "==")
    return secret.encode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 signature>` of one message under one secret."""
    return Webhook(key_of(secret)).sign(message_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode())


def signature_header(secrets_: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(signature(secret, message_id, timestamp, body) for secret in secrets_)


def secrets_for(delivery: Delivery, *, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with: its endpoint's (with the replaced one during a rotation's overlap);
    for a job's own webhook_url, settings.WEBHOOK_SECRET if set (none: sent unsigned)."""
    endpoint = delivery.endpoint
    if endpoint is None:
        return [settings.WEBHOOK_SECRET] if settings.WEBHOOK_SECRET else []
    now = now or timezone.now()
    overlapping = bool(endpoint.previous_secret) and endpoint.previous_secret_expires_at is not None \
        and endpoint.previous_secret_expires_at > now
    return [endpoint.secret, endpoint.previous_secret] if overlapping else [endpoint.secret]
