"""Secrets we must be able to read back (a webhook endpoint's signing secret signs every delivery, so it cannot be
hashed like an API key) are stored encrypted: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under keys
derived from SECRET_KEY and SECRET_KEY_FALLBACKS. A copy of the database alone reveals none of them.

Rotating SECRET_KEY: put the old key first in SECRET_KEY_FALLBACKS (values still decrypt under it), run
`manage.py reencrypt_secrets` (every value rewritten under the new key), then drop the fallback.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# Bound into the derivation so this key is never the one Django's signing or any other use derives.
_KEY_PURPOSE = b"video_saas.encryption.field-secrets.v1"


def _fernet_key(secret_key: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_PURPOSE).derive(secret_key.encode())
    return base64.urlsafe_b64encode(derived)


@functools.cache
def _cipher(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(key)) for key in (secret_key, *fallbacks)])


def cipher() -> MultiFernet:
    """Encrypts under SECRET_KEY; decrypts under it or any fallback."""
    return _cipher(settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        # Never the value itself: only that the keys do not fit (a SECRET_KEY changed without its fallback).
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with SECRET_KEY or SECRET_KEY_FALLBACKS: was SECRET_KEY changed "
            "without keeping the old one in SECRET_KEY_FALLBACKS?") from None


class EncryptedTextField(models.TextField):
    """A text value that is encrypted in the database and plain in Python. The empty string stays empty (it is
    "no value", not a secret). Not searchable: every encryption of a value differs."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)



def reencrypt_everything() -> int:
    """Rewrite every encrypted value of every model under the current SECRET_KEY (a value is read under whichever
    key opens it and saved under the first); returns how many rows were rewritten."""
    from django.apps import apps
    from django.db import transaction

    rewritten = 0
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if not names:
            continue
        for pk in model._default_manager.values_list("pk", flat=True).iterator():
            with transaction.atomic():
                row = model._default_manager.select_for_update().filter(pk=pk).only("pk", *names).first()
                if row is not None:
                    row.save(update_fields=names)
                    rewritten += 1
    return rewritten
