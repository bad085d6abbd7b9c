"""GET /api/video/status/<job_id>/"""

import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from video_generation.models import JobStatus, JobStep, StepKind, StepState
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db


def url(job_id):
    return f"/api/video/status/{job_id}/"


@pytest.fixture
def fake_storage(monkeypatch):
    """Stands in for the storage backend's get_storage().signed_url(uri)."""
    storage = mock.Mock()
    storage.signed_url.side_effect = lambda uri: f"https://signed.example.com/{uri.split('/')[-1]}?sig=fresh"
    monkeypatch.setattr("video_generation.services.storage.get_storage", lambda: storage)
    return storage


def test_it_requires_a_token(user):
    job = make_job(user)
    r = APIClient().get(url(job.id))
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}


def test_it_returns_the_job(api_client, user):
    job = make_job(user, status=JobStatus.PROCESSING_VEO, progress=45, aspect_ratio="16:9")

    r = api_client.get(url(job.id))

    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "id", "status", "progress", "product_title", "created_at", "updated_at", "completed_at",
        "processing_time_seconds", "veo_video_url", "final_video_url", "error_message", "credits_used",
        "aspect_ratio", "steps",
    }
    assert body["id"] == str(job.id)
    assert body["status"] == "processing_veo"
    assert body["progress"] == 45
    assert body["aspect_ratio"] == "16:9"
    assert body["completed_at"] is None
    assert body["veo_video_url"] is None
    assert body["final_video_url"] is None
    assert body["error_message"] is None
    assert body["steps"] == []


def test_it_includes_the_steps(api_client, user):
    job = make_job(user, status=JobStatus.PROCESSING_VEO)
    started = timezone.now() - timedelta(minutes=2)
    JobStep.objects.create(job=job, key="veo:c1:s1", kind=StepKind.VEO_GENERATE, provider="veo",
                           state=StepState.SUCCEEDED, attempts=1, started_at=started,
                           finished_at=started + timedelta(seconds=70))
    JobStep.objects.create(job=job, key="veo:c1:s2", kind=StepKind.VEO_EXTEND, provider="veo",
                           state=StepState.FAILED, attempts=2, error_message="safety filter")

    steps = api_client.get(url(job.id)).json()["steps"]

    assert [s["key"] for s in steps] == ["veo:c1:s1", "veo:c1:s2"]
    assert set(steps[0]) == {"key", "kind", "state", "attempts", "started_at", "finished_at", "error_message"}
    assert steps[0]["kind"] == "veo_generate" and steps[0]["state"] == "succeeded"
    assert steps[0]["started_at"] is not None and steps[0]["finished_at"] is not None
    assert steps[1]["attempts"] == 2 and steps[1]["error_message"] == "safety filter"


def test_it_signs_a_fresh_final_video_url(api_client, user, fake_storage):
    job = make_job(user, status=JobStatus.COMPLETED, progress=100, final_video_uri="gs://bucket/jobs/final.mp4",
                   final_video_url="https://old.example.com/final.mp4?sig=stale")

    body = api_client.get(url(job.id)).json()

    assert body["final_video_url"] == "https://signed.example.com/final.mp4?sig=fresh"
    fake_storage.signed_url.assert_called_once_with("gs://bucket/jobs/final.mp4")


def test_it_falls_back_to_the_stored_url_when_signing_fails(api_client, user, fake_storage):
    fake_storage.signed_url.side_effect = RuntimeError("no credentials")
    job = make_job(user, status=JobStatus.COMPLETED, final_video_uri="gs://bucket/final.mp4",
                   final_video_url="https://old.example.com/final.mp4")

    r = api_client.get(url(job.id))

    assert r.status_code == 200
    assert r.json()["final_video_url"] == "https://old.example.com/final.mp4"


def test_it_returns_the_stored_url_without_a_storage_uri(api_client, user, fake_storage):
    job = make_job(user, final_video_url="https://cdn.example.com/final.mp4",
                   veo_video_url="https://cdn.example.com/veo.mp4")

    body = api_client.get(url(job.id)).json()

    assert body["final_video_url"] == "https://cdn.example.com/final.mp4"
    assert body["veo_video_url"] == "https://cdn.example.com/veo.mp4"
    fake_storage.signed_url.assert_not_called()


def test_it_hides_other_users_jobs(api_client, other_user):
    job = make_job(other_user)

    r = api_client.get(url(job.id))

    assert r.status_code == 404
    assert r.json() == {"error": "Job not found"}


@pytest.mark.parametrize("job_id", [uuid.uuid4(), "not-a-uuid", "123"])
def test_it_returns_404_for_unknown_or_malformed_ids(api_client, job_id):
    r = api_client.get(url(job_id))

    assert r.status_code == 404
    assert r.json() == {"error": "Job not found"}


def test_it_returns_a_generic_404_for_unknown_paths(api_client):
    r = api_client.get("/api/video/nope/")
    assert r.status_code == 404


def test_it_signs_a_fresh_broll_url_too(api_client, user, fake_storage):
    job = make_job(user, veo_video_gcs_uri="gs://bucket/jobs/broll.mp4", veo_video_url="https://old.example.com/b")

    body = api_client.get(url(job.id)).json()

    assert body["veo_video_url"] == "https://signed.example.com/broll.mp4?sig=fresh"
    fake_storage.signed_url.assert_called_once_with("gs://bucket/jobs/broll.mp4")
