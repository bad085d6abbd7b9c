"""POST /api/video/<job_id>/cancel/"""

import uuid
from unittest import mock

import pytest
from rest_framework.test import APIClient

from video_generation.models import JobStatus, VideoJob
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db


def url(job_id):
    return f"/api/video/{job_id}/cancel/"


@pytest.fixture
def cancel_job():
    """The real cancel, watched: the tests see whether the view called it."""
    from video_generation.pipeline import cancel_job as real_cancel

    with mock.patch("video_generation.views.cancel_job", side_effect=real_cancel) as patched:
        yield patched


def test_it_requires_a_token(user, cancel_job):
    job = make_job(user)
    r = APIClient().post(url(job.id))
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}
    cancel_job.assert_not_called()


def test_it_cancels_a_running_job(api_client, user, cancel_job):
    job = make_job(user, status=JobStatus.PROCESSING_VEO)

    r = api_client.post(url(job.id))

    assert r.status_code == 200
    body = r.json()
    assert body["id"] == str(job.id)
    assert body["status"] == "cancelled"
    assert "steps" in body
    cancel_job.assert_called_once()
    assert cancel_job.call_args.args[0].id == job.id


@pytest.mark.parametrize("terminal", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_it_refuses_to_cancel_a_finished_job(api_client, user, cancel_job, terminal):
    job = make_job(user, status=terminal)

    r = api_client.post(url(job.id))

    assert r.status_code == 409
    assert r.json() == {"error": f"Job is already {terminal.value}"}
    assert VideoJob.objects.get(id=job.id).status == terminal


def test_it_answers_409_when_the_job_finished_while_the_request_was_on_its_way(api_client, user, monkeypatch):
    job = make_job(user, status=JobStatus.COMPOSING)
    stale = VideoJob.objects.get(id=job.id)  # what the view read, a moment before the job completed
    VideoJob.objects.filter(id=job.id).update(status=JobStatus.COMPLETED)
    monkeypatch.setattr("video_generation.views.get_user_job", lambda **kwargs: stale)

    r = api_client.post(url(job.id))

    assert r.status_code == 409
    assert r.json() == {"error": "Job is already completed"}
    assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED


def test_it_hides_other_users_jobs(api_client, other_user, cancel_job):
    job = make_job(other_user)

    r = api_client.post(url(job.id))

    assert r.status_code == 404
    assert r.json() == {"error": "Job not found"}
    cancel_job.assert_not_called()
    assert VideoJob.objects.get(id=job.id).status == JobStatus.PENDING


@pytest.mark.parametrize("job_id", [uuid.uuid4(), "garbage"])
def test_it_returns_404_for_unknown_ids(api_client, cancel_job, job_id):
    r = api_client.post(url(job_id))

    assert r.status_code == 404
    assert r.json() == {"error": "Job not found"}


def test_it_only_allows_post(api_client, user, cancel_job):
    job = make_job(user)

    r = api_client.get(url(job.id))

    assert r.status_code == 405
    cancel_job.assert_not_called()
