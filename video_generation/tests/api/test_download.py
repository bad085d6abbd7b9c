"""GET /api/video/{job_id}/download/: a 302 to a fresh, short-lived link to one of the caller's own files."""

import time
import uuid

import pytest
from rest_framework.test import APIClient

from video_generation.downloads import read_link_token
from video_generation.models import JobStatus
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db


def url(job_id, artifact=None):
    return f"/api/video/{job_id}/download/" + (f"?artifact={artifact}" if artifact else "")


@pytest.fixture
def finished_job(user, settings):
    final = settings.LOCAL_STORAGE_DIR / "jobs" / "x" / "final.mp4"
    broll = settings.LOCAL_STORAGE_DIR / "jobs" / "x" / "broll.mp4"
    final.parent.mkdir(parents=True)
    final.write_bytes(b"the finished video")
    broll.write_bytes(b"the b-roll")
    return make_job(user, status=JobStatus.COMPLETED, final_video_uri=final.as_uri(), veo_video_gcs_uri=broll.as_uri())


def test_it_redirects_to_a_link_that_serves_the_finished_video(api_client, finished_job, settings):
    r = api_client.get(url(finished_job.id))

    assert r.status_code == 302
    link = r["Location"]
    token = link.split("/media/")[1].split("/")[0]
    assert read_link_token(token) == (finished_job.id, "video")
    served = APIClient().get(link.removeprefix("http://testserver"))
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"the finished video"
    assert settings.DOWNLOAD_URL_TTL_SECONDS == 300  # short-lived by default


def test_the_link_expires_after_the_download_ttl(api_client, finished_job, settings, monkeypatch):
    settings.DOWNLOAD_URL_TTL_SECONDS = 60
    link = api_client.get(url(finished_job.id))["Location"]
    token = link.split("/media/")[1].split("/")[0]
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert read_link_token(token) is None


def test_it_redirects_to_the_broll_when_asked(api_client, finished_job):
    served = APIClient().get(api_client.get(url(finished_job.id, "broll"))["Location"].removeprefix(
        "http://testserver"))
    assert b"".join(served.streaming_content) == b"the b-roll"


def test_a_job_without_its_video_yet_is_a_409(api_client, user):
    job = make_job(user, status=JobStatus.PROCESSING_VEO)
    r = api_client.get(url(job.id))
    assert r.status_code == 409
    assert r.json() == {"error": "This job has no video to download (it is processing_veo)."}


@pytest.mark.parametrize("job_id", ["garbage", uuid.uuid4()])
def test_an_unknown_job_is_a_404(api_client, job_id):
    assert api_client.get(url(job_id)).status_code == 404


def test_another_users_job_is_a_404_and_no_link(api_client, other_user, settings):
    final = settings.LOCAL_STORAGE_DIR / "theirs.mp4"
    final.parent.mkdir(parents=True, exist_ok=True)
    final.write_bytes(b"not yours")
    job = make_job(other_user, status=JobStatus.COMPLETED, final_video_uri=final.as_uri())
    r = api_client.get(url(job.id))
    assert r.status_code == 404 and "Location" not in r


def test_it_needs_a_token(finished_job):
    assert APIClient().get(url(finished_job.id)).status_code == 401


def test_an_unknown_artifact_is_a_400(api_client, finished_job):
    r = api_client.get(url(finished_job.id, "secrets"))
    assert r.status_code == 400 and "artifact" in r.json()["details"]
