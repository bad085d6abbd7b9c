"""The admin finds and revokes keys; it never shows a hash or adds a key by hand."""

import pytest

from api_keys import keys
from api_keys.models import ApiKey
from api_keys.services import issue_key

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/api_keys/apikey/"


def test_it_lists_and_searches_keys_without_their_hashes(admin_client, user):
    issued = issue_key(user=user, name="deploy")

    r = admin_client.get(CHANGELIST, {"q": issued.api_key.prefix})
    page = admin_client.get(f"{CHANGELIST}{issued.api_key.pk}/change/")

    assert r.status_code == 200 and issued.api_key.prefix in r.content.decode()
    assert page.status_code == 200
    for text in (r.content.decode(), page.content.decode()):
        assert issued.secret not in text and keys.hash_key(issued.secret) not in text


def test_it_revokes_the_selected_keys(admin_client, user, client):
    issued = issue_key(user=user, name="leaked")

    r = admin_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [issued.api_key.pk]})

    assert r.status_code == 302
    assert ApiKey.objects.get().revoked_at is not None
    assert client.get("/api/keys/", HTTP_AUTHORIZATION=f"Bearer {issued.secret}").status_code == 401


def test_it_does_not_add_keys_by_hand(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
