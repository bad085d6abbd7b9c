"""manage.py create_api_token USERNAME"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from api_keys import keys
from api_keys.models import ApiKey

pytestmark = pytest.mark.django_db


def run(username, *args):
    out = StringIO()
    call_command("create_api_token", username, *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_it_creates_user_and_key_and_prints_the_key_last():
    lines = run("carol")

    user = get_user_model().objects.get(username="carol")
    assert keys.is_well_formed(lines[-1])
    assert ApiKey.objects.get(user=user).key_hash == keys.hash_key(lines[-1])
    assert not user.has_usable_password()
    assert any("Created user" in line for line in lines[:-1])


def test_each_run_issues_a_new_key_for_the_same_user():
    first = run("carol")
    second = run("carol", "--name", "deploy")

    assert first[-1] != second[-1]
    assert ApiKey.objects.count() == 2
    assert set(ApiKey.objects.values_list("name", flat=True)) == {"create_api_token", "deploy"}
    assert get_user_model().objects.filter(username="carol").count() == 1
    assert any("Existing user" in line for line in second[:-1])


def test_the_key_is_not_stored_in_clear():
    key = run("carol")[-1]

    stored = ApiKey.objects.values()[0]
    assert key not in [str(value) for value in stored.values()]


def test_it_reuses_an_existing_user_and_password(user):
    lines = run(user.username)

    user.refresh_from_db()
    assert ApiKey.objects.get(user=user).key_hash == keys.hash_key(lines[-1])
    assert user.check_password("pw-alice-123")


def test_the_printed_key_authenticates(client):
    key = run("dave")[-1]

    r = client.get("/api/video/list_jobs/", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert r.status_code == 200
