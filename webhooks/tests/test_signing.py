"""Signatures follow Standard Webhooks: the spec's published test vector, and what its reference library verifies."""

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks.signing import key_of, new_secret, signature, signature_header

# The published vector: standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py,
# test_sign_function (the same in every language's library tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_published_test_vector_is_signed_exactly():
    assert signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD) == VECTOR_SIGNATURE


def test_a_changed_byte_changes_the_signature():
    assert signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, b'{"test": 2432232315}') != VECTOR_SIGNATURE
    assert signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP + 1, VECTOR_PAYLOAD) != VECTOR_SIGNATURE


def test_a_new_secret_is_whsec_and_the_base64_of_32_random_bytes():
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


def test_an_operator_secret_without_the_prefix_keys_with_its_own_bytes_as_before():
    assert key_of("my-old-secret") == b"my-old-secret"


def test_the_reference_library_verifies_each_of_two_signatures_and_refuses_a_third_secret():
    old, new = new_secret(), new_secret()
    now = int(datetime.now(tz=UTC).timestamp())
    body = b'{"type":"job.completed"}'
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now),
               "webhook-signature": signature_header([new, old], "msg_1", now, body)}
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"type": "job.completed"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
