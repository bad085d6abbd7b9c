"""The webhooks API, attacked: another user's ids, unsafe and malformed URLs, huge and invalid bodies, and what each
operation promises (the secret shown once, rotation, test events, replays, filters)."""

import uuid

import pytest
from rest_framework.test import APIClient

from api_keys.services import issue_key
from video_generation.pipeline import transitions
from webhooks import services
from webhooks.models import Delivery, Endpoint, Event
from webhooks.tests.conftest import running_job

pytestmark = pytest.mark.django_db
ENDPOINTS = "/api/webhooks/endpoints/"
DELIVERIES = "/api/webhooks/deliveries/"
URL = "https://hooks.example.com/receive"
ALL_EVENTS = ["job.completed", "job.failed", "job.cancelled", "credits.low"]


@pytest.fixture
def other_client(other_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_key(user=other_user, name='tests').secret}")
    return client


def create(client, **body):
    return client.post(ENDPOINTS, {"url": URL, **body}, format="json")


# --- Endpoints ---------------------------------------------------------------------------------------------------

def test_creating_an_endpoint_shows_its_secret_once_and_subscribes_to_every_event(api_client, user):
    response = create(api_client, description="orders")

    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ALL_EVENTS and body["enabled"] is True
    assert Endpoint.objects.get(id=body["id"]).user == user
    listed = api_client.get(ENDPOINTS).json()["results"]
    read = api_client.get(f"{ENDPOINTS}{body['id']}/").json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0] and "secret" not in read and body["secret"] not in str(listed) + str(read)


def test_events_listed_twice_are_subscribed_once(api_client):
    response = create(api_client, events=["job.failed", "credits.low", "job.failed"])
    assert response.json()["events"] == ["job.failed", "credits.low"]


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "http://hooks.example.com/receive"}, "url"),  # https only in production
    ({"url": "https://127.0.0.1/hook"}, "url"),
    ({"url": "https://10.0.0.1/hook"}, "url"),
    ({"url": "https://localhost/hook"}, "url"),
    ({"url": "https://metadata.google.internal/computeMetadata/v1/"}, "url"),
    ({"url": "https://user:pw@hooks.example.com/"}, "url"),
    ({"url": "https://hooks.example.com:8443/"}, "url"),
    ({"url": "https://hooks.example.com/" + "a" * 5000}, "url"),
    ({"url": 12}, "url"),
    ({"url": URL, "events": ["job.exploded"]}, "events"),
    ({"url": URL, "events": []}, "events"),
    ({"url": URL, "events": "job.failed"}, "events"),
    ({"url": URL, "events": ["job.failed"] * 21}, "events"),
    ({"url": URL, "description": "x" * 501}, "description"),
    ({"url": URL, "description": "bell\x07"}, "description"),
    ({"url": URL, "secret": "whsec_mine"}, "secret"),
    ({}, "url"),
])
def test_a_bad_endpoint_is_refused_with_a_400_naming_the_field(api_client, body, field):
    response = api_client.post(ENDPOINTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]
    assert Endpoint.objects.count() == 0


def test_a_body_that_is_not_json_is_refused_with_a_400(api_client):
    response = api_client.post(ENDPOINTS, b"{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "Invalid JSON"


def test_a_huge_body_is_refused_before_it_is_read(api_client, settings):
    response = api_client.post(ENDPOINTS, {"url": URL, "description": "x" * (2 * 1024 * 1024)}, format="json")
    assert response.status_code == 413


def test_with_private_urls_allowed_a_local_http_receiver_may_be_registered(api_client, settings):
    settings.ALLOW_PRIVATE_URLS, settings.WEBHOOK_REQUIRE_HTTPS = True, False
    assert create(api_client, url="http://127.0.0.1:9000/hook").status_code == 201


def test_past_the_endpoint_limit_creating_another_is_a_409(api_client, settings):
    settings.WEBHOOK_MAX_ENDPOINTS_PER_USER = 2
    assert [create(api_client).status_code for _ in range(3)] == [201, 201, 409]
    assert Endpoint.objects.count() == 2


def test_patch_changes_what_it_names_and_disabling_then_enabling_clears_the_reason(api_client):
    endpoint_id = create(api_client).json()["id"]
    url = f"{ENDPOINTS}{endpoint_id}/"

    changed = api_client.patch(url, {"events": ["credits.low"], "description": "billing"}, format="json").json()
    assert (changed["events"], changed["description"], changed["url"]) == (["credits.low"], "billing", URL)

    disabled = api_client.patch(url, {"enabled": False}, format="json").json()
    assert disabled["enabled"] is False and disabled["disabled_reason"] == "Disabled by its owner."
    enabled = api_client.patch(url, {"enabled": True}, format="json").json()
    assert (enabled["enabled"], enabled["disabled_reason"], enabled["disabled_at"]) == (True, "", None)


@pytest.mark.parametrize("body", [{"enabled": "yes"}, {"url": "https://192.168.1.1/"}, {"events": [1]},
                                  {"colour": "red"}])
def test_a_bad_patch_is_a_400_and_changes_nothing(api_client, body):
    endpoint_id = create(api_client).json()["id"]
    response = api_client.patch(f"{ENDPOINTS}{endpoint_id}/", body, format="json")
    assert response.status_code == 400
    assert Endpoint.objects.get().url == URL and Endpoint.objects.get().enabled


def test_delete_removes_the_endpoint(api_client):
    endpoint_id = create(api_client).json()["id"]
    assert api_client.delete(f"{ENDPOINTS}{endpoint_id}/").status_code == 204
    assert not Endpoint.objects.exists()


def test_rotating_returns_a_new_secret_once_and_keeps_the_old_one_for_24_hours(api_client):
    created = create(api_client).json()
    response = api_client.post(f"{ENDPOINTS}{created['id']}/rotate-secret/")

    assert response.status_code == 200
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != created["secret"]
    endpoint = Endpoint.objects.get()
    assert (endpoint.secret, endpoint.previous_secret) == (body["secret"], created["secret"])
    lasts = endpoint.previous_secret_expires_at - endpoint.updated_at
    assert 23.9 * 3600 < lasts.total_seconds() <= 24 * 3600


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("patch", ""), ("delete", ""),
                                                ("post", "rotate-secret/"), ("post", "test/")])
def test_another_users_endpoint_is_not_found_and_untouched(api_client, other_client, method, suffix):
    created = create(api_client).json()
    response = getattr(other_client, method)(f"{ENDPOINTS}{created['id']}/{suffix}", {"enabled": False},
                                             format="json")
    assert response.status_code == 404
    endpoint = Endpoint.objects.get()
    assert endpoint.secret == created["secret"] and endpoint.enabled and not Event.objects.exists()
    assert other_client.get(ENDPOINTS).json()["results"] == []


@pytest.mark.parametrize("endpoint_id", ["not-a-uuid", str(uuid.uuid4()), "1"])
def test_an_unknown_or_malformed_id_is_a_404(api_client, endpoint_id):
    assert api_client.get(f"{ENDPOINTS}{endpoint_id}/").status_code == 404
    assert api_client.get(f"{DELIVERIES}{endpoint_id}/").status_code == 404


def test_without_a_token_everything_is_refused(client):
    assert client.get(ENDPOINTS).status_code == 401
    assert client.get(DELIVERIES).status_code == 401


# --- Test events, deliveries, replays ------------------------------------------------------------------------------

def test_the_test_operation_sends_a_webhook_test_event_to_that_endpoint_only(api_client, user, broker):
    first, _second = create(api_client).json(), create(api_client).json()
    response = api_client.post(f"{ENDPOINTS}{first['id']}/test/")

    assert response.status_code == 202
    assert (response.json()["event_type"], response.json()["endpoint_id"]) == ("webhook.test", first["id"])
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [uuid.UUID(first["id"])]


def test_a_disabled_endpoint_cannot_be_tested_409(api_client):
    endpoint_id = create(api_client).json()["id"]
    api_client.patch(f"{ENDPOINTS}{endpoint_id}/", {"enabled": False}, format="json")
    assert api_client.post(f"{ENDPOINTS}{endpoint_id}/test/").status_code == 409


@pytest.fixture
def two_deliveries(user, broker, settings):
    settings.WEBHOOK_REQUIRE_HTTPS = False
    first = services.endpoint_create(user=user, url="http://one.example.com/")
    second = services.endpoint_create(user=user, url="http://two.example.com/", events=["job.completed"])
    failed_job, completed_job = running_job(user), running_job(user)
    transitions.fail_job(failed_job.id, "boom")
    transitions.complete_job(completed_job.id, final_uri="gs://b/f.mp4", duration_seconds=8.0)
    return first, second, failed_job, completed_job


def listed(client, **filters) -> list[str]:
    response = client.get(DELIVERIES, filters)
    assert response.status_code == 200
    return sorted(d["event_type"] + "->" + d["url"] for d in response.json()["results"])


def test_deliveries_are_listed_and_filtered_by_endpoint_event_job_and_outcome(api_client, two_deliveries):
    first, second, failed_job, completed_job = two_deliveries
    assert listed(api_client) == ["job.completed->http://one.example.com/", "job.completed->http://two.example.com/",
                                  "job.failed->http://one.example.com/"]
    assert listed(api_client, endpoint=second.id) == ["job.completed->http://two.example.com/"]
    assert listed(api_client, event_type="job.failed") == ["job.failed->http://one.example.com/"]
    assert listed(api_client, job=failed_job.id) == ["job.failed->http://one.example.com/"]
    Delivery.objects.filter(endpoint=second).update(status="succeeded", next_attempt_at=None)
    assert listed(api_client, outcome="succeeded") == ["job.completed->http://two.example.com/"]
    assert len(listed(api_client, outcome="pending")) == 2


@pytest.mark.parametrize("filters", [{"endpoint": "x"}, {"event_type": "job.exploded"}, {"job": "1"},
                                     {"outcome": "maybe"}, {"page": ""}, {"page": "two"}, {"outcome": ""}])
def test_a_bad_filter_or_page_is_a_400(api_client, two_deliveries, filters):
    assert api_client.get(DELIVERIES, filters).status_code == 400


@pytest.mark.parametrize("page", ["", "x"])
def test_a_malformed_page_of_endpoints_is_a_400(api_client, page):
    assert api_client.get(ENDPOINTS, {"page": page}).status_code == 400


@pytest.mark.parametrize("url", [ENDPOINTS, DELIVERIES])
def test_a_page_past_the_end_is_a_404(api_client, url):
    assert api_client.get(url, {"page": "9"}).status_code == 404


def test_a_delivery_shows_its_event_and_attempts(api_client, two_deliveries, receiver, plain_http):
    from webhooks import delivery as engine

    sent = Delivery.objects.filter(event__type="job.failed").get()
    Endpoint.objects.filter(id=sent.endpoint_id).update(url="http://hooks.example.com/receive")
    engine.attempt(sent.id)

    body = api_client.get(f"{DELIVERIES}{sent.id}/").json()
    assert body["payload"]["type"] == "job.failed" and body["status"] == "succeeded"
    assert [(a["number"], a["outcome"], a["status_code"]) for a in body["attempts"]] == [(1, "succeeded", 200)]


def test_replay_makes_a_new_delivery_of_the_same_event(api_client, two_deliveries, broker):
    original = Delivery.objects.filter(event__type="job.failed").get()
    response = api_client.post(f"{DELIVERIES}{original.id}/replay/")

    assert response.status_code == 202
    copy = Delivery.objects.get(id=response.json()["id"])
    assert (copy.event_id, copy.endpoint_id, copy.replay_of_id, copy.status) == (
        original.event_id, original.endpoint_id, original.id, "pending")
    assert response.json()["message_id"] == f"msg_{original.event_id.hex}"


def test_another_users_deliveries_are_invisible_and_cannot_be_replayed(api_client, other_client, two_deliveries):
    original = Delivery.objects.first()
    assert other_client.get(DELIVERIES).json()["results"] == []
    assert other_client.get(f"{DELIVERIES}{original.id}/").status_code == 404
    assert other_client.post(f"{DELIVERIES}{original.id}/replay/").status_code == 404
    assert Delivery.objects.count() == 3
    first, *_ = two_deliveries
    assert other_client.get(DELIVERIES, {"endpoint": first.id}).json()["results"] == []
