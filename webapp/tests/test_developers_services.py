"""The Developers pages' own helpers: the one-time secret and the once-only form guard."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from webapp import developers_services as dev

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_with_session(user):
    request = RequestFactory().get("/developers/")
    request.session, request.user = SessionStore(), user
    return request


def test_a_kept_secret_is_taken_once_and_stored_encrypted(request_with_session):
    dev.secret_keep(request_with_session, kind="key", object_id=7, label="CI", secret="vsk_live_s3cret")

    stored = SessionStore(session_key=request_with_session.session.session_key).load()
    assert "vsk_live_s3cret" not in str(stored)
    taken = dev.secret_take(request_with_session)
    assert (taken.kind, taken.object_id, taken.label, taken.secret) == ("key", "7", "CI", "vsk_live_s3cret")
    assert dev.secret_take(request_with_session) is None


def test_a_tampered_kept_secret_is_dropped(request_with_session):
    request_with_session.session[dev.SECRET_SESSION_KEY] = {"kind": "key", "token": "not-a-fernet-token"}
    assert dev.secret_take(request_with_session) is None
    request_with_session.session[dev.SECRET_SESSION_KEY] = "junk"
    assert dev.secret_take(request_with_session) is None


def test_a_token_is_claimed_once_and_a_repeat_is_sent_where_the_first_went(user):
    token = dev.once_token()
    assert dev.once_well_formed(token)
    assert dev.once_claim(user, token) is True
    assert dev.once_claim(user, token) is False
    assert dev.once_wait(user, token, seconds=0.2) is None  # still running: the repeat gives up waiting
    dev.once_done(user, token, "/developers/")
    assert dev.once_wait(user, token) == "/developers/"


def test_tokens_are_per_user_and_only_local_paths_are_followed(user, other_user):
    token = dev.once_token()
    assert dev.once_claim(user, token) and dev.once_claim(other_user, token)
    dev.once_done(user, token, "//evil.example.com/")
    assert dev.once_wait(user, token) is None


def test_a_cache_outage_lets_the_form_through(user, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(dev.cache, "add", down)
    assert dev.once_claim(user, dev.once_token()) is True
