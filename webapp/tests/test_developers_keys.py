"""The Developers page's API keys: created with the key store's own rules, the secret shown once (never in a URL, a
later page, the session in clear or the logs), revoked so the API refuses it, and every form sent once."""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import threading

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.utils import timezone

from api_keys.models import ApiKey
from api_keys.services import issue_key

pytestmark = pytest.mark.django_db

PAGE = "/developers/"
CREATE = "/developers/keys/"
SECRET_INPUT = re.compile(r'<input id="new-key-secret"[^>]*value="([^"]+)"')


def once() -> str:
    return secrets.token_urlsafe(24)


def create_key(client, token=None, **fields):
    return client.post(CREATE, {"once": token or once(), "name": "CI", "expires": "90", **fields})


def revoke(client, key_id, token=None):
    return client.post(f"/developers/keys/{key_id}/revoke/", {"once": token or once()})


def shown_secret(client) -> str:
    found = SECRET_INPUT.findall(client.get(PAGE).text)
    assert len(found) == 1
    return found[0]


def api(secret):
    return Client().get("/api/keys/", HTTP_AUTHORIZATION=f"Bearer {secret}")


# --- Access --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [("get", PAGE), ("post", CREATE), ("post", "/developers/keys/1/revoke/")])
def test_the_pages_and_actions_need_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/?next=")


@pytest.mark.parametrize("path", [CREATE, "/developers/keys/1/revoke/"])
def test_a_get_on_an_action_is_refused_with_405(signed_in, path):
    assert signed_in.get(path).status_code == 405


def test_an_action_without_the_csrf_token_is_refused(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert create_key(client).status_code == 403
    assert not ApiKey.objects.filter(user=user).exists()


# --- Creating a key and seeing its secret once ---------------------------------------------------------------------

def test_a_created_key_is_shown_once_after_the_redirect_and_never_again(signed_in, user, caplog):
    caplog.set_level(logging.DEBUG)

    response = create_key(signed_in, name="Shop sync")

    assert response.status_code == 302 and response["Location"] == PAGE + "#main"
    page = signed_in.get(PAGE)
    assert "no-store" in page["Cache-Control"]
    secret = SECRET_INPUT.findall(page.text)[0]
    key = ApiKey.objects.get(user=user)
    assert secret.startswith(key.prefix) and key.name == "Shop sync"
    assert 'id="copy-key"' in page.text and f'data-key-id="{key.id}"' in page.text
    assert f"<code>{key.prefix}…</code>" in page.text
    later = signed_in.get(PAGE).text
    assert secret not in later and 'id="new-key-secret"' not in later and f'data-key-id="{key.id}"' in later
    assert secret not in response["Location"] and secret not in caplog.text


def test_the_secret_never_sits_in_the_session_store_in_clear(signed_in):
    create_key(signed_in)
    stored = " ".join(str(s.get_decoded()) + s.session_data for s in Session.objects.all())
    secret = shown_secret(signed_in)
    assert secret not in stored


def test_a_secret_kept_longer_than_ten_minutes_is_dropped_not_shown(signed_in):
    create_key(signed_in)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=11)):
        assert 'id="new-key-secret"' not in signed_in.get(PAGE).text
    assert 'id="new-key-secret"' not in signed_in.get(PAGE).text  # and it is gone, not waiting


def test_the_key_made_in_the_page_works_on_the_api_until_it_is_revoked_in_the_page(signed_in, user):
    create_key(signed_in)
    secret = shown_secret(signed_in)
    assert api(secret).status_code == 200

    response = revoke(signed_in, ApiKey.objects.get(user=user).id)

    assert response.status_code == 302 and response["Location"] == PAGE
    assert api(secret).status_code == 401
    assert "data-key-id" not in signed_in.get(PAGE).text  # a revoked key leaves the list


def test_scopes_and_an_expiry_are_those_chosen(signed_in, user):
    create_key(signed_in, scopes=["jobs:read", "account:read"], expires="30")

    key = ApiKey.objects.get(user=user)
    assert key.scopes == ["account:read", "jobs:read"]
    assert abs(key.expires_at - (timezone.now() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)
    assert "<code>account:read</code>, <code>jobs:read</code>" in signed_in.get(PAGE).text


def test_never_is_offered_only_where_the_key_store_lets_a_key_live_for_ever(signed_in, user, settings):
    assert 'value="never"' not in signed_in.get(PAGE).text
    assert create_key(signed_in, expires="never").status_code == 400
    assert not ApiKey.objects.filter(user=user).exists()

    settings.API_KEY_DEFAULT_LIFETIME_DAYS = None
    assert 'value="never"' in signed_in.get(PAGE).text
    create_key(signed_in, expires="never")
    assert ApiKey.objects.get(user=user).expires_at is None


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": ""}, "This field is required."),
    ({"name": "x" * 101}, "at most 100 characters"),
    ({"name": "tab\x07bell"}, "Must contain visible text, without control characters."),
    ({"expires": "3650"}, "Select a valid choice."),
    ({"scopes": ["everything"]}, "Select a valid choice."),
])
def test_a_bad_field_is_a_400_with_its_message_next_to_it_and_no_key(signed_in, user, fields, message):
    response = create_key(signed_in, **fields)

    assert response.status_code == 400
    assert message in response.text and 'aria-invalid="true"' in response.text
    assert not ApiKey.objects.filter(user=user).exists()
    assert 'id="new-key-secret"' not in response.text


def test_the_key_stores_limit_is_answered_as_a_message(signed_in, user, settings):
    settings.API_KEYS_MAX_PER_USER = 1
    issue_key(user=user, name="the one")

    response = create_key(signed_in)

    assert response.status_code == 400
    assert "You have 1 live keys, the most allowed: revoke one first." in response.text
    assert ApiKey.objects.filter(user=user).count() == 1
    assert "You have 1 of 1 live key, the most allowed" in response.text


# --- Sent twice ----------------------------------------------------------------------------------------------------

def test_the_same_form_sent_twice_makes_one_key_and_both_answers_lead_to_it(signed_in, user):
    token = once()

    first, second = create_key(signed_in, token), create_key(signed_in, token)

    assert ApiKey.objects.filter(user=user).count() == 1
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"] == PAGE + "#main"
    assert shown_secret(signed_in).startswith(ApiKey.objects.get(user=user).prefix)


def test_a_reload_after_the_secret_was_shown_makes_no_key_and_shows_no_secret(signed_in, user):
    create_key(signed_in)
    shown_secret(signed_in)

    assert 'id="new-key-secret"' not in signed_in.get(PAGE).text
    assert ApiKey.objects.filter(user=user).count() == 1


def test_a_form_without_its_once_token_changes_nothing(signed_in, user):
    for token in ("", "short", "x" * 65, "not/allowed!chars-0123456789"):
        response = signed_in.post(CREATE, {"once": token, "name": "CI", "expires": "90"})
        assert response.status_code == 400, token
    assert not ApiKey.objects.filter(user=user).exists()


def test_revoking_twice_with_the_same_form_is_harmless(signed_in, user):
    key = issue_key(user=user, name="old").api_key
    token = once()
    assert revoke(signed_in, key.id, token).status_code == revoke(signed_in, key.id, token).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


# --- Someone else's keys -------------------------------------------------------------------------------------------

def test_another_users_key_cannot_be_revoked_and_is_a_404(signed_in, other_user):
    theirs = issue_key(user=other_user, name="theirs")

    assert revoke(signed_in, theirs.api_key.id).status_code == 404
    assert api(theirs.secret).status_code == 200


@pytest.mark.parametrize("key_id", ["abc", "9" * 30, "-1", "1.5", "١٢", "0"])
def test_a_malformed_or_unknown_key_id_is_a_404(signed_in, key_id):
    assert revoke(signed_in, key_id).status_code == 404


def test_the_list_shows_only_the_callers_keys_that_are_not_revoked(signed_in, user, other_user):
    mine = issue_key(user=user, name="mine").api_key
    gone = issue_key(user=user, name="gone").api_key
    ApiKey.objects.filter(pk=gone.pk).update(revoked_at=timezone.now())
    issue_key(user=other_user, name="theirs")

    page = signed_in.get(PAGE).text

    assert re.findall(r'data-key-id="(\d+)"', page) == [str(mine.id)]
    assert "Every scope" in page and "You have 1 of 20 live keys." in page


@pytest.mark.django_db(transaction=True)
def test_a_double_click_arriving_at_once_makes_one_key_and_both_answers_lead_to_its_secret(user):
    """Two requests with the same form at the same moment (two threads, two connections): one key; the repeat waits
    for the first and is sent to the same page, which shows the secret."""
    clients = [Client(), Client()]
    for each in clients:
        each.force_login(user)
    clients[1].cookies = clients[0].cookies  # one browser
    token, start, answers = once(), threading.Barrier(2), []

    def send(client):
        start.wait()
        answers.append(create_key(client, token))
        connection.close()

    threads = [threading.Thread(target=send, args=(each,)) for each in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert ApiKey.objects.filter(user=user).count() == 1
    assert [a.status_code for a in answers] == [302, 302] and {a["Location"] for a in answers} == {PAGE + "#main"}
    assert shown_secret(clients[0]).startswith(ApiKey.objects.get(user=user).prefix)
