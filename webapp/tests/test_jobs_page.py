"""A job's page: the live stepper, the player and downloads, the credits from the ledger, the failure in plain words,
cancel and retry; and nobody else's job is ever shown (the 404 page)."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from billing.models import EntryKind, LedgerEntry
from video_generation import uploads
from video_generation.models import JobStatus, JobStep, StepState, VideoJob
from webapp import jobs_services

from .conftest import PASSWORD


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()

pytestmark = pytest.mark.django_db


def page(job_id) -> str:
    return f"/videos/{job_id}/"


def live(job_id, seen: str = "") -> str:
    return f"/videos/{job_id}/live/" + (f"?seen={seen}" if seen else "")


def element(html: str, element_id: str) -> str:
    """The opening tag and text of the element with this id (up to its first closing tag)."""
    found = re.search(rf'<[a-z]+[^>]*\bid="{element_id}"[^>]*>[^<]*', html)
    assert found, f"#{element_id} is not on the page"
    return found.group(0)


def text_of(html: str, element_id: str) -> str:
    return re.sub(r"\s+", " ", element(html, element_id).split(">", 1)[1]).strip()


def stepper(html: str) -> dict[str, str]:
    block = re.search(r'<ol id="stepper".*?</ol>', html, re.S).group(0)
    return dict(re.findall(r'<li [^>]*data-stage="([^"]+)" data-state="([^"]+)"', block))


def ledger_kinds(job) -> list[str]:
    return list(LedgerEntry.objects.filter(job_id=job.id).order_by("id").values_list("kind", flat=True))


def local_path(url: str) -> str:
    """The path of one of our /media/ links (the page's are relative; the download redirects absolute)."""
    path = url.removeprefix("http://testserver")
    assert path.startswith("/media/"), url
    return path


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def intruder(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("ivan", "ivan@example.com", PASSWORD))
    return client


# --- Who may see it -------------------------------------------------------------------------------------------


def test_every_job_address_needs_sign_in(member, jobs):
    job = jobs.failed(member)
    anonymous = Client()
    for method, path in [("get", page(job.id)), ("get", live(job.id)), ("post", f"/videos/{job.id}/cancel/"),
                         ("post", f"/videos/{job.id}/retry/"), ("get", f"/videos/{job.id}/download/video/"),
                         ("get", "/videos/")]:
        response = getattr(anonymous, method)(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/?next="), path
    assert VideoJob.objects.count() == 1


def test_a_signed_out_poll_reloads_the_page_instead_of_swapping_in_the_sign_in_form(member, jobs):
    job = jobs.running(member)

    response = Client().get(live(job.id), headers={"HX-Request": "true"})

    assert response.status_code == 200 and response["HX-Refresh"] == "true" and not response.content


def test_another_users_job_is_the_404_page_for_every_address_and_changes_nothing(member, jobs, intruder):
    job = jobs.failed(member)
    for method, path in [("get", page(job.id)), ("get", live(job.id)), ("post", f"/videos/{job.id}/cancel/"),
                         ("post", f"/videos/{job.id}/retry/"), ("get", f"/videos/{job.id}/download/video/")]:
        response = getattr(intruder, method)(path)
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("text/html") and "Page not found" in response.text, path
        assert "Traceback" not in response.text and job.product_title not in response.text, path
    assert VideoJob.objects.count() == 1 and VideoJob.objects.get(id=job.id).status == JobStatus.FAILED


@pytest.mark.parametrize("path", ["/videos/not-a-uuid/", "/videos/123/live/", f"/videos/{uuid.uuid4()}/",
                                  f"/videos/{uuid.uuid4()}/live/", "/videos/%27%3B--/"])
def test_a_malformed_or_missing_job_is_the_friendly_404_page(member_client, path):
    response = member_client.get(path)

    assert response.status_code == 404
    assert "Page not found" in response.text and '<main id="main"' in response.text
    assert "Traceback" not in response.text


def test_the_api_keeps_json_404s_beside_the_404_page(member_client):
    web = member_client.get("/no-such-page/")
    assert web.status_code == 404 and "Page not found" in web.text
    response = member_client.get("/api/video/no-such-endpoint/")
    assert response.status_code == 404 and response.json() == {"error": "Not found"}


# --- A running job: stepper, percentage, live updates, credits held -------------------------------------------


def test_a_running_job_shows_its_stages_its_percentage_and_the_credits_held(member, member_client, jobs):
    job = jobs.running(member)

    html = member_client.get(page(job.id)).text

    assert stepper(html) == {"image": "done", "scene-1": "working", "scene-2": "waiting", "scene-3": "waiting",
                             "presenter": "waiting", "compose": "waiting"}
    assert text_of(html, "job-status") == "Generating B-roll (Veo)"
    assert f'max="100" value="{job.progress}"' in element(html, "job-progress") and job.progress >= 5
    held = sum(LedgerEntry.objects.filter(job_id=job.id).values_list("held_delta", flat=True))
    assert held == 3 and text_of(html, "credits-held").startswith("3 credits are held")
    assert 'id="cancel-job"' in html and 'id="retry-job"' not in html and 'id="job-video"' not in html


def test_the_fragment_of_a_running_job_polls_every_two_seconds(member, member_client, jobs):
    job = jobs.running(member)

    fragment = member_client.get(live(job.id, seen=job.status)).text

    tag = element(fragment, "job-live")
    assert 'hx-trigger="every 2s"' in tag and f'hx-get="/videos/{job.id}/live/?seen={job.status}"' in tag
    assert 'id="job-announcer"' not in fragment  # nothing changed since the page showed it: nothing to announce
    assert "<html" not in fragment and 'id="job-actions"' not in fragment


def test_the_fragment_announces_a_new_status_once(member, member_client, jobs):
    job = jobs.running(member)

    fragment = member_client.get(live(job.id, seen=JobStatus.PENDING)).text

    assert '<p id="job-announcer" hx-swap-oob="innerHTML">Status: Generating B-roll (Veo).</p>' in fragment


def test_the_page_polls_the_fragment_and_announces_politely_without_reading_the_stepper(member, member_client, jobs):
    html = member_client.get(page(jobs.running(member).id)).text

    assert 'hx-trigger="every 2s"' in element(html, "job-live")
    announcer = element(html, "job-announcer")
    assert 'aria-live="polite"' in announcer and 'role="status"' in announcer
    assert "aria-live" not in element(html, "stepper") and "aria-live" not in element(html, "job-live")


@pytest.mark.parametrize("state", ["failed", "completed", "cancelled"])
def test_the_fragment_of_a_final_job_stops_polling_and_swaps_the_actions(member, member_client, jobs, state):
    job = getattr(jobs, state)(member)

    fragment = member_client.get(live(job.id, seen=JobStatus.PROCESSING_VEO)).text

    assert "hx-trigger" not in fragment and "hx-get" not in fragment
    assert 'id="job-actions" class="card" aria-labelledby="actions-title" hx-swap-oob="true"' in fragment
    assert 'id="cancel-job"' not in fragment
    assert ('id="retry-job"' in fragment) == (state == "failed")
    assert ('id="job-video"' in fragment) == (state == "completed")  # the result comes in without a reload
    assert 'id="job-announcer" hx-swap-oob="innerHTML"' in fragment


def test_broll_that_only_covers_a_longer_narration_is_a_stage_of_its_own(member, member_client, jobs):
    job = jobs.started(member, scenes=[{"visual_description": "A lamp", "camera_movement": "static", "mood": "calm",
                                        "duration": 4}])  # 4 s of scene under about 19 s of narration

    stages = list(stepper(member_client.get(page(job.id)).text))

    assert stages == ["image", "scene-1", "broll-extra", "presenter", "compose"]
    assert job.steps.filter(params__padding=True).exists()


def test_a_job_the_worker_has_not_planned_yet_shows_every_stage_waiting(member, member_client, jobs):
    job = jobs.started(member)
    JobStep.objects.filter(job=job).delete()

    assert set(stepper(member_client.get(page(job.id)).text).values()) == {"waiting"}


# --- A completed job: player, poster, captions, downloads, credits charged ------------------------------------


def test_a_completed_job_plays_on_a_fresh_media_link_that_serves_the_video(member, member_client, jobs):
    job = jobs.completed(member)

    html = member_client.get(page(job.id)).text

    video = element(html, "job-video")
    source = re.search(r'src="([^"]+)"', video).group(1)
    assert body_of(Client().get(local_path(source))) == b"the finished video"  # the link is the credential
    poster = re.search(r'poster="([^"]+)"', video).group(1)
    assert body_of(Client().get(local_path(poster))) == b"\xff\xd8poster"
    track = re.search(r'<track kind="captions" src="([^"]+)" srclang="en"', html).group(1)
    assert track == f"/videos/{job.id}/captions.vtt"  # same-origin: a cross-origin <track> is blocked without CORS
    assert set(stepper(html).values()) == {"done"} and text_of(html, "job-status") == "Completed"
    assert 'id="cancel-job"' not in html and 'id="retry-job"' not in html and "hx-trigger" not in html


def test_the_players_captions_come_from_our_own_origin_whatever_the_storage(member, member_client, jobs):
    # A <track> from another origin (the bucket's signed link, as in the stack) is refused by the browser without
    # CORS: the browser test saw the captions fail to load. The page's own route sends them.
    job = jobs.completed(member)

    captions = member_client.get(f"/videos/{job.id}/captions.vtt")

    assert captions.status_code == 200 and captions.content.startswith(b"WEBVTT")
    assert captions["Content-Type"] == "text/vtt; charset=utf-8"


def test_the_captions_track_is_not_shown_by_default_as_they_are_burned_into_the_picture(member, member_client, jobs):
    # Shown by default, the player drew the same words twice (the browser test's screenshot showed both).
    html = member_client.get(page(jobs.completed(member).id)).text

    track = re.search(r"<track[^>]*>", html).group(0)
    assert 'kind="captions"' in track and "default" not in track


def test_the_captions_route_is_the_owners_only_and_404_without_captions(member, member_client, intruder, jobs):
    with_captions, without = jobs.completed(member), jobs.completed(member, captions=False)

    assert intruder.get(f"/videos/{with_captions.id}/captions.vtt").status_code == 404
    assert member_client.get(f"/videos/{without.id}/captions.vtt").status_code == 404
    assert member_client.get(f"/videos/{uuid.uuid4()}/captions.vtt").status_code == 404
    assert member_client.post(f"/videos/{with_captions.id}/captions.vtt").status_code == 405
    assert Client().get(f"/videos/{with_captions.id}/captions.vtt").status_code == 302  # to the sign-in page


def test_a_completed_job_has_download_buttons_that_send_each_file_as_an_attachment(member, member_client, jobs):
    job = jobs.completed(member)
    html = member_client.get(page(job.id)).text

    expected = {"download-video": b"the finished video", "download-captions-srt": b"1\n00:00:00,000",
                "download-captions-vtt": b"WEBVTT", "download-poster": b"\xff\xd8poster",
                "download-preview": b"the preview"}
    for button, content in expected.items():
        href = re.search(r'href="([^"]+)"', element(html, button)).group(1)
        redirect = member_client.get(href)
        assert redirect.status_code == 302, button
        served = Client().get(local_path(redirect["Location"]))
        assert body_of(served).startswith(content), button
        assert served["Content-Disposition"].startswith("attachment;"), button


def test_the_captions_route_is_404_once_retention_deleted_the_video(member, member_client, jobs):
    job = jobs.completed(member)
    VideoJob.objects.filter(id=job.id).update(video_expired_at=timezone.now())

    assert member_client.get(f"/videos/{job.id}/captions.vtt").status_code == 404


def test_a_completed_job_without_captions_offers_no_captions(member, member_client, jobs):
    html = member_client.get(page(jobs.completed(member, captions=False).id)).text

    assert "<track" not in html and 'id="download-captions-srt"' not in html and 'id="download-video"' in html


def test_the_credits_charged_are_the_ledgers_capture(member, member_client, jobs):
    job = jobs.completed(member, seconds=15.2)  # 2 credits of video, 3 held

    html = member_client.get(page(job.id)).text

    capture = LedgerEntry.objects.get(job_id=job.id, kind=EntryKind.CAPTURE)
    assert capture.amount == -2
    assert text_of(html, "credits-charged") == "This video cost 2 credits."
    assert 'id="credits-held"' not in html and 'id="not-charged"' not in html


def test_an_expired_video_says_so_in_words_and_its_download_is_gone(member, member_client, jobs):
    from django.utils import timezone

    job = jobs.completed(member)
    VideoJob.objects.filter(id=job.id).update(video_expired_at=timezone.now())

    html = member_client.get(page(job.id)).text
    assert "This video was deleted on" in text_of(html, "video-expired")
    assert 'id="job-video"' not in html and 'id="download-video"' not in html

    gone = member_client.get(f"/videos/{job.id}/download/video/")
    assert gone.status_code == 410 and "was deleted on" in gone.text and "Location" not in gone


def test_a_download_of_a_file_the_job_does_not_have_is_a_page_not_a_crash(member, member_client, jobs):
    job = jobs.running(member)

    assert member_client.get(f"/videos/{job.id}/download/video/").status_code == 404
    assert member_client.get(f"/videos/{job.id}/download/broll/").status_code == 404  # not offered
    assert member_client.get(f"/videos/{job.id}/download/../../etc/").status_code == 404


# --- A failed job: the failure in plain words, not charged, retry --------------------------------------------


def test_a_failed_job_says_which_stage_and_provider_failed_and_that_nothing_was_charged(member, member_client,
                                                                                       jobs):
    job = jobs.failed(member)

    html = member_client.get(page(job.id)).text

    assert text_of(html, "job-failure") == ("Google Veo refused to generate scene 2 because its safety filters "
                                            "blocked the description.")
    assert "What Google Veo said: the safety filter blocked the video" in html
    assert stepper(html)["scene-2"] == "failed" and stepper(html)["image"] == "done"
    assert stepper(html)["compose"] == "stopped"
    assert text_of(html, "not-charged").startswith("You were not charged")
    assert ledger_kinds(job) == [EntryKind.HOLD, EntryKind.RELEASE]
    assert not LedgerEntry.objects.filter(job_id=job.id, kind=EntryKind.CAPTURE).exists()
    assert 'id="retry-job"' in html and 'id="cancel-job"' not in html


def test_a_cancelled_job_was_not_charged_either(member, member_client, jobs):
    job = jobs.cancelled(member)

    html = member_client.get(page(job.id)).text

    assert text_of(html, "job-status") == "Cancelled" and "You were not charged" in html
    assert ledger_kinds(job) == [EntryKind.HOLD, EntryKind.RELEASE]
    assert 'id="retry-job"' not in html and 'id="job-failure"' not in html


@pytest.mark.parametrize(("key", "code", "sentence"), [
    ("heygen:render", "render_failed", "HeyGen could not render the presenter because the render failed on its "
                                       "side."),
    ("image", "host_not_found", "We could not fetch the product image because the image address does not exist."),
    ("veo:c0:s0", "operation_13", "Google Veo could not generate scene 1 because the operation failed on its side."),
    ("compose", "something_new", "We could not put the final video together because something went wrong."),
])
def test_each_failure_is_told_in_plain_words(member, jobs, key, code, sentence):
    job = jobs.failed(member, key=key, code=code, message="it broke")

    found = jobs_services.failure(job, list(job.steps.all()))

    assert found.sentence == sentence


def test_a_failure_no_step_explains_falls_back_to_the_jobs_message(member, jobs):
    from video_generation.pipeline.transitions import fail_job

    job = jobs.started(member)
    fail_job(job.id, "the worker gave up")
    job.refresh_from_db()

    found = jobs_services.failure(job, list(job.steps.all()))

    assert (found.sentence, found.detail) == ("We could not make this video.", "the worker gave up")


# --- Cancel ------------------------------------------------------------------------------------------------------


def test_cancel_stops_a_running_job_and_releases_its_credits(member, member_client, jobs):
    job = jobs.running(member)

    response = member_client.post(f"/videos/{job.id}/cancel/", follow=True)

    assert response.redirect_chain == [(page(job.id), 302)]
    assert "The video was cancelled." in response.text
    assert VideoJob.objects.get(id=job.id).status == JobStatus.CANCELLED
    assert not JobStep.objects.filter(job=job, state=StepState.PENDING).exists()
    assert ledger_kinds(job) == [EntryKind.HOLD, EntryKind.RELEASE]


def test_cancel_by_get_is_refused(member, member_client, jobs):
    job = jobs.running(member)

    assert member_client.get(f"/videos/{job.id}/cancel/").status_code == 405
    assert VideoJob.objects.get(id=job.id).status == JobStatus.PROCESSING_VEO


def test_cancel_needs_the_csrf_token(member, jobs):
    job = jobs.running(member)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    assert client.post(f"/videos/{job.id}/cancel/").status_code == 403
    assert VideoJob.objects.get(id=job.id).status == JobStatus.PROCESSING_VEO


def test_cancelling_a_finished_job_says_so_and_changes_nothing(member, member_client, jobs):
    job = jobs.completed(member)

    response = member_client.post(f"/videos/{job.id}/cancel/", follow=True)

    assert response.status_code == 200
    assert "This video has already ended (completed): there was nothing to cancel." in response.text
    assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
    assert ledger_kinds(job) == [EntryKind.HOLD, EntryKind.RELEASE, EntryKind.CAPTURE]


# --- Retry -------------------------------------------------------------------------------------------------------


def test_retry_starts_one_new_job_with_the_same_brief_however_often_it_is_clicked(member, member_client, jobs):
    failed = jobs.failed(member)

    first = member_client.post(f"/videos/{failed.id}/retry/")
    second = member_client.post(f"/videos/{failed.id}/retry/")

    retried = VideoJob.objects.exclude(id=failed.id).get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == page(retried.id)
    assert retried.status == JobStatus.PENDING and retried.idempotency_key == f"web-retry:{failed.id}"
    assert (retried.product_title, retried.scenes_data, retried.avatar_script, retried.image_url) == \
        (failed.product_title, failed.scenes_data, failed.avatar_script, failed.image_url)
    assert (retried.avatar_x, retried.avatar_y, retried.captions) == (failed.avatar_x, failed.avatar_y,
                                                                       failed.captions)
    assert ledger_kinds(retried) == [EntryKind.HOLD]  # one hold for one new job
    assert VideoJob.objects.get(id=failed.id).status == JobStatus.FAILED


def test_retry_of_a_brief_no_longer_accepted_says_so_and_starts_nothing(member, member_client, jobs):
    failed = jobs.failed(member)
    VideoJob.objects.filter(id=failed.id).update(image_url="http://127.0.0.1/private.jpg")  # refused: not public

    response = member_client.post(f"/videos/{failed.id}/retry/", follow=True)

    assert "This video&#x27;s brief is no longer accepted" in response.text
    assert VideoJob.objects.count() == 1


def test_retry_of_a_video_made_from_an_upload_keeps_the_uploaded_image(member, member_client, jobs):
    image = uploads.store_image(member.pk, io.BytesIO(png()), len(png()))
    failed = jobs.failed(member)
    VideoJob.objects.filter(id=failed.id).update(image_url=image.uri)

    response = member_client.post(f"/videos/{failed.id}/retry/")

    retried = VideoJob.objects.exclude(id=failed.id).get()
    assert response.status_code == 302 and retried.image_url == image.uri


def test_retry_refuses_an_upload_that_is_gone_or_belongs_to_someone_else(member, member_client, jobs,
                                                                          django_user_model):
    someone = django_user_model.objects.create_user("someone", "someone@example.com", "x")
    theirs = uploads.store_image(someone.pk, io.BytesIO(png()), len(png()))
    mine = uploads.store_image(member.pk, io.BytesIO(png()), len(png()))
    uploads.delete_user_uploads(member.pk)
    for image_url, words in [(theirs.uri, "no longer accepted"), (mine.uri, "no longer stored")]:
        failed = jobs.failed(member)
        VideoJob.objects.filter(id=failed.id).update(image_url=image_url)

        response = member_client.post(f"/videos/{failed.id}/retry/", follow=True)

        assert words in response.text
        assert not VideoJob.objects.filter(idempotency_key=f"web-retry:{failed.id}").exists()


def test_retry_of_a_job_that_did_not_fail_starts_nothing(member, member_client, jobs):
    job = jobs.running(member)

    response = member_client.post(f"/videos/{job.id}/retry/", follow=True)

    assert "Only a failed video can be tried again." in response.text
    assert VideoJob.objects.count() == 1


def test_retry_by_get_is_refused(member, member_client, jobs):
    job = jobs.failed(member)

    assert member_client.get(f"/videos/{job.id}/retry/").status_code == 405
    assert VideoJob.objects.count() == 1


def test_retry_without_the_credits_says_how_many_are_needed_and_starts_nothing(member, member_client, jobs):
    failed = jobs.failed(member)
    for _ in range(5):  # five more 3-credit videos hold all of the free plan's 15 credits
        jobs.started(member)

    response = member_client.post(f"/videos/{failed.id}/retry/", follow=True)

    assert response.redirect_chain == [(page(failed.id), 302)]
    assert "You need 3 credits to try again and have 0." in response.text
    assert VideoJob.objects.count() == 6


# --- Every state of the page is accessible and loads nothing from elsewhere -------------------------------------


@pytest.mark.parametrize("state", ["started", "running", "failed", "completed", "cancelled"])
def test_the_page_in_every_state_is_labelled_ordered_and_loads_only_our_files(member, member_client, jobs, state):
    from .test_pages import URL_ATTRIBUTE

    html = member_client.get(page(getattr(jobs, state)(member).id)).text

    for url in URL_ATTRIBUTE.findall(html) + re.findall(r'<track[^>]*src="([^"]+)"', html):
        assert url.startswith(("/", "#")), url  # our own files only, same-origin
    for control in re.findall(r'<(?:input|select|progress)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html):
        assert f'<label for="{control}"' in html, control
    levels = [int(level) for level in re.findall(r"<h([1-6])", html)]
    assert levels[0] == 1 and all(after - before <= 1 for before, after in zip(levels, levels[1:], strict=False))
    for button in re.findall(r"<button[^>]*>([^<]*)</button>", html):
        assert button.strip(), "a button without words"


def test_a_poll_reads_the_same_few_queries_however_many_steps_the_job_has(member, member_client, jobs):
    def queries(job) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert member_client.get(live(job.id, seen=job.status)).status_code == 200
        return len(captured)

    short = jobs.running(member)
    long = jobs.started(member, scenes=[dict(short.scenes_data[0]) for _ in range(8)])

    assert long.steps.count() > short.steps.count()
    assert queries(long) == queries(short) <= 5  # session, user, job, its steps, its ledger sums
