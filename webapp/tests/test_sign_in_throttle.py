"""Failed sign-ins are limited per username and per client address, and answered with a form error."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from .conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(name, f"{name}@example.com", PASSWORD) for name in ("kim", "lee")]


def test_after_n_failures_for_a_username_even_its_password_is_refused_but_others_still_sign_in(settings, users):
    settings.LOGIN_FAILURES_PER_USERNAME = "3/hour"
    settings.LOGIN_FAILURES_PER_IP = "100/hour"
    attacker = Client()
    for _ in range(3):
        failed = sign_in(attacker, "kim", "wrong-password", REMOTE_ADDR="203.0.113.5")
        assert failed.status_code == 400 and "Please enter a correct username and password" in failed.text

    refused = sign_in(Client(), "kim", PASSWORD, REMOTE_ADDR="198.51.100.7")  # elsewhere, the right password

    assert refused.status_code == 400 and "_auth_user_id" not in refused.wsgi_request.session
    assert "Too many failed sign-in attempts. Try again in" in refused.text
    assert 'role="alert"' in refused.text
    assert sign_in(Client(), "KIM", PASSWORD).status_code == 400  # the same username, however it is typed
    other = Client()
    assert sign_in(other, "lee", PASSWORD, REMOTE_ADDR="203.0.113.5").status_code == 302
    assert other.session["_auth_user_id"] == str(users[1].pk)


def test_after_n_failures_from_an_address_it_is_refused_for_any_username(settings, users):
    settings.LOGIN_FAILURES_PER_USERNAME = "100/hour"
    settings.LOGIN_FAILURES_PER_IP = "3/hour"
    for name in ("nobody", "somebody", "kim"):
        assert sign_in(Client(), name, "wrong-password", REMOTE_ADDR="203.0.113.5").status_code == 400

    refused = sign_in(Client(), "lee", PASSWORD, REMOTE_ADDR="203.0.113.5")

    assert refused.status_code == 400 and "Too many failed sign-in attempts" in refused.text
    assert sign_in(Client(), "lee", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_successful_sign_ins_do_not_count(settings, users):
    settings.LOGIN_FAILURES_PER_USERNAME = "2/hour"
    settings.LOGIN_FAILURES_PER_IP = "2/hour"
    for _ in range(5):
        assert sign_in(Client(), "kim", PASSWORD).status_code == 302
    assert sign_in(Client(), "kim", "wrong-password").status_code == 400
    assert sign_in(Client(), "kim", PASSWORD).status_code == 302


def test_the_window_ends_and_sign_in_works_again(settings, users):
    settings.LOGIN_FAILURES_PER_USERNAME = "2/hour"
    for _ in range(2):
        sign_in(Client(), "kim", "wrong-password")
    assert "Too many failed" in sign_in(Client(), "kim", PASSWORD).text

    with time_machine.travel(timedelta(hours=1)):
        assert sign_in(Client(), "kim", PASSWORD).status_code == 302


def test_a_cache_outage_lets_sign_in_through(settings, users, monkeypatch):
    from django.core.cache import cache

    def unavailable(*args, **kwargs):
        raise ConnectionError("cache down")

    settings.LOGIN_FAILURES_PER_USERNAME = "1/hour"
    monkeypatch.setattr(cache, "add", unavailable)

    assert sign_in(Client(), "kim", "wrong-password").status_code == 400
    assert sign_in(Client(), "kim", PASSWORD).status_code == 302


def test_behind_a_proxy_the_address_limit_counts_the_forwarded_client_not_the_proxy(settings, users):
    settings.TRUSTED_PROXY_HOPS = 1
    settings.LOGIN_FAILURES_PER_USERNAME = "100/hour"
    settings.LOGIN_FAILURES_PER_IP = "2/hour"
    via_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for name in ("nobody", "somebody"):
        failed = sign_in(Client(), name, "wrong-password", HTTP_X_FORWARDED_FOR="203.0.113.5", **via_proxy)
        assert failed.status_code == 400

    spoofing = sign_in(Client(), "lee", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.5", **via_proxy)

    assert "Too many failed sign-in attempts" in spoofing.text  # a made-up left-hand entry changes nothing
    assert sign_in(Client(), "lee", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **via_proxy).status_code == 302
