"""Status reads stay fast: two queries with a key, an ETag, and 304 for an unchanged job."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from video_generation import job_reads
from video_generation.models import JobStatus, JobStep, StepKind, StepState, VideoJob
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db


def url(job_id):
    return f"/api/video/status/{job_id}/"


def with_steps(job, n=6):
    for i in range(n):
        JobStep.objects.create(job=job, key=f"veo:c1:s{i}", kind=StepKind.VEO_GENERATE, provider="veo",
                               state=StepState.SUCCEEDED if i < 2 else StepState.PENDING)
    return job


def completed_job(user, local):
    job = make_job(user, status=JobStatus.COMPLETED, progress=100)
    job.final_video_uri = local.upload_bytes(b"final", f"jobs/{job.id}/final.mp4", "video/mp4")
    job.veo_video_gcs_uri = local.upload_bytes(b"broll", f"jobs/{job.id}/broll.mp4", "video/mp4")
    job.save()
    return with_steps(job)


def test_a_status_read_with_a_key_is_two_queries(api_client, user, local, django_assert_max_num_queries):
    job = completed_job(user, local)
    api_client.get(url(job.id))  # the key's first use of the minute writes last_used_at; later ones do not

    with django_assert_max_num_queries(2):
        r = api_client.get(url(job.id))

    assert r.status_code == 200
    assert len(r.json()["steps"]) == 6 and r.json()["final_video_url"]


def test_the_one_query_read_answers_what_the_prefetching_read_did(api_client, user, local):
    from video_generation.serializers import VideoJobSerializer

    job = completed_job(user, local)
    JobStep.objects.filter(job=job, key="veo:c1:s3").update(error_message="safety filter", attempts=3,
                                                           cost_usd="1.2300")

    fast = job_reads.job_with_steps(user=user, job_id=str(job.id))
    usual = VideoJob.objects.prefetch_related("steps").get(id=job.id)

    context = {"links": False}
    assert VideoJobSerializer(fast, context=context).data == VideoJobSerializer(usual, context=context).data


def test_a_job_without_steps_reads_in_one_query(user, django_assert_num_queries):
    job = make_job(user)

    with django_assert_num_queries(1):
        loaded = job_reads.job_with_steps(user=user, job_id=str(job.id))
        assert list(loaded.steps.all()) == []


def test_the_list_stays_lean_however_many_jobs_and_steps(api_client, user, django_assert_max_num_queries):
    with_steps(make_job(user))
    api_client.get("/api/video/list_jobs/")  # the key's write of the minute

    # the key, the count, the page of jobs, their steps: the same four for one job or a full page
    with django_assert_max_num_queries(4):
        assert api_client.get("/api/video/list_jobs/").json()["count"] == 1
    for _ in range(19):
        with_steps(make_job(user))
    with django_assert_max_num_queries(4):
        r = api_client.get("/api/video/list_jobs/")

    assert len(r.json()["results"]) == 20 and all(len(job["steps"]) == 6 for job in r.json()["results"])


# --- ETag ---------------------------------------------------------------------------------------------------


def test_the_answer_has_a_weak_etag_and_is_not_stored_by_shared_caches(api_client, user):
    r = api_client.get(url(make_job(user).id))

    assert r["ETag"].startswith('W/"') and r["ETag"].endswith('"')
    assert r["Cache-Control"] == "private, no-cache"


def test_an_unchanged_job_answers_304_with_no_body(api_client, user, local):
    job = completed_job(user, local)
    first = api_client.get(url(job.id))

    again = api_client.get(url(job.id), HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


@pytest.mark.parametrize("header", ['"other", {etag}', "{etag_strong}", "*"])
def test_if_none_match_compares_weakly_and_takes_lists(api_client, user, header):
    job = make_job(user)
    etag = api_client.get(url(job.id))["ETag"]

    r = api_client.get(url(job.id), HTTP_IF_NONE_MATCH=header.format(etag=etag, etag_strong=etag[2:]))

    assert r.status_code == 304


@pytest.mark.parametrize("header", ['"nope"', 'W/"nope"', "garbage without quotes", ""])
def test_another_tag_gets_the_full_answer(api_client, user, header):
    job = make_job(user)

    r = api_client.get(url(job.id), HTTP_IF_NONE_MATCH=header)

    assert r.status_code == 200 and r.json()["id"] == str(job.id)


def change_job(job):
    VideoJob.objects.filter(pk=job.pk).update(progress=55)


def change_step(job):
    # a step's change that does not touch the job row
    JobStep.objects.filter(job=job, key="veo:c1:s2").update(state=StepState.RUNNING, attempts=1)


def change_credits(job):
    VideoJob.objects.filter(pk=job.pk).update(quote={"credits": 3})


@pytest.mark.parametrize("change", [change_job, change_step, change_credits])
def test_any_change_to_what_is_shown_changes_the_tag(api_client, user, change):
    job = with_steps(make_job(user, status=JobStatus.PROCESSING_VEO))
    before = api_client.get(url(job.id))

    change(job)
    after = api_client.get(url(job.id), HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert after.json() != before.json()


def test_a_finished_video_changes_the_tag_even_with_the_same_status(api_client, user, local):
    job = make_job(user, status=JobStatus.COMPLETED, progress=100)
    before = api_client.get(url(job.id))
    job.final_video_uri = local.upload_bytes(b"final", f"jobs/{job.id}/final.mp4", "video/mp4")
    VideoJob.objects.filter(pk=job.pk).update(final_video_uri=job.final_video_uri, updated_at=job.updated_at)

    after = api_client.get(url(job.id), HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200 and after.json()["final_video_url"]


def test_a_new_file_behind_a_link_changes_the_tag(api_client, user, local):
    job = completed_job(user, local)
    before = api_client.get(url(job.id))
    other = local.upload_bytes(b"re-rendered", f"jobs/{job.id}/final-2.mp4", "video/mp4")
    VideoJob.objects.filter(pk=job.pk).update(final_video_uri=other, updated_at=job.updated_at)  # nothing else

    after = api_client.get(url(job.id), HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200 and after["ETag"] != before["ETag"]


def test_links_are_renewed_when_half_their_lifetime_has_passed(api_client, user, local, settings, time_machine):
    settings.SIGNED_URL_TTL_SECONDS = 3600
    time_machine.move_to(timezone.now().replace(minute=0, second=1), tick=False)
    job = completed_job(user, local)
    first = api_client.get(url(job.id))

    time_machine.shift(timedelta(minutes=29))
    within = api_client.get(url(job.id), HTTP_IF_NONE_MATCH=first["ETag"])
    time_machine.shift(timedelta(minutes=2))
    renewed = api_client.get(url(job.id), HTTP_IF_NONE_MATCH=first["ETag"])

    assert within.status_code == 304
    assert renewed.status_code == 200 and renewed["ETag"] != first["ETag"]
    assert renewed.json()["final_video_url"] != first.json()["final_video_url"]


def test_a_304_never_keeps_a_link_with_less_than_half_its_lifetime(user, local, settings):
    settings.SIGNED_URL_TTL_SECONDS = 3600
    job = completed_job(user, local)
    issued_at = 1_800_000_000.0  # any moment: a body issued then has links valid until issued_at + 3600
    tag = job_reads.status_etag(job, {"id": str(job.id)}, now=issued_at)

    for later in range(0, 3600, 60):
        if job_reads.status_etag(job, {"id": str(job.id)}, now=issued_at + later) == tag:
            assert later <= 1800


def test_a_job_without_links_keeps_its_tag_over_time(user):
    job = make_job(user)
    now = time.time()

    assert job_reads.status_etag(job, {"id": 1}, now=now) == job_reads.status_etag(job, {"id": 1}, now=now + 10**7)


def test_no_tag_when_a_link_cannot_be_issued(api_client, user, local, monkeypatch):
    from video_generation import downloads

    job = completed_job(user, local)

    def broken(*args, **kwargs):
        raise RuntimeError("no credentials")

    monkeypatch.setattr(downloads, "get_storage", broken)
    r = api_client.get(url(job.id))

    assert r.status_code == 200 and r.json()["final_video_url"] is None
    assert "ETag" not in r


def test_another_users_tag_does_not_reveal_their_job(api_client, other_user):
    from rest_framework.test import APIClient

    from api_keys.services import issue_key

    job = make_job(other_user)
    bob = APIClient()
    bob.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(user=other_user, name='b').secret}")
    etag = bob.get(url(job.id))["ETag"]

    r = api_client.get(url(job.id), HTTP_IF_NONE_MATCH=etag)

    assert r.status_code == 404
