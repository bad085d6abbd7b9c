"""Secrets we must read back are stored encrypted under keys derived from SECRET_KEY, and survive its rotation."""

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured

from video_saas import encryption

SECRET = "whsec_c2VjcmV0LWJ5dGVzLWZvci10ZXN0aW5nLW9ubHktMzI="


def test_a_value_round_trips_and_its_stored_form_reveals_nothing(settings):
    token = encryption.encrypt(SECRET)
    assert SECRET not in token and "c2VjcmV0" not in token
    assert encryption.decrypt(token) == SECRET


def test_every_encryption_of_the_same_value_differs():
    assert encryption.encrypt(SECRET) != encryption.encrypt(SECRET)


def test_the_key_is_derived_for_this_purpose_not_secret_key_hashed(settings):
    token = encryption.encrypt(SECRET)
    naive = base64.urlsafe_b64encode(hashlib.sha256(settings.SECRET_KEY.encode()).digest())
    with pytest.raises(InvalidToken):
        Fernet(naive).decrypt(token.encode())


def test_after_secret_key_changes_values_open_under_the_fallback_and_reencrypt_under_the_new_key(settings):
    settings.SECRET_KEY = "old-" + "k" * 50
    settings.SECRET_KEY_FALLBACKS = []
    old_token = encryption.encrypt(SECRET)

    settings.SECRET_KEY = "new-" + "k" * 50
    settings.SECRET_KEY_FALLBACKS = ["old-" + "k" * 50]
    assert encryption.decrypt(old_token) == SECRET
    new_token = encryption.encrypt(encryption.decrypt(old_token))

    settings.SECRET_KEY_FALLBACKS = []
    assert encryption.decrypt(new_token) == SECRET
    with pytest.raises(ImproperlyConfigured):
        encryption.decrypt(old_token)


def test_a_value_under_an_unknown_key_fails_clearly_without_showing_the_value(settings):
    settings.SECRET_KEY = "one-" + "k" * 50
    token = encryption.encrypt(SECRET)
    settings.SECRET_KEY = "two-" + "k" * 50
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FALLBACKS") as info:
        encryption.decrypt(token)
    assert token not in str(info.value) and SECRET not in str(info.value)
