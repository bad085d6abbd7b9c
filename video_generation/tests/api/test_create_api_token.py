"""manage.py create_api_token USERNAME"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def run(username):
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    return out.getvalue().strip().splitlines()


def test_it_creates_user_and_token_and_prints_the_key_last():
    lines = run("carol")

    user = get_user_model().objects.get(username="carol")
    assert lines[-1] == Token.objects.get(user=user).key
    assert not user.has_usable_password()
    assert any("Created user" in line for line in lines[:-1])


def test_it_is_idempotent():
    first = run("carol")
    second = run("carol")

    assert first[-1] == second[-1]
    assert Token.objects.count() == 1
    assert get_user_model().objects.filter(username="carol").count() == 1
    assert any("Existing user" in line for line in second[:-1])


def test_it_reuses_an_existing_user_and_password(user):
    lines = run(user.username)

    user.refresh_from_db()
    assert lines[-1] == Token.objects.get(user=user).key
    assert user.check_password("pw-alice-123")


def test_the_printed_token_authenticates(client):
    key = run("dave")[-1]

    r = client.get("/api/video/list_jobs/", HTTP_AUTHORIZATION=f"Token {key}")

    assert r.status_code == 200
