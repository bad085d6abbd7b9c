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


@pytest.mark.parametrize(("location", "followed"), [("/developers/", "/developers/"), ("//evil.example.com/", None),
                                                    ("https://evil.example.com/", None), (None, None), ({}, None)])
def test_a_repeated_form_is_sent_only_to_a_path_on_this_site(location, followed):
    from webapp.developers_views import local_path

    assert local_path(location) == followed
