"""The Django admin: the brief's VideoJob admin, the steps inline and the cancel/retry actions."""

from unittest import mock

import pytest
from django.contrib.messages import get_messages

from video_generation.models import JobStatus, JobStep
from video_generation.pipeline import JobRefused
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/video_generation/videojob/"


def run_action(client, action, jobs):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [str(job.id) for job in jobs]}, follow=True
    )


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_renders_the_changelist(admin_client, user):
    make_job(user, product_title="Wireless Headphones", status=JobStatus.PROCESSING_VEO)

    r = admin_client.get(CHANGELIST)

    assert r.status_code == 200
    assert b"Wireless Headphones" in r.content
    assert b"Cancel selected jobs" in r.content
    assert b"Retry failed jobs from the last good step" in r.content


def test_it_searches_and_filters(admin_client, user):
    make_job(user, product_title="Wireless Headphones", status=JobStatus.COMPLETED)

    assert admin_client.get(CHANGELIST, {"q": "Wireless"}).status_code == 200
    assert admin_client.get(CHANGELIST, {"status__exact": "completed"}).status_code == 200


def test_it_shows_a_job_with_its_steps(admin_client, user):
    job = make_job(user)
    JobStep.objects.create(job=job, key="veo:c1:s1", kind="veo_generate", provider="veo",
                           external_id="projects/p/operations/op-123")

    r = admin_client.get(f"{CHANGELIST}{job.id}/change/")

    assert r.status_code == 200
    assert b"veo:c1:s1" in r.content
    assert b"op-123" in r.content


def test_it_does_not_add_jobs_by_hand(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_it_shows_steps_read_only(admin_client, user):
    job = make_job(user)
    step = JobStep.objects.create(job=job, key="compose", kind="compose", provider="local")

    assert admin_client.get("/admin/video_generation/jobstep/").status_code == 200
    assert admin_client.get(f"/admin/video_generation/jobstep/{step.id}/change/").status_code == 200
    assert admin_client.get("/admin/video_generation/jobstep/add/").status_code == 403
    assert admin_client.post(f"/admin/video_generation/jobstep/{step.id}/delete/").status_code == 403


def test_it_cancels_selected_jobs(admin_client, user):
    running = make_job(user, status=JobStatus.PROCESSING_HEYGEN)
    pending = make_job(user, status=JobStatus.PENDING)
    done = make_job(user, status=JobStatus.COMPLETED)

    with mock.patch("video_generation.admin.cancel_job") as cancel_job:
        r = run_action(admin_client, "cancel_selected_jobs", [running, pending, done])

    assert r.status_code == 200
    assert {call.args[0].id for call in cancel_job.call_args_list} == {running.id, pending.id}
    assert "Cancelled 2 job(s); skipped 1 (already finished)." in messages_of(r)


def test_it_retries_only_failed_jobs(admin_client, user):
    failed = make_job(user, status=JobStatus.FAILED)
    running = make_job(user, status=JobStatus.PROCESSING_VEO)

    with mock.patch("video_generation.admin.retry_job") as retry_job:
        r = run_action(admin_client, "retry_failed_jobs", [failed, running])

    assert [call.args[0].id for call in retry_job.call_args_list] == [failed.id]
    assert "Retried 1 job(s); skipped 1 (not failed)." in messages_of(r)


def test_it_reports_jobs_it_could_not_retry(admin_client, user):
    failed = make_job(user, status=JobStatus.FAILED)

    with mock.patch("video_generation.admin.retry_job", side_effect=RuntimeError("boom")):
        r = run_action(admin_client, "retry_failed_jobs", [failed])

    assert any(f"job {failed.id}: could not be processed (see the logs)" in m for m in messages_of(r))


def test_it_says_why_a_retry_was_refused(admin_client, user):
    failed = make_job(user, status=JobStatus.FAILED)
    refusal = JobRefused(402, {"error": "Insufficient credits", "required": 3, "available": 0})

    with mock.patch("video_generation.admin.retry_job", side_effect=refusal):
        r = run_action(admin_client, "retry_failed_jobs", [failed])

    assert any(f"Not done: job {failed.id}: Insufficient credits" in m for m in messages_of(r))


PIPELINE_OWNED = ("status", "progress", "credits_used", "cost_usd", "scenes_data", "avatar_script", "error_message",
                  "final_video_uri", "image_url", "webhook_url", "avatar_scale")


def test_the_job_page_shows_pipeline_state_without_a_single_editable_field(admin_client, user):
    job = make_job(user, status=JobStatus.PROCESSING_VEO, progress=40)

    r = admin_client.get(f"{CHANGELIST}{job.id}/change/")

    assert r.status_code == 200
    html = r.content.decode()
    assert "processing_veo" in html or "Generating B-roll" in html
    for field in PIPELINE_OWNED:
        assert f'name="{field}"' not in html, field
    assert 'name="_save"' not in html


def test_a_hand_made_edit_of_a_job_is_refused_and_changes_nothing(admin_client, user):
    job = make_job(user, status=JobStatus.PROCESSING_VEO, progress=40)

    r = admin_client.post(f"{CHANGELIST}{job.id}/change/", {
        "user": user.id, "product_title": "Edited", "status": "completed", "progress": 100, "credits_used": 0,
        "scenes_data": "[]", "avatar_script": "x", "avatar_id": "a", "voice_id": "v",
        "image_url": "https://cdn.example.com/p.jpg", "aspect_ratio": "9:16", "heygen_mode": "v3",
        "avatar_scale": 0.8, "avatar_x": 0.7, "avatar_y": 0.8, "cost_usd": 0, "_save": "Save",
    })

    assert r.status_code == 403
    job.refresh_from_db()
    assert (job.status, job.progress, job.product_title) == (JobStatus.PROCESSING_VEO, 40, "Headphones")


def test_a_job_cannot_be_deleted_from_the_admin(admin_client, user):
    job = make_job(user, status=JobStatus.COMPLETED)
    assert admin_client.post(f"{CHANGELIST}{job.id}/delete/", {"post": "yes"}).status_code == 403
    assert JobStatus.COMPLETED == type(job).objects.get(id=job.id).status


def test_the_cancel_action_goes_through_the_state_machine(admin_client, user):
    job = make_job(user, status=JobStatus.PROCESSING_VEO)
    step = JobStep.objects.create(job=job, key="veo:c0:s1", kind="veo_extend", provider="veo")

    r = run_action(admin_client, "cancel_selected_jobs", [job])

    assert "Cancelled 1 job(s); skipped 0 (already finished)." in messages_of(r)
    job.refresh_from_db()
    step.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.completed_at is not None
    assert step.state == "cancelled" and step.finished_at is not None


def test_a_job_that_finished_before_the_action_ran_is_counted_as_skipped(admin_client, user, monkeypatch):
    job = make_job(user, status=JobStatus.PROCESSING_VEO)
    monkeypatch.setattr("video_generation.admin.cancel_job", lambda job: False)  # the UPDATE found it finished

    r = run_action(admin_client, "cancel_selected_jobs", [job])

    assert "Cancelled 0 job(s); skipped 1 (already finished)." in messages_of(r)


def test_staff_without_the_change_permission_see_jobs_but_get_no_actions(client, user, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user(username="viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_videojob"))
    client.force_login(viewer)
    job = make_job(user, status=JobStatus.PROCESSING_VEO)

    r = client.get(CHANGELIST)
    assert r.status_code == 200
    assert b"Cancel selected jobs" not in r.content
    run_action(client, "cancel_selected_jobs", [job])
    assert type(job).objects.get(id=job.id).status == JobStatus.PROCESSING_VEO


def test_the_job_page_offers_a_fresh_link_to_the_finished_video(admin_client, user, settings):
    final = settings.LOCAL_STORAGE_DIR / "jobs" / "y" / "final.mp4"
    final.parent.mkdir(parents=True)
    final.write_bytes(b"video")
    job = make_job(user, status=JobStatus.COMPLETED, final_video_uri=final.as_uri())

    html = admin_client.get(f"{CHANGELIST}{job.id}/change/").content.decode()

    assert 'href="http://testserver/media/' in html and ">download</a>" in html
