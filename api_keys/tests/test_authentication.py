"""Authorization: Bearer|Token <key>; an unknown, revoked, expired or malformed key gets the same 401."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api_keys import keys
from api_keys.models import ApiKey
from api_keys.services import authenticate_key, issue_key

pytestmark = pytest.mark.django_db
URL = "/api/video/list_jobs/"


def get(header: str):
    return APIClient().get(URL, HTTP_AUTHORIZATION=header)


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer", "token"])
def test_both_schemes_authenticate(api_key, scheme):
    assert get(f"{scheme} {api_key}").status_code == 200


def refusals(user) -> dict[str, str]:
    revoked = issue_key(user=user, name="revoked")
    ApiKey.objects.filter(pk=revoked.api_key.pk).update(revoked_at=timezone.now())
    expired = issue_key(user=user, name="expired")
    ApiKey.objects.filter(pk=expired.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    inactive_user = type(user).objects.create_user(username="gone", is_active=False)
    return {
        "unknown": keys.new_key(),
        "revoked": revoked.secret,
        "expired": expired.secret,
        "inactive user": issue_key(user=inactive_user, name="x").secret,
        "bad checksum": revoked.secret[:-1] + ("0" if revoked.secret[-1] != "0" else "1"),
        "not a key": "not-a-real-token",
    }


def test_unknown_revoked_and_expired_keys_are_indistinguishable(user):
    answers = {why: get(f"Bearer {key}") for why, key in refusals(user).items()}

    for why, r in answers.items():
        assert r.status_code == 401, why
        assert r.json() == {"detail": "Invalid API key."}, why
        assert r["WWW-Authenticate"] == 'Bearer realm="api"', why


def test_every_refusal_costs_the_same_single_lookup(user, django_assert_num_queries):
    for why, key in refusals(user).items():
        with django_assert_num_queries(1):
            assert authenticate_key(key) is None, why


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Token  ", "Bearer vsk_live_\u00e9\u00e9"])
def test_a_malformed_header_is_the_same_401(header):
    r = APIClient().get(URL, HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))

    assert r.status_code == 401
    assert r.json()["detail"] in {"Invalid API key.", "Authentication credentials were not provided."}


def test_a_huge_key_is_a_401_not_an_error(user):
    assert get("Bearer " + "a" * 100_000).status_code == 401


def test_another_scheme_is_not_ours_and_gets_no_access(api_key):
    r = get(f"Basic {api_key}")

    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}


def test_a_key_expiring_in_the_future_works_until_then(user, time_machine):
    issued = issue_key(user=user, name="short", expires_at=timezone.now() + timedelta(hours=1))

    assert get(f"Bearer {issued.secret}").status_code == 200
    time_machine.move_to(timezone.now() + timedelta(hours=1, seconds=1))
    assert get(f"Bearer {issued.secret}").status_code == 401


def test_last_used_at_is_written_at_most_once_a_minute(user, api_key, time_machine, django_assert_num_queries):
    time_machine.move_to(timezone.now(), tick=False)
    stored = ApiKey.objects.get()
    assert stored.last_used_at is None

    authenticate_key(api_key)
    first = ApiKey.objects.get().last_used_at
    time_machine.shift(timedelta(seconds=59))
    with django_assert_num_queries(1):  # the lookup only: no write within the minute
        authenticate_key(api_key)
    assert ApiKey.objects.get().last_used_at == first

    time_machine.shift(timedelta(seconds=2))
    with django_assert_num_queries(2):  # the lookup and one conditional UPDATE
        authenticate_key(api_key)
    assert ApiKey.objects.get().last_used_at > first


def test_a_stale_copy_does_not_write_when_another_process_already_did(user, api_key, time_machine):
    from api_keys.services import note_use

    time_machine.move_to(timezone.now(), tick=False)
    stale = ApiKey.objects.get()  # read before another process noted a use
    authenticate_key(api_key)
    written = ApiKey.objects.get().last_used_at

    time_machine.shift(timedelta(seconds=5))
    note_use(stale, timezone.now())

    assert ApiKey.objects.get().last_used_at == written


def test_the_admin_session_still_works(admin_client):
    assert admin_client.get(URL).status_code == 200


def test_the_session_is_not_limited_by_scopes(admin_client):
    assert admin_client.get("/api/account/").status_code == 200


def test_the_prebuilt_lookup_loads_the_key_and_its_user_exactly_as_the_orm_does(user, django_assert_num_queries):
    from api_keys.services import key_lookup_queryset, key_with_user

    def columns(instance):
        return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}

    issued = issue_key(user=user, name="ci", scopes=["jobs:read"])
    digest = keys.hash_key(issued.secret)
    [expected] = key_lookup_queryset(digest)
    with django_assert_num_queries(1):
        loaded = key_with_user(digest)
        assert columns(loaded) == columns(expected) and columns(loaded.user) == columns(expected.user)
    assert loaded.scopes == ["jobs:read"] and loaded.user.username == user.username
    assert key_with_user(keys.hash_key(issued.secret + "x")) is None
