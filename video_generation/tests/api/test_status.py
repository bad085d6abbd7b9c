"""GET /api/video/status/<job_id>/"""

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from video_generation import downloads
from video_generation.models import JobStatus, JobStep, StepKind, StepState
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db


def url(job_id):
    return f"/api/video/status/{job_id}/"


def download(client, link: str) -> bytes:
    response = client.get(urlsplit(link).path)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


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
        "processing_time_seconds", "veo_video_url", "final_video_url", "poster_url", "preview_url", "error_message",
        "credits_used", "aspect_ratio", "steps", "quality", "broll_audio", "duration_seconds", "credits_quoted",
        "cost_usd", "expired", "video_expires_at", "video_expired_at", "captions_srt_url", "captions_vtt_url",
        "captions", "broll_fit", "scene_transitions",
    }
    assert body["id"] == str(job.id)
    assert body["status"] == "processing_veo"
    assert body["progress"] == 45
    assert body["aspect_ratio"] == "16:9"
    assert body["completed_at"] is None
    assert body["veo_video_url"] is None
    assert body["final_video_url"] is None
    assert (body["poster_url"], body["preview_url"]) == (None, None)
    assert body["error_message"] is None
    assert body["steps"] == []
    assert (body["quality"], body["broll_audio"], body["credits_quoted"], body["cost_usd"]) == \
        ("standard", False, None, "0.0000")
    assert (body["scene_transitions"], body["broll_fit"]) == ("continuous", "extend")


def test_it_shows_how_the_broll_is_made(api_client, user, django_assert_max_num_queries):
    job = make_job(user, status=JobStatus.PROCESSING_VEO, scene_transitions="cuts", broll_fit="loop")
    api_client.get(url(job.id))  # the key's first use of the minute writes last_used_at; later ones do not
    with django_assert_max_num_queries(2):  # the key and the one status read: both fields are among its columns
        body = api_client.get(url(job.id)).json()
    assert (body["scene_transitions"], body["broll_fit"]) == ("cuts", "loop")


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
    assert set(steps[0]) == {"key", "kind", "state", "attempts", "started_at", "finished_at", "error_message",
                             "cost_usd"}
    assert steps[0]["kind"] == "veo_generate" and steps[0]["state"] == "succeeded"
    assert steps[0]["started_at"] is not None and steps[0]["finished_at"] is not None
    assert steps[1]["attempts"] == 2 and steps[1]["error_message"] == "safety filter"


def test_it_issues_a_fresh_link_to_the_final_video_on_every_read(api_client, client, user, local):
    job = make_job(user, status=JobStatus.COMPLETED, progress=100,
                   final_video_url="http://testserver/media/stale-path-token/final.mp4")
    job.final_video_uri = local.upload_bytes(b"final-bytes", f"jobs/{job.id}/final.mp4", "video/mp4")
    job.save()

    first = api_client.get(url(job.id)).json()["final_video_url"]
    second = api_client.get(url(job.id)).json()["final_video_url"]

    assert first.startswith("http://testserver/media/") and first.endswith(f"/{job.id}.mp4")
    assert first != second and job.final_video_url not in (first, second)
    assert download(client, first) == download(client, second) == b"final-bytes"


def test_it_issues_a_v4_signed_url_when_gcs_can_sign(api_client, user, gcs, v4_signing, emulator):
    job = make_job(user, status=JobStatus.COMPLETED)
    job.final_video_uri = gcs.upload_bytes(b"final-bytes", f"jobs/{job.id}/final.mp4", "video/mp4")
    job.save()

    link = api_client.get(url(job.id)).json()["final_video_url"]

    assert link.startswith(f"{emulator}/{job.final_video_uri.removeprefix('gs://')}?")
    assert "X-Goog-Signature" in parse_qs(urlsplit(link).query)


def test_it_gives_no_link_when_signing_fails_never_the_stored_one(api_client, user, local, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no credentials")

    monkeypatch.setattr(downloads, "get_storage", broken)
    job = make_job(user, status=JobStatus.COMPLETED, final_video_url="http://testserver/media/old-token/final.mp4")
    job.final_video_uri = local.upload_bytes(b"x", f"jobs/{job.id}/final.mp4", "video/mp4")
    job.save()

    r = api_client.get(url(job.id))

    assert r.status_code == 200
    assert r.json()["final_video_url"] is None


def test_it_gives_no_link_without_a_stored_video_even_if_an_old_link_was_saved(api_client, user, local):
    job = make_job(user, final_video_url="http://testserver/media/old-token/final.mp4",
                   veo_video_url="http://testserver/media/old-token/veo.mp4")

    body = api_client.get(url(job.id)).json()

    assert body["final_video_url"] is None
    assert body["veo_video_url"] is None


def test_it_gives_no_link_to_a_video_outside_our_storage(api_client, user, local, tmp_path):
    elsewhere = tmp_path / "elsewhere.mp4"
    elsewhere.write_bytes(b"not ours")
    job = make_job(user, status=JobStatus.COMPLETED, final_video_uri=elsewhere.as_uri())

    assert api_client.get(url(job.id)).json()["final_video_url"] is None


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


def test_it_issues_a_fresh_link_to_the_broll_too(api_client, client, user, local):
    job = make_job(user, veo_video_url="http://testserver/media/old-token/b.mp4")
    job.veo_video_gcs_uri = local.upload_bytes(b"broll-bytes", f"jobs/{job.id}/broll.mp4", "video/mp4")
    job.save()

    body = api_client.get(url(job.id)).json()

    assert body["veo_video_url"].endswith(f"/{job.id}-broll.mp4")
    assert download(client, body["veo_video_url"]) == b"broll-bytes"
    assert body["final_video_url"] is None


def test_it_links_the_poster_and_the_preview_of_a_finished_video(api_client, client, user, local):
    job = make_job(user, status=JobStatus.COMPLETED, progress=100)
    job.final_video_uri = local.upload_bytes(b"final-bytes", f"jobs/{job.id}/final.mp4", "video/mp4")
    job.poster_uri = local.upload_bytes(b"poster-bytes", f"jobs/{job.id}/final-poster.jpg", "image/jpeg")
    job.preview_uri = local.upload_bytes(b"preview-bytes", f"jobs/{job.id}/final-preview.mp4", "video/mp4")
    job.save()

    body = api_client.get(url(job.id)).json()

    assert body["poster_url"].endswith(f"/{job.id}-poster.jpg")
    assert body["preview_url"].endswith(f"/{job.id}-preview.mp4")
    assert download(client, body["poster_url"]) == b"poster-bytes"
    assert download(client, body["preview_url"]) == b"preview-bytes"


def test_it_links_the_captions_as_srt_and_as_vtt_a_browser_can_play(api_client, client, user, local):
    job = make_job(user, status=JobStatus.COMPLETED, progress=100)
    job.final_video_uri = local.upload_bytes(b"final-bytes", f"jobs/{job.id}/final.mp4", "video/mp4")
    vtt = b"WEBVTT\n\n1\n00:00:00.400 --> 00:00:01.500\nOrder today.\n"
    job.captions_srt_uri = local.upload_bytes(b"1\n", f"jobs/{job.id}/final-captions.srt", "application/x-subrip")
    job.captions_vtt_uri = local.upload_bytes(vtt, f"jobs/{job.id}/final-captions.vtt", "text/vtt")
    job.save()

    body = api_client.get(url(job.id)).json()

    assert body["captions"] == {"enabled": True, "style": "bold", "position": "auto"}
    assert body["captions_srt_url"].endswith(f"/{job.id}.srt") and body["captions_vtt_url"].endswith(f"/{job.id}.vtt")
    response = client.get(body["captions_vtt_url"])
    assert response.status_code == 200 and response["Content-Type"] == "text/vtt"
    assert b"".join(response.streaming_content) == vtt
    assert download(client, body["captions_srt_url"]) == b"1\n"
    other = api_client.get(f"/api/video/{job.id}/download/", {"artifact": "captions_vtt"})
    assert other.status_code in (200, 302)


def test_a_job_without_captions_links_none(api_client, user):
    job = make_job(user, status=JobStatus.COMPLETED, progress=100)
    body = api_client.get(url(job.id)).json()
    assert body["captions_srt_url"] is None and body["captions_vtt_url"] is None


def test_an_expired_video_takes_its_poster_and_preview_links_with_it(api_client, user, local):
    job = make_job(user, status=JobStatus.COMPLETED, progress=100, video_expired_at=timezone.now())
    job.poster_uri = local.upload_bytes(b"poster-bytes", f"jobs/{job.id}/final-poster.jpg", "image/jpeg")
    job.save()

    assert api_client.get(url(job.id)).json()["poster_url"] is None
