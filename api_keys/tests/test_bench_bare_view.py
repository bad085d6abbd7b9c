"""The keys benchmark's bare view: the same authentication as the API, and only in the benchmark's URLconf."""

import pytest
from rest_framework.test import APIClient

from api_keys.services import issue_key

pytestmark = pytest.mark.django_db
BARE = "/bench/bare/"


def get(user=None, *scopes):
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {issue_key(user=user, name='b', scopes=list(scopes)).secret}")
    return client.get(BARE)


def test_it_answers_a_tiny_body_behind_the_key_and_its_scope(user, settings):
    settings.ROOT_URLCONF = "bench.keys_urls"

    assert get(user, "jobs:read").json() == {"ok": True}
    assert get(user, "billing").status_code == 403
    assert get().status_code == 401


def test_the_product_does_not_serve_it(user):
    assert get(user).status_code == 404
