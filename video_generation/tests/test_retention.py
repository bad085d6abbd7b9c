"""Retention: a finished job's intermediates go INTERMEDIATE_RETENTION_DAYS after it ended, its video at its
`video_expires_at`; exactly those files, never a running job's; an expired download is 410 Gone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Plan, UserProfile
from video_generation import retention
from video_generation.downloads import Artifact, artifact_url, make_link_token
from video_generation.models import JobStatus, StoragePurge, VideoJob
from video_generation.pipeline import retry_job
from video_generation.pipeline.handlers import job_path
from video_generation.pipeline.transitions import complete_job
from video_generation.services.storage import StorageError, get_storage
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db

INTERMEDIATES = ["input/product.png", "veo-c0-s0/attempt-1/sample_0.mp4", "broll.mp4", "presenter.webm"]
# the video, its poster, its preview and its captions
DELIVERED = {"final.mp4", "final-poster.jpg", "final-preview.mp4", "final-captions.srt", "final-captions.vtt"}
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    from video_generation.pipeline import dispatch

    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)


def finished_job(user, *, status=JobStatus.COMPLETED, ended, video_days=90):
    """A job that ended at `ended` with every file a run leaves; its video kept `video_days` from then."""
    job = make_job(user, status=status)
    storage = get_storage()
    uris = {name: storage.upload_bytes(b"x", job_path(job, name), "video/mp4") for name in [*INTERMEDIATES,
                                                                                             *DELIVERED]}
    fields = {"completed_at": ended, "veo_video_gcs_uri": uris["broll.mp4"]}
    if status == JobStatus.COMPLETED:
        fields.update(final_video_uri=uris["final.mp4"], poster_uri=uris["final-poster.jpg"],
                      preview_uri=uris["final-preview.mp4"], captions_srt_uri=uris["final-captions.srt"],
                      captions_vtt_uri=uris["final-captions.vtt"], video_expires_at=ended + video_days * DAY)
    else:
        for name in DELIVERED:
            get_storage().delete(uris[name])
    VideoJob.objects.filter(id=job.id).update(**fields)
    job.refresh_from_db()
    return job


def names(job) -> set[str]:
    prefix = retention.job_files_prefix(job.id)
    return {uri.removeprefix(prefix) for uri in retention.job_files(job.id)}


# --- What goes when ------------------------------------------------------------------------------------------------

def test_intermediates_stay_until_their_retention_and_then_go_while_the_video_stays(user, settings):
    settings.INTERMEDIATE_RETENTION_DAYS = 7
    now = timezone.now()
    job = finished_job(user, ended=now)

    retention.sweep(now=now + 7 * DAY - timedelta(seconds=1))
    assert names(job) == {*INTERMEDIATES, *DELIVERED}

    retention.sweep(now=now + 7 * DAY)
    assert names(job) == DELIVERED  # the poster and the preview stay with the video
    job.refresh_from_db()
    assert job.intermediates_expired_at == now + 7 * DAY and job.video_expired_at is None


def test_the_video_goes_at_its_expiry_with_whatever_is_left(user):
    now = timezone.now()
    job = finished_job(user, ended=now, video_days=90)

    retention.sweep(now=now + 90 * DAY - timedelta(seconds=1))
    assert DELIVERED <= names(job)

    retention.sweep(now=now + 90 * DAY)
    assert names(job) == set()  # the poster and the preview went with the video
    job.refresh_from_db()
    assert job.video_expired_at == now + 90 * DAY


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.CANCELLED])
def test_a_job_that_did_not_deliver_loses_its_intermediates_after_their_retention(user, status):
    now = timezone.now()
    job = finished_job(user, status=status, ended=now)
    retention.sweep(now=now + 8 * DAY)
    assert names(job) == set()


def test_a_running_job_keeps_every_file_however_old(user):
    long_ago = timezone.now() - 400 * DAY
    job = finished_job(user, ended=long_ago)
    VideoJob.objects.filter(id=job.id).update(status=JobStatus.COMPOSING, completed_at=None, video_expires_at=None)
    retention.sweep()
    assert names(job) == {*INTERMEDIATES, *DELIVERED}


def test_a_failed_job_retried_before_the_sweep_keeps_its_files_and_one_expired_cannot_be_retried(user):
    now = timezone.now()
    retried = finished_job(user, status=JobStatus.FAILED, ended=now - 8 * DAY)
    assert retry_job(retried)
    retention.sweep(now=now)
    assert names(retried) == set(INTERMEDIATES)

    expired = finished_job(user, status=JobStatus.FAILED, ended=now - 8 * DAY)
    retention.sweep(now=now)
    assert retry_job(expired) is False
    assert expired.status == JobStatus.FAILED


def test_other_jobs_files_are_untouched(user, other_user):
    now = timezone.now()
    old = finished_job(user, ended=now - 100 * DAY)
    recent = finished_job(other_user, ended=now - DAY)
    retention.sweep(now=now)
    assert names(old) == set()
    assert names(recent) == {*INTERMEDIATES, *DELIVERED}


def test_the_sweep_is_batched_and_idempotent(user, settings):
    now = timezone.now()
    jobs = [finished_job(user, status=JobStatus.FAILED, ended=now - 10 * DAY) for _ in range(3)]
    assert retention.sweep(now=now, batch=2)["intermediates_expired"] == 2
    assert retention.sweep(now=now, batch=2)["intermediates_expired"] == 1
    assert retention.sweep(now=now, batch=2) == {"intermediates_expired": 0, "videos_expired": 0, "purges": 0}
    assert all(names(job) == set() for job in jobs)
    assert not StoragePurge.objects.exists()


def test_a_purge_that_fails_is_retried_by_the_next_run(user, monkeypatch):
    now = timezone.now()
    job = finished_job(user, status=JobStatus.FAILED, ended=now - 10 * DAY)
    backend, outage = type(get_storage()), {"on": True}
    delete = backend.delete

    def failing_delete(self, uri):
        if outage["on"]:
            raise StorageError("storage is down")
        return delete(self, uri)

    monkeypatch.setattr(backend, "delete", failing_delete)
    retention.sweep(now=now)
    assert names(job) == set(INTERMEDIATES)
    assert StoragePurge.objects.filter(job_id=job.id, passes_left=1, attempts=1).exists()
    outage["on"] = False
    retention.sweep(now=now)
    assert names(job) == set()


def test_retention_on_the_gcs_emulator_deletes_exactly_the_expired_objects(gcs, emulator_admin, user):
    now = timezone.now()
    job = finished_job(user, ended=now - 8 * DAY)
    retention.sweep(now=now)
    bucket = emulator_admin.bucket(gcs.bucket_name)
    left = {blob.name for blob in bucket.list_blobs(prefix=f"video-saas/jobs/{job.id}/")}
    assert left == {f"video-saas/jobs/{job.id}/{name}" for name in DELIVERED}


# --- The video's expiry: the plan's, fixed on delivery ----------------------------------------------------------

def delivered(user):
    job = make_job(user, status=JobStatus.COMPOSING, quote={"credits": 1})
    assert complete_job(job.id, final_uri="file:///x/final.mp4", duration_seconds=8)
    job.refresh_from_db()
    return job


def test_a_delivered_video_expires_video_retention_days_after_delivery(user, settings):
    settings.VIDEO_RETENTION_DAYS = 90
    job = delivered(user)
    assert job.video_expires_at - job.completed_at == 90 * DAY


def test_a_plan_with_its_own_retention_sets_the_videos_expiry(user):
    plan = UserProfile.objects.get(user=user).plan
    Plan.objects.filter(id=plan.id).update(video_retention_days=30)
    job = delivered(user)
    assert job.video_expires_at - job.completed_at == 30 * DAY


# --- Expired downloads: 410 Gone; the status says so --------------------------------------------------------------

def expire_all(job):
    retention.sweep(now=job.video_expires_at)
    job.refresh_from_db()


def test_an_expired_videos_status_says_so_and_has_no_links(user, api_client):
    job = finished_job(user, ended=timezone.now() - 100 * DAY)
    expire_all(job)
    body = api_client.get(f"/api/video/status/{job.id}/").json()
    assert body["expired"] is True
    assert body["video_expired_at"] is not None
    assert body["final_video_url"] is None and body["veo_video_url"] is None
    assert body["poster_url"] is None and body["preview_url"] is None


def test_a_live_videos_status_says_when_it_expires(user, api_client):
    job = finished_job(user, ended=timezone.now())
    body = api_client.get(f"/api/video/status/{job.id}/").json()
    assert body["expired"] is False and body["video_expired_at"] is None
    assert body["video_expires_at"] is not None


@pytest.mark.parametrize("artifact", ["video", "broll", "poster", "preview"])
def test_downloading_an_expired_file_is_410_gone_with_a_clear_body(user, api_client, artifact):
    job = finished_job(user, ended=timezone.now() - 100 * DAY)
    expire_all(job)
    response = api_client.get(f"/api/video/{job.id}/download/?artifact={artifact}")
    assert response.status_code == 410
    assert "expired" in response.json()["error"] and response.json()["expired_at"]


def test_only_the_broll_is_gone_while_the_video_is_kept(user, api_client):
    job = finished_job(user, ended=timezone.now() - 8 * DAY)
    retention.sweep()
    assert api_client.get(f"/api/video/{job.id}/download/?artifact=broll").status_code == 410
    assert api_client.get(f"/api/video/{job.id}/download/").status_code == 302
    for artifact in ("poster", "preview"):
        assert api_client.get(f"/api/video/{job.id}/download/?artifact={artifact}").status_code == 302


def test_a_link_issued_before_the_expiry_is_410_after_it(user, client):
    job = finished_job(user, ended=timezone.now() - 100 * DAY)
    VideoJob.objects.filter(id=job.id).update(video_expires_at=timezone.now() + DAY)
    job.refresh_from_db()
    link = artifact_url(job, Artifact.VIDEO, ttl_seconds=3600)
    assert client.get(link.removeprefix("http://testserver")).status_code == 200
    expire_all(job)
    response = client.get(link.removeprefix("http://testserver"))
    assert response.status_code == 410
    assert response.json()["error"].startswith("This video has expired")


def test_a_forged_link_to_an_expired_video_is_still_a_404(user, client):
    job = finished_job(user, ended=timezone.now() - 100 * DAY)
    expire_all(job)
    token = make_link_token(job.id, Artifact.VIDEO, expires_at=int(timezone.now().timestamp()) + 60)
    assert client.get(f"/media/{token[:-2]}xx/v.mp4").status_code == 404


def test_the_api_schema_documents_410_on_downloads(client):
    schema = client.get("/api/schema/?format=json").json()
    assert "410" in schema["paths"]["/api/video/{job_id}/download/"]["get"]["responses"]

