"""POST/GET /api/keys/, DELETE /api/keys/{id}/"""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api_keys import keys
from api_keys.models import ApiKey
from api_keys.services import issue_key

pytestmark = pytest.mark.django_db
URL = "/api/keys/"


def bearer(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def create(client, **body):
    return client.post(URL, body, format="json")


def test_creating_a_key_shows_its_secret_once(api_client, user):
    r = create(api_client, name="CI", scopes=["jobs:read"])

    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"key", "id", "name", "prefix", "scopes", "created_at", "last_used_at", "expires_at"}
    assert keys.is_well_formed(body["key"]) and body["key"].startswith(body["prefix"])
    assert (body["name"], body["scopes"]) == ("CI", ["jobs:read"])
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.key_hash == keys.hash_key(body["key"]) and stored.user == user
    assert bearer(body["key"]).get("/api/video/list_jobs/").status_code == 200


def test_the_list_never_shows_a_secret_or_hash(api_client, api_key):
    secret = create(api_client, name="second").json()["key"]

    r = api_client.get(URL)

    assert r.status_code == 200
    assert [k["name"] for k in r.json()["results"]] == ["second", "tests"]
    text = r.content.decode()
    for value in (secret, api_key, keys.hash_key(secret), keys.hash_key(api_key)):
        assert value not in text
    assert "key" not in r.json()["results"][0]


def test_the_list_shows_only_the_callers_keys(api_client, other_user):
    issue_key(user=other_user, name="bobs")

    assert [k["name"] for k in api_client.get(URL).json()["results"]] == ["tests"]


def test_a_revoked_key_stops_working_at_once_and_leaves_the_list(api_client):
    created = create(api_client, name="old").json()
    assert bearer(created["key"]).get("/api/video/list_jobs/").status_code == 200

    r = api_client.delete(f"{URL}{created['id']}/")

    assert r.status_code == 204 and r.content == b""
    assert bearer(created["key"]).get("/api/video/list_jobs/").status_code == 401
    assert "old" not in [k["name"] for k in api_client.get(URL).json()["results"]]
    assert api_client.delete(f"{URL}{created['id']}/").status_code == 204  # again: still revoked, no error


def test_rotation_is_create_new_then_revoke_old(user, api_key):
    old = bearer(api_key)
    new_secret = create(old, name="rotated").json()["key"]
    old_id = ApiKey.objects.get(key_hash=keys.hash_key(api_key)).pk

    assert bearer(new_secret).delete(f"{URL}{old_id}/").status_code == 204
    assert old.get(URL).status_code == 401
    assert bearer(new_secret).get(URL).status_code == 200


def test_another_users_key_is_not_found_and_keeps_working(api_client, other_user):
    theirs = issue_key(user=other_user, name="bobs")

    r = api_client.delete(f"{URL}{theirs.api_key.pk}/")

    assert r.status_code == 404
    assert r.json() == {"error": "Not found"}
    assert bearer(theirs.secret).get(URL).status_code == 200


@pytest.mark.parametrize("key_id", ["abc", "-1", "99999999999999999999999", "1.5"])
def test_a_malformed_id_is_not_found(api_client, key_id):
    assert api_client.delete(f"{URL}{key_id}/").status_code == 404


@pytest.mark.parametrize("body, field, message", [
    ({}, "name", "This field is required."),
    ({"name": ""}, "name", "This field may not be blank."),
    ({"name": "x" * 101}, "name", "Ensure this field has no more than 100 characters."),
    ({"name": 5}, "name", "Must be a string."),
    ({"name": "a", "scopes": ["jobs:delete"]}, "scopes", '"jobs:delete" is not a valid choice.'),
    ({"name": "a", "scopes": "jobs:read"}, "scopes", 'Expected a list of items but got type "str".'),
    ({"name": "a", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at", "Must be in the future."),
    ({"name": "a", "expires_at": "tomorrow"}, "expires_at", None),
    ({"name": "a", "secret": "mine"}, "secret", None),
])
def test_bad_input_is_a_400_that_says_why(api_client, body, field, message):
    r = create(api_client, **body)

    assert r.status_code == 400
    details = r.json()["details"]
    assert field in details
    if message:
        assert message in str(details[field])
    assert ApiKey.objects.count() == 1  # only the fixture's


def test_the_number_of_live_keys_is_capped(api_client, settings):
    settings.API_KEYS_MAX_PER_USER = 3
    assert [create(api_client, name=f"k{i}").status_code for i in range(3)] == [201, 201, 400]

    r = create(api_client, name="one too many")

    assert r.status_code == 400
    assert "3 live keys" in r.json()["details"]["non_field_errors"][0]


def test_revoked_and_expired_keys_do_not_count_against_the_cap(api_client, user, settings):
    settings.API_KEYS_MAX_PER_USER = 2
    spare = create(api_client, name="spare").json()
    api_client.delete(f"{URL}{spare['id']}/")
    ApiKey.objects.filter(name="tests").update(expires_at=timezone.now() + timedelta(seconds=1))

    assert create(api_client, name="replacement").status_code == 201


def test_a_scoped_key_cannot_create_a_key_with_more(user):
    reader = bearer(issue_key(user=user, name="reader", scopes=["jobs:read"]).secret)

    for scopes in ([], ["jobs:write"], ["jobs:read", "billing"]):
        r = create(reader, name="wider", scopes=scopes)
        assert r.status_code == 400, scopes
        assert "scopes it has itself" in r.json()["details"]["scopes"][0]
    assert create(reader, name="same", scopes=["jobs:read"]).status_code == 201


def test_a_scoped_key_cannot_revoke_a_key_with_more(user, api_key):
    reader = bearer(issue_key(user=user, name="reader", scopes=["jobs:read"]).secret)
    unrestricted_id = ApiKey.objects.get(key_hash=keys.hash_key(api_key)).pk

    assert reader.delete(f"{URL}{unrestricted_id}/").status_code == 400
    assert bearer(api_key).get(URL).status_code == 200


def test_a_key_cannot_create_one_that_outlives_it(user):
    ends = timezone.now() + timedelta(days=2)
    short = bearer(issue_key(user=user, name="short", expires_at=ends).secret)

    later = create(short, name="later", expires_at=(ends + timedelta(days=1)).isoformat())
    default = create(short, name="default")

    assert later.status_code == 400 and "no later than" in later.json()["details"]["expires_at"][0]
    assert default.status_code == 201 and ApiKey.objects.get(name="default").expires_at == ends


def test_a_new_key_expires_after_the_default_lifetime(api_client, settings):
    settings.API_KEY_DEFAULT_LIFETIME_DAYS = 30
    before = timezone.now()

    body = create(api_client, name="default").json()

    expires = ApiKey.objects.get(pk=body["id"]).expires_at
    assert before + timedelta(days=30) <= expires <= timezone.now() + timedelta(days=30)


def test_without_a_default_lifetime_keys_never_expire(user, settings):
    settings.API_KEY_DEFAULT_LIFETIME_DAYS = None
    never_expiring = bearer(issue_key(user=user, name="first").secret)

    assert create(never_expiring, name="forever").json()["expires_at"] is None


def test_an_explicit_expiry_is_kept(api_client):
    when = timezone.now() + timedelta(days=3)

    body = create(api_client, name="three days", expires_at=when.isoformat()).json()

    assert ApiKey.objects.get(pk=body["id"]).expires_at == when


def test_keys_need_authentication():
    assert APIClient().get(URL).status_code == 401
    assert APIClient().post(URL, {"name": "x"}, format="json").status_code == 401


@pytest.mark.parametrize("page", ["", "abc", "-1", "1.0", "99"])
def test_a_page_that_is_not_one_of_the_list_is_a_404(api_client, page):
    r = api_client.get(URL, {"page": page})

    assert r.status_code == 404
    assert r.json() == {"error": "Not found"}


def test_a_name_with_nothing_visible_is_refused(api_client):
    assert create(api_client, name="   ").status_code == 400
