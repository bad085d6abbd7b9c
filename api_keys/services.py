"""Issuing, revoking and checking API keys. The secret exists in clear only in `issue_key`'s return value."""

from __future__ import annotations

import datetime as dt
import functools
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from video_saas.raw_rows import in_model_order, instance_from_row, sql_of

from . import keys
from .models import ApiKey, Scope

# Compared against when no row matched, so a miss does the same work as a hit.
_NO_MATCH_DIGEST = "0" * 64


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # shown to the caller once, never stored


def default_expiry(now: dt.datetime) -> dt.datetime | None:
    days = settings.API_KEY_DEFAULT_LIFETIME_DAYS
    return now + dt.timedelta(days=days) if days else None


MAX_KEY_ID_DIGITS = 18  # a bigint's worth: a longer id names no key


def parse_key_id(text: str) -> int | None:
    """A key id as it appears in a URL, or None if it cannot name a key (the caller answers 404)."""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_KEY_ID_DIGITS:
        return None
    return int(text)


def listed_keys(user):
    """The keys the owner sees: every key not revoked (an expired one too, until it is revoked), newest first."""
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)


def live_keys(user):
    now = timezone.now()
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def scopes_within(requested: list[str], granted: list[str]) -> bool:
    """Whether a key with `granted` scopes may hand out `requested` ones (an empty list means every scope)."""
    if not granted:
        return True
    return bool(requested) and set(requested) <= set(granted)


def issue_key(*, user, name: str, scopes: list[str] | None = None, expires_at: dt.datetime | None = None,
              issuer: ApiKey | None = None) -> IssuedKey:
    """A new key for `user`. `issuer` is the key the request came with, if any: the new key may not do more
    (scopes) or live longer (expiry) than it."""
    now = timezone.now()
    scopes = sorted(set(scopes or []))
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise ValidationError({"scopes": [f"Unknown scope {s!r}. Scopes: {', '.join(Scope.values)}." for s in unknown]})
    if expires_at is not None and expires_at <= now:
        raise ValidationError({"expires_at": ["Must be in the future."]})
    if issuer is not None and not scopes_within(scopes, issuer.scopes):
        raise ValidationError({"scopes": ["A key can only create keys with scopes it has itself "
                                          f"({', '.join(issuer.scopes)})."]})
    ceiling = issuer.expires_at if issuer is not None else None
    if expires_at is not None and ceiling is not None and expires_at > ceiling:
        raise ValidationError({"expires_at": ["A key can only create keys that expire no later than itself "
                                              f"({ceiling.isoformat()})."]})
    if expires_at is None:
        expires_at = min((e for e in (default_expiry(now), ceiling) if e is not None), default=None)

    secret = keys.new_key()
    with transaction.atomic():
        # One issuer at a time per user, so two requests cannot both take the last free place.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        limit = settings.API_KEYS_MAX_PER_USER
        if live_keys(user).count() >= limit:
            raise ValidationError({"non_field_errors": [f"You have {limit} live keys, the most allowed: revoke "
                                                        "one first."]})
        api_key = ApiKey.objects.create(user=user, name=name, prefix=keys.display_prefix(secret),
                                        key_hash=keys.hash_key(secret), scopes=scopes, created_at=now,
                                        expires_at=expires_at)
    return IssuedKey(api_key=api_key, secret=secret)


def revoke_key(*, user, key_id: int, revoker: ApiKey | None = None) -> bool:
    """Revoke the user's key; False if the user has no such key (another user's id included). A request made
    with a key may revoke only keys that can do no more than it can."""
    api_key = ApiKey.objects.filter(user=user, pk=key_id).first()
    if api_key is None:
        return False
    if revoker is not None and not scopes_within(api_key.scopes, revoker.scopes):
        raise ValidationError({"id": ["A key can only revoke keys with scopes it has itself."]})
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return True


def authenticate_key(presented: str) -> ApiKey | None:
    """The live key `presented` is, with its user loaded (one query), or None. An unknown, revoked or expired
    key, or one whose user is inactive, takes the same path: one lookup by hash, one constant-time comparison,
    every condition evaluated."""
    digest = keys.hash_key(presented)
    api_key = key_with_user(digest)
    now = timezone.now()
    matches = hmac.compare_digest(api_key.key_hash if api_key else _NO_MATCH_DIGEST, digest)
    usable = api_key.is_usable(now) & api_key.user.is_active if api_key else False
    if not (matches & usable):
        return None
    note_use(api_key, now)
    return api_key


def key_lookup_queryset(digest: str):
    return ApiKey.objects.select_related("user").filter(key_hash=digest).order_by()[:1]


def key_with_user(digest: str) -> ApiKey | None:
    """The key whose hash is `digest`, its user loaded: every authenticated request's read, so its SQL is built by
    the ORM once per process (video_saas/raw_rows.py) and its row turned into instances as the ORM would."""
    with connection.cursor() as cursor:
        cursor.execute(_key_lookup_sql(connection.vendor), [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    key_columns, user_columns = _lookup_columns()
    api_key = instance_from_row(ApiKey, key_columns, row[:len(key_columns)])
    api_key.user = instance_from_row(get_user_model(), user_columns, row[len(key_columns):])
    return api_key


_SAMPLE_DIGEST = "5eed" * 16


@functools.cache
def _key_lookup_sql(vendor: str) -> str:
    return sql_of(key_lookup_queryset(_SAMPLE_DIGEST), [_SAMPLE_DIGEST])


@functools.cache
def _lookup_columns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    return in_model_order(ApiKey, None), in_model_order(get_user_model(), None)


def note_use(api_key: ApiKey, now: dt.datetime) -> None:
    """Record the use at most once per API_KEY_TOUCH_SECONDS: no write at all in between, and a conditional
    UPDATE, so many processes using the key at once write it once."""
    stale_before = now - dt.timedelta(seconds=settings.API_KEY_TOUCH_SECONDS)
    if api_key.last_used_at is not None and api_key.last_used_at > stale_before:
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale_before)).update(last_used_at=now)
    api_key.last_used_at = now
