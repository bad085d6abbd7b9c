"""`manage.py create_web_user`: an account that can sign in to the web app at once, the password from standard input
and never echoed."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import CommandError, call_command

from billing import services as billing
from billing.plans import DEFAULT_PLAN, SEED_PLANS
from webapp import services as webapp

pytestmark = pytest.mark.django_db
PASSWORD = "a-Password-from-stdin-7"


def create(monkeypatch, *argv: str, password: str = PASSWORD) -> str:
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    out = io.StringIO()
    call_command("create_web_user", *argv, stdout=out)
    return out.getvalue()


def signs_in(client, username: str, password: str = PASSWORD) -> bool:
    response = client.post("/accounts/sign-in/", {"username": username, "password": password})
    return response.status_code == 302 and response.url == "/"


def test_a_new_user_is_verified_on_the_free_plan_and_signs_in_with_the_password(monkeypatch, client,
                                                                               django_user_model):
    out = create(monkeypatch, "dora", "--email", "dora@example.com")

    user = django_user_model.objects.get(username="dora")
    assert user.is_active and user.email == "dora@example.com"
    assert not webapp.awaiting_verification(user)
    summary = billing.summary(user)
    assert summary["plan"]["name"] == SEED_PLANS[DEFAULT_PLAN]["name"]
    assert summary["credits"]["available"] == SEED_PLANS[DEFAULT_PLAN]["monthly_credits"]
    assert signs_in(client, "dora")
    assert PASSWORD not in out


def test_a_user_made_by_create_api_token_gets_the_password(monkeypatch, client):
    call_command("create_api_token", "demo", stdout=io.StringIO())
    assert not signs_in(client, "demo")

    create(monkeypatch, "demo")

    assert signs_in(client, "demo")


def test_a_sign_up_still_awaiting_its_link_is_verified(monkeypatch, client):
    user = webapp.account_sign_up(username="erin", email="erin@example.com", password="old-Password-1")

    create(monkeypatch, "erin")

    user.refresh_from_db()
    assert user.is_active and not webapp.awaiting_verification(user)
    assert signs_in(client, "erin")


def test_a_deactivated_account_is_not_switched_back_on(monkeypatch, django_user_model):
    user = django_user_model.objects.create_user(username="gone", password="x-Password-2", is_active=False)
    with pytest.raises(CommandError, match="deactivated"):
        create(monkeypatch, "gone")
    user.refresh_from_db()
    assert not user.is_active and user.check_password("x-Password-2")


def test_no_password_on_standard_input_is_refused(monkeypatch, django_user_model):
    with pytest.raises(CommandError, match="standard input"):
        create(monkeypatch, "nobody", password="")
    assert not django_user_model.objects.filter(username="nobody").exists()
