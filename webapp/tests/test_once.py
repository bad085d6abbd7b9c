"""Forms that take effect once (webapp/once.py): one claim per user, token and scope; a repeat gets what the first
left; a cache outage lets the form through."""

from __future__ import annotations

import pytest

from webapp import once

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(name, f"{name}@example.com", "x") for name in ("ann", "bob")]


def test_a_token_is_claimed_once_and_a_repeat_gets_what_the_first_left(users):
    token = once.new_token()
    assert once.well_formed(token)
    assert once.claim(users[0], token) is True
    assert once.claim(users[0], token) is False
    assert once.outcome(users[0], token, seconds=0.2) is None  # still running: the repeat gives up waiting
    once.done(users[0], token, "/developers/")
    assert once.outcome(users[0], token, seconds=0) == "/developers/"


def test_claims_are_per_user_and_per_scope(users):
    token = once.new_token()
    assert once.claim(users[0], token, scope="pack:a") and once.claim(users[1], token, scope="pack:a")
    assert once.claim(users[0], token, scope="pack:b")
    assert once.claim_id(users[0], token, "pack:a") != once.claim_id(users[1], token, "pack:a")


def test_a_released_claim_may_be_made_again(users):
    token = once.new_token()
    once.claim(users[0], token)
    once.release(users[0], token)
    assert once.claim(users[0], token) is True


@pytest.mark.parametrize("token", ["", "short", "<script>" * 4, "a" * 65, None, 12345678901234567])
def test_malformed_tokens_are_refused(token):
    assert not once.well_formed(token)


def test_a_cache_outage_lets_the_form_through(users, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(once.cache, "add", down)
    monkeypatch.setattr(once.cache, "get", down)
    assert once.claim(users[0], once.new_token()) is True
    assert once.outcome(users[0], once.new_token(), seconds=0) is None
