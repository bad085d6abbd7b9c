"""Scopes: each endpoint needs one; a key without it gets 403; a key with none may do everything."""

import pytest
from rest_framework.test import APIClient

from api_keys.models import ApiKey
from api_keys.permissions import KeyHasScope
from api_keys.services import issue_key
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db


def client_with(user, *scopes):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(user=user, name='s', scopes=list(scopes)).secret}")
    return client


def endpoints(job_id):
    return {
        "jobs:read": [("get", f"/api/video/status/{job_id}/"), ("get", "/api/video/list_jobs/"),
                      ("get", f"/api/video/{job_id}/download/")],
        "jobs:write": [("post", "/api/video/generate/"), ("post", "/api/video/quote/"),
                       ("post", f"/api/video/{job_id}/cancel/")],
        "account:read": [("get", "/api/account/"), ("get", "/api/account/ledger/"), ("get", "/api/account/usage/"),
                         ("get", "/api/account/export/")],
        "billing": [("post", "/api/billing/checkout/"), ("get", "/api/billing/portal/")],
    }


def call(client, method, path):
    return getattr(client, method)(path, {}, format="json") if method == "post" else client.get(path)


@pytest.mark.parametrize("scope", ["jobs:read", "jobs:write", "account:read", "billing"])
def test_a_key_reaches_the_endpoints_of_its_scope_and_no_others(user, scope):
    job = make_job(user)
    client = client_with(user, scope)

    for needed, calls in endpoints(job.id).items():
        for method, path in calls:
            r = call(client, method, path)
            if needed == scope:
                assert r.status_code != 403, (path, r.content)
            else:
                assert r.status_code == 403, (path, r.content)
                assert r.json() == {"detail": f"This API key lacks the scope this endpoint needs ({needed})."}


def test_a_key_without_scopes_reaches_every_endpoint(user, api_client):
    job = make_job(user)

    for calls in endpoints(job.id).values():
        for method, path in calls:
            assert call(api_client, method, path).status_code != 403, path


def test_a_view_that_names_no_scope_is_open_only_to_unrestricted_keys(user):
    class UndeclaredView:
        pass

    class Request:
        def __init__(self, key):
            self.auth, self.method = key, "GET"

    restricted = ApiKey(user=user, scopes=["jobs:read", "jobs:write", "account:read", "billing"])
    unrestricted = ApiKey(user=user, scopes=[])

    assert not KeyHasScope().has_permission(Request(restricted), UndeclaredView())
    assert KeyHasScope().has_permission(Request(unrestricted), UndeclaredView())
    assert KeyHasScope().has_permission(Request(None), UndeclaredView())  # a session: scopes do not apply


@pytest.mark.parametrize("scopes", [["account:read"], ["jobs:read", "jobs:write", "account:read", "billing"]])
def test_erasing_the_account_and_managing_webhooks_need_an_unrestricted_key(user, scopes):
    client = client_with(user, *scopes)
    erase = client.delete("/api/account/", {"confirm": user.username}, format="json")
    assert erase.status_code == 403
    assert erase.json() == {"detail": "This endpoint needs an API key with every scope."}
    assert type(user).objects.filter(pk=user.pk).exists()
    assert client.get("/api/webhooks/endpoints/").status_code == 403
    assert client.post("/api/webhooks/endpoints/", {"url": "https://hooks.example.com/x"},
                       format="json").status_code == 403
