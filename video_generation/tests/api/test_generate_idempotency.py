"""POST /api/video/generate/ with an Idempotency-Key: a retried request never starts a second (paid) video."""

import pytest
from rest_framework.test import APIClient

from api_keys.services import issue_key
from video_generation.models import VideoJob

pytestmark = pytest.mark.django_db
URL = "/api/video/generate/"


@pytest.fixture
def brief():
    return {"product_title": "Headphones", "image_url": "https://cdn.example.com/h.jpg", "avatar_id": "a1",
            "voice_id": "v1", "avatar_script": "Hello there.",
            "scenes": [{"visual_description": "desk", "camera_movement": "zoom in", "mood": "warm"}]}


def post(client, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, body, format="json", **headers)


def test_a_retry_with_the_same_key_returns_the_original_job(api_client, brief):
    first = post(api_client, brief, key="order-42")
    second = post(api_client, brief, key="order-42")
    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]
    assert second["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert VideoJob.objects.count() == 1


def test_the_same_key_with_a_different_body_is_refused(api_client, brief):
    post(api_client, brief, key="order-42")
    response = post(api_client, {**brief, "product_title": "Speakers"}, key="order-42")
    assert response.status_code == 422
    assert response.json() == {"error": "This Idempotency-Key was already used with a different request."}
    assert VideoJob.objects.count() == 1


def test_keys_belong_to_one_user(api_client, other_user, brief):
    bob = APIClient()
    bob.credentials(HTTP_AUTHORIZATION=f"Token {issue_key(user=other_user, name='bob').secret}")
    a = post(api_client, brief, key="same")
    b = post(bob, brief, key="same")
    assert a.json()["job_id"] != b.json()["job_id"]


def test_without_a_key_every_request_is_a_new_job(api_client, brief):
    post(api_client, brief)
    post(api_client, brief)
    assert VideoJob.objects.count() == 2


def test_an_overlong_key_is_a_validation_error(api_client, brief):
    response = post(api_client, brief, key="k" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["details"]
    assert VideoJob.objects.count() == 0


@pytest.mark.parametrize(("status", "message"), [
    ("cancelled", "Video generation was cancelled"), ("completed", "Video already completed"),
    ("failed", "Video generation failed"), ("processing_veo", "Video generation in progress"),
])
def test_a_replay_tells_the_jobs_true_state(api_client, brief, status, message):
    first = post(api_client, brief, key="order-7")
    VideoJob.objects.filter(id=first.json()["job_id"]).update(status=status)

    again = post(api_client, brief, key="order-7")

    assert again.status_code == 202
    assert (again.json()["status"], again.json()["message"]) == (status, message)


def test_a_replay_is_answered_even_when_the_user_is_over_the_rate_limit(api_client, brief, settings):
    settings.GENERATE_RATE_LIMIT = "1/hour"
    first = post(api_client, brief, key="order-8")
    assert post(api_client, brief).status_code == 429  # no new video
    again = post(api_client, brief, key="order-8")
    assert again.status_code == 202 and again.json()["job_id"] == first.json()["job_id"]


def test_a_replay_does_not_use_up_the_rate_limit(api_client, brief, settings):
    settings.GENERATE_RATE_LIMIT = "2/hour"
    post(api_client, brief, key="order-9")
    post(api_client, brief, key="order-9")
    assert post(api_client, brief).status_code == 202  # the second slot is still free


@pytest.mark.parametrize("key", ["k" * 256, "tab\there", "", " padded", "padded ", "caf\u00e9"])
def test_an_unusable_key_is_refused(api_client, brief, key):
    response = post(api_client, brief, key=key)
    assert response.status_code == 400
    assert response.json()["details"] == {"Idempotency-Key": [
        "1 to 255 printable ASCII characters, not starting or ending with a space."]}
    assert VideoJob.objects.count() == 0


@pytest.mark.parametrize("key", ["k", "k" * 255, "order 7 / retry #2", "~!"])
def test_every_key_the_schema_allows_is_taken(api_client, brief, key):
    assert post(api_client, brief, key=key).status_code == 202
