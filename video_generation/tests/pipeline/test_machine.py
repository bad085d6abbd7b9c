"""The durable state machine: happy paths, crashes at every step, redelivery, faults, cancel, retry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from video_generation import catalog, tasks
from video_generation.models import JobStatus, JobStep, StepState, VideoJob
from video_generation.pipeline import jobs, machine
from video_generation.services import compose
from video_generation.services.errors import PermanentError, RateLimitedError, RetryableError
from video_generation.services.heygen_service import AvatarLook

from .conftest import brief, steps_of

pytestmark = pytest.mark.django_db(transaction=True)

STATUS_ORDER = [JobStatus.PENDING, JobStatus.PROCESSING_VEO, JobStatus.PROCESSING_HEYGEN, JobStatus.COMPOSING,
                JobStatus.COMPLETED]


def assert_only_forward(snapshots, job_id):
    seen = [(status, progress) for jid, status, progress in snapshots if jid == job_id]
    ranks = [STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER) for s, _ in seen]
    assert ranks == sorted(ranks), f"status went backwards: {[s for s, _ in seen]}"
    progresses = [p for _, p in seen]
    assert progresses == sorted(progresses), "progress went down"


def composed(media_calls) -> tuple:
    return [call for call in media_calls if call[0] == "compose"][-1]


class TestHappyPath:
    def test_it_takes_a_v3_job_from_brief_to_completed_video(self, driver, submit_job, fake_veo, fake_heygen,
                                                             fake_storage, media_calls):
        job = submit_job()
        driver.run()

        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
        assert job.progress == 100
        assert job.final_video_uri == f"gs://fake-bucket/jobs/{job.id}/final.mp4"
        assert job.final_video_url == ""  # a signed link is a credential: issued on request, never stored
        assert job.completed_at is not None and job.processing_time_seconds is not None
        assert job.credits_used == 3  # 22 s of video, one credit per started 8 s
        assert [kind for kind, _, _ in fake_veo.ledger] == ["generate", "extend", "extend"]
        assert len(fake_heygen.ledger) == 1
        assert all(s.state == StepState.SUCCEEDED for s in steps_of(job).values())
        assert job.veo_video_gcs_uri == steps_of(job)["veo:c0:s2"].output_uri
        assert ("compose", "alpha", composed(media_calls)[2], "9:16") == composed(media_calls)
        # the finished video's poster (a third of its 22 s in) and preview, stored beside it and on the job
        assert media_calls[-2:] == [("poster", 22.0 / 3), ("preview", 3.0)]
        assert job.poster_uri == f"gs://fake-bucket/jobs/{job.id}/final-poster.jpg"
        assert job.preview_uri == f"gs://fake-bucket/jobs/{job.id}/final-preview.mp4"
        assert {job.poster_uri, job.preview_uri} <= set(fake_storage.objects)

    def test_it_moves_status_and_progress_only_forward(self, driver, submit_job):
        job = submit_job()
        driver.run()
        assert_only_forward(driver.snapshots, job.id)
        statuses = {status for jid, status, _ in driver.snapshots if jid == job.id}
        assert {JobStatus.PROCESSING_VEO, JobStatus.COMPLETED} <= statuses

    def test_it_first_polls_a_render_at_its_expected_finish_even_when_that_is_minutes_away(self, driver, submit_job,
                                                                                             settings):
        job = submit_job(brief(1))
        step = driver.run_until_submitted(job, "heygen:render")
        due = [when for when, _, task_name, args in driver.queue
               if task_name == tasks.poll_step.name and args == (str(step.id),)]
        assert len(due) == 1
        expected = settings.PIPELINE["HEYGEN_EXPECTED_SECONDS"]  # 120 s here
        assert (due[0] - step.submitted_at).total_seconds() == pytest.approx(expected, abs=1)

    def test_it_renders_the_presenter_while_the_broll_renders(self, driver, submit_job, fake_veo, fake_heygen):
        job = submit_job()
        driver.run_until_submitted(job, "veo:c0:s0")
        assert len(fake_heygen.ledger) == 1
        assert len(fake_veo.ledger) == 1

    def test_it_extends_from_the_previous_scene_and_never_sends_the_image_with_a_video(self, driver, submit_job,
                                                                                        fake_veo):
        submit_job()
        driver.run()
        extends = [op for op in fake_veo.operations.values() if op.kind == "extend"]
        assert all("image" not in op.request and op.request["video"].gcs_uri for op in extends)
        first_output = next(op for op in fake_veo.operations.values() if op.kind == "generate")
        assert extends[0].request["video"].gcs_uri.startswith(first_output.request["storage_uri"])

    def test_it_gives_every_veo_attempt_its_own_storage_prefix(self, driver, submit_job, fake_veo):
        submit_job()
        driver.run()
        prefixes = [op.request["storage_uri"] for op in fake_veo.operations.values()]
        assert len(set(prefixes)) == len(prefixes)
        assert all(p.endswith("/attempt-1/") for p in prefixes)

    def test_it_splits_six_scenes_into_two_chains_rendered_in_parallel_and_joined(self, driver, submit_job,
                                                                                   fake_veo, media_calls):
        job = submit_job(brief(6))
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
        assert [kind for kind, _, _ in fake_veo.ledger].count("generate") == 2
        assert ("join", 2) in media_calls
        assert job.veo_video_gcs_uri.endswith("/broll.mp4")

    def test_it_runs_the_legacy_v2_flow_with_heygen_composing_over_the_uploaded_broll(
            self, driver, submit_job, settings, fake_heygen, media_calls):
        settings.HEYGEN_API_VERSION = "v2"
        job = submit_job()
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
        assert job.heygen_asset_id == "asset-1"
        assert fake_heygen.ledger[0][0] == "v2_generate" and fake_heygen.ledger[0][2] == "asset-1"
        assert ("normalize", "9:16") in media_calls
        assert fake_heygen.assets[0].startswith(b"video for")

    def test_it_chroma_keys_an_avatar_that_cannot_be_matted(self, driver, submit_job, fake_heygen, media_calls):
        fake_heygen.matting = False
        job = submit_job()
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert fake_heygen.ledger == [("v3_create", fake_heygen.ledger[0][1], False, "#00FF00")]
        assert composed(media_calls)[1] == "chroma"
        assert fake_heygen.refused == 1  # it asked for transparency first: the catalogue did not know the avatar

    def test_an_avatar_the_catalogue_says_cannot_be_matted_goes_straight_to_the_key_colour(
            self, driver, submit_job, fake_heygen, media_calls):
        job = submit_job()
        fake_heygen.matting = False
        fake_heygen.looks = (AvatarLook(avatar_id=job.avatar_id, name="Photo", gender="male",
                                        avatar_type="photo_avatar", default_voice_id="", preview_image_url="",
                                        preview_video_url="", transparent=False),)
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert fake_heygen.ledger == [("v3_create", fake_heygen.ledger[0][1], False, "#00FF00")]
        assert fake_heygen.refused == 0 and composed(media_calls)[1] == "chroma"

    def test_it_polls_first_near_the_expected_finish_then_at_short_intervals(self, driver, submit_job):
        job = submit_job(brief(1))
        driver.run()
        veo_step = steps_of(job)["veo:c0:s0"]
        assert veo_step.poll_count == 2  # the fake needs one "running" answer


class TestNeverPayTwice:
    def test_a_redelivered_run_message_does_not_submit_again(self, driver, submit_job, fake_veo):
        job = submit_job(brief(1))
        step = driver.run_until_submitted(job, "veo:c0:s0")
        assert step.state == StepState.SUBMITTED
        machine.run_step(step.id)
        machine.run_step(step.id)
        assert len(fake_veo.ledger) == 1

    def test_a_duplicate_poll_message_finds_nothing_due(self, driver, submit_job, fake_veo):
        job = submit_job(brief(1))
        step = driver.run_until_submitted(job, "veo:c0:s0")
        driver.advance(61)
        machine.poll_step(step.id)
        machine.poll_step(step.id)
        assert JobStep.objects.get(id=step.id).poll_count == 1

    def test_a_crash_mid_poll_resumes_through_the_sweeper(self, driver, submit_job, fake_veo):
        driver.drop.add("video_generation.tasks.poll_step")
        job = submit_job(brief(1))
        driver.run()
        assert steps_of(job)["veo:c0:s0"].state == StepState.SUBMITTED
        driver.drop.clear()
        for _ in range(10):
            driver.advance(30)
            driver.sweep()
            driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert len(fake_veo.ledger) == 1

    def test_a_crash_after_submit_before_the_id_is_saved_is_reconciled_not_resubmitted(
            self, driver, submit_job, fake_veo, monkeypatch):
        real_record = machine.record_submission
        crashed = []

        def die_once(step, outcome):
            if not crashed and outcome.external_id.startswith("projects/"):
                crashed.append(outcome.external_id)
                raise SystemExit("worker killed")  # the process dies: nothing after the provider call runs
            real_record(step, outcome)

        monkeypatch.setattr(machine, "record_submission", die_once)
        job = submit_job(brief(1))
        with pytest.raises(SystemExit):
            driver.run()
        step = steps_of(job)["veo:c0:s0"]
        assert step.state == StepState.SUBMITTING and step.external_id == ""
        fake_veo._finish(fake_veo.operations[crashed[0]])  # Veo finishes the work it was given

        driver.advance(301)  # the lease runs out
        driver.sweep()
        assert JobStep.objects.get(id=step.id).state == StepState.UNKNOWN
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
        assert len(fake_veo.ledger) == 1
        assert JobStep.objects.get(id=step.id).result.get("reconciled") is True

    def test_a_lost_veo_answer_is_adopted_from_storage_not_sent_again(self, driver, submit_job, fake_veo):
        fake_veo.lose_answer_once.add("Close-up of controls")
        job = submit_job()
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
        assert [kind for kind, _, _ in fake_veo.ledger] == ["generate", "extend", "extend"]

    def test_a_lost_veo_answer_with_no_output_after_the_window_is_sent_once_more(self, driver, submit_job,
                                                                                 fake_veo, monkeypatch):
        fake_veo.submit_errors.append(
            __import__("video_generation.services.errors", fromlist=["x"]).AmbiguousError(
                "veo did not answer in time", provider="veo"))
        job = submit_job(brief(1))
        driver.run()
        step = steps_of(job)["veo:c0:s0"]
        assert JobStep.objects.get(id=step.id).attempts == 2  # nothing ran: the resend is the only paid call
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert len(fake_veo.ledger) == 1

    def test_a_lost_heygen_v3_answer_is_resent_with_the_same_idempotency_key(self, driver, submit_job,
                                                                               fake_heygen):
        fake_heygen.lose_answer_once = True
        job = submit_job(brief(1))
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert len(fake_heygen.ledger) == 1

    def test_a_resent_heygen_submit_asks_what_the_lost_one_asked_even_if_the_catalogue_changed_meanwhile(
            self, driver, submit_job, fake_heygen, monkeypatch):
        answers = iter([None, False, False])  # not known at the first submit; "cannot be matted" by the resend
        monkeypatch.setattr(catalog, "avatar_transparency", lambda avatar_id: next(answers))
        fake_heygen.lose_answer_once = True
        job = submit_job(brief(1))
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert [(kind, transparent) for kind, _, transparent, _ in fake_heygen.ledger] == [("v3_create", True)]

    def test_a_crash_after_a_step_succeeded_is_picked_up_by_the_sweeper(self, driver, submit_job, fake_veo):
        driver.drop.add("video_generation.tasks.run_step")
        job = submit_job(brief(1))
        driver.run()
        assert JobStep.objects.filter(job=job, state=StepState.SUCCEEDED).count() == 0
        driver.drop.clear()
        for _ in range(30):
            driver.advance(31)
            driver.sweep()
            driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert len(fake_veo.ledger) == 1

    def test_a_worker_that_keeps_dying_on_a_step_stops_at_the_attempt_ceiling(self, driver, submit_job,
                                                                              monkeypatch):
        from video_generation.pipeline import handlers

        def die(step, job):
            raise SystemExit("killed")

        monkeypatch.setattr(handlers.FetchImage, "submit", die)
        job = submit_job(brief(1))
        for _ in range(10):
            try:
                driver.run()
            except SystemExit:
                pass
            driver.advance(301)
            driver.sweep()
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert "gave up after 5 attempts" in job.error_message


class TestFaults:
    def test_a_safety_block_fails_the_job_at_once_naming_stage_and_provider(self, driver, submit_job, fake_veo,
                                                                           fake_heygen):
        fake_veo.outcomes["Close-up of controls"] = "filtered"
        job = submit_job()
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert job.error_message.startswith("B-roll extension (scene 2) failed at Google Veo: the safety filter")
        assert [kind for kind, _, _ in fake_veo.ledger] == ["generate", "extend"]
        assert steps_of(job)["veo:c0:s2"].state == StepState.CANCELLED
        assert steps_of(job)["veo:c0:s1"].cost_usd == 0  # blocked videos are not billed

    def test_a_failed_presenter_render_fails_the_job_naming_heygen(self, driver, submit_job, fake_heygen):
        fake_heygen.fail_render = True
        job = submit_job(brief(1))
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert "Presenter render failed at HeyGen: avatar render failed" == job.error_message

    def test_a_rejected_request_is_not_retried(self, driver, submit_job, fake_veo):
        fake_veo.submit_errors.append(PermanentError("invalid image", provider="veo", code="INVALID_ARGUMENT",
                                                     status_code=400))
        job = submit_job(brief(1))
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert "failed at Google Veo: invalid image (HTTP 400, INVALID_ARGUMENT)" in job.error_message
        assert steps_of(job)["veo:c0:s0"].attempts == 1

    def test_a_rate_limited_submit_waits_for_retry_after_and_does_not_use_up_attempts(self, driver, submit_job,
                                                                                       fake_veo):
        fake_veo.submit_errors.extend(
            RateLimitedError("quota", provider="veo", status_code=429, retry_after=20) for _ in range(8))
        job = submit_job(brief(1))
        start = driver.traveller.time() if hasattr(driver.traveller, "time") else None
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
        step = steps_of(job)["veo:c0:s0"]
        assert step.attempts == 1
        assert step.submitted_at - step.started_at >= timedelta(seconds=8 * 20)
        del start

    def test_transient_errors_are_retried_with_backoff(self, driver, submit_job, fake_veo):
        fake_veo.submit_errors.extend([RetryableError("unavailable", provider="veo", status_code=503)] * 2)
        fake_veo.poll_errors.extend([RetryableError("unavailable", provider="veo", status_code=503)] * 3)
        job = submit_job(brief(1))
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert steps_of(job)["veo:c0:s0"].attempts == 3
        assert len(fake_veo.ledger) == 1

    def test_it_gives_up_after_the_attempt_ceiling(self, driver, submit_job, fake_veo):
        fake_veo.submit_errors.extend([RetryableError("unavailable", provider="veo", status_code=503)] * 9)
        job = submit_job(brief(1))
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert "gave up after 5 attempts" in job.error_message
        assert fake_veo.ledger == []


class TestCancelAndRetry:
    def test_cancel_makes_no_further_paid_call(self, driver, submit_job, fake_veo, fake_heygen):
        job = submit_job()
        driver.run_until_submitted(job, "veo:c0:s0")
        jobs.cancel_job(job)
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.CANCELLED
        assert [kind for kind, _, _ in fake_veo.ledger] == ["generate"]
        assert len(fake_heygen.ledger) == 1
        assert not JobStep.objects.filter(job=job, state=StepState.PENDING).exists()

    def test_a_late_result_does_not_resurrect_a_cancelled_job(self, driver, submit_job):
        job = submit_job(brief(1))
        driver.run_until_submitted(job, "veo:c0:s0")
        jobs.cancel_job(job)
        driver.advance(120)
        for step in JobStep.objects.filter(job=job, state=StepState.SUBMITTED):
            machine.poll_step(step.id)
        assert VideoJob.objects.get(id=job.id).status == JobStatus.CANCELLED

    def test_retry_resumes_a_failed_job_from_its_last_good_step(self, driver, submit_job, fake_veo):
        fake_veo.outcomes["Headphones being worn"] = "failed"
        job = submit_job()
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.FAILED
        fake_veo.outcomes.clear()
        jobs.retry_job(VideoJob.objects.get(id=job.id))
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
        assert [kind for kind, _, _ in fake_veo.ledger] == ["generate", "extend", "extend", "extend"]

    def test_retry_polls_a_render_that_was_still_running_when_the_job_failed_instead_of_paying_for_it_again(
            self, driver, submit_job, fake_veo, fake_heygen):
        fake_veo.outcomes["Wireless Headphones"] = "failed"  # the only scene fails while the presenter renders
        job = submit_job(brief(1))
        driver.run()
        render = steps_of(job)["heygen:render"]
        assert VideoJob.objects.get(id=job.id).status == JobStatus.FAILED
        assert render.state == StepState.CANCELLED and render.external_id

        fake_veo.outcomes.clear()
        assert jobs.retry_job(VideoJob.objects.get(id=job.id))
        driver.run()

        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert len(fake_heygen.ledger) == 1  # the running render was adopted, not bought twice
        assert steps_of(job)["heygen:render"].external_id == render.external_id
        assert [kind for kind, _, _ in fake_veo.ledger] == ["generate", "generate"]

    def test_retry_does_nothing_to_a_job_that_is_not_failed(self, driver, submit_job):
        job = submit_job(brief(1))
        assert not jobs.retry_job(job)
        assert VideoJob.objects.get(id=job.id).status == JobStatus.PENDING


class TestLocalWork:
    def test_local_steps_run_in_the_running_state_and_provider_calls_in_submitting(self, driver, submit_job,
                                                                                     monkeypatch):
        seen = {}
        original = machine.submit

        def watching(step, job):
            seen[step.key] = JobStep.objects.get(id=step.id).state
            original(step, job)

        monkeypatch.setattr(machine, "submit", watching)
        job = submit_job(brief(6))
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert {key: state for key, state in seen.items() if key in ("image", "join", "compose")} == {
            "image": StepState.RUNNING, "join": StepState.RUNNING, "compose": StepState.RUNNING}
        assert {state for key, state in seen.items() if key.startswith(("veo:", "heygen:"))} == {
            StepState.SUBMITTING}


class TestLegacyUpload:
    def test_a_broll_over_heygens_upload_limit_is_re_encoded_to_fit_before_it_is_sent(
            self, driver, submit_job, settings, fake_heygen, monkeypatch):
        settings.HEYGEN_API_VERSION = "v2"
        settings.HEYGEN_UPLOAD_MAX_BYTES = 10  # the fake B-roll is a few dozen bytes
        fitted = []

        def fit(video, output, *, max_bytes):
            fitted.append(max_bytes)
            output.write_bytes(b"small")

        monkeypatch.setattr("video_generation.services.compose.fit_to_size", fit)
        job = submit_job(brief(1))
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert fitted == [10]
        assert fake_heygen.assets == [b"small"]

    def test_a_broll_that_cannot_be_made_small_enough_fails_the_job_with_a_clear_message(
            self, driver, submit_job, settings, fake_heygen, monkeypatch):
        settings.HEYGEN_API_VERSION = "v2"
        settings.HEYGEN_UPLOAD_MAX_BYTES = 10

        def cannot(video, output, *, max_bytes):
            raise compose.ComposeError("a 22.0 s video cannot be made smaller than 10 bytes")

        monkeypatch.setattr("video_generation.services.compose.fit_to_size", cannot)
        job = submit_job(brief(1))
        driver.run()
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert "B-roll upload failed at HeyGen: the B-roll is too large for HeyGen's asset upload" in job.error_message
        assert fake_heygen.assets == [] and fake_heygen.ledger == []


class TestBrokerOutage:
    def test_a_job_submitted_while_the_broker_is_down_is_started_by_the_sweeper(self, driver, submit_job):
        driver.broker_down = True
        job = submit_job(brief(1))
        assert driver.queue == []
        driver.broker_down = False
        driver.advance(31)
        assert driver.sweep()["jobs_started"] == 1
        driver.run()
        for _ in range(5):
            driver.advance(31)
            driver.sweep()
            driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED


class TestSweeper:
    def test_it_leaves_healthy_work_alone(self, driver, submit_job):
        job = submit_job(brief(1))
        driver.run_until_submitted(job, "veo:c0:s0")
        counts = driver.sweep()
        assert counts == {"jobs_started": 0, "leases_expired": 0, "polls": 0, "steps": 0}

    def test_a_submit_whose_worker_died_on_an_idempotent_step_starts_over(self, driver, submit_job):
        job = submit_job(brief(1))
        driver.run(max_tasks=1)  # the job is planned; the image fetch is queued
        step = steps_of(job)["image"]
        assert machine.claim(step)
        driver.advance(301)
        driver.sweep()
        assert JobStep.objects.get(id=step.id).state == StepState.PENDING

    def test_it_fails_a_step_the_provider_never_finishes(self, driver, submit_job, fake_veo, settings):
        settings.PIPELINE = {**settings.PIPELINE, "STEP_DEADLINE_SECONDS": 600.0}
        fake_veo.polls_until_done = 10_000
        job = submit_job(brief(1))
        driver.run(max_tasks=500)
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert "did not finish in time" in job.error_message
        assert timezone.now() - job.created_at < timedelta(hours=1)


class TestLease:
    def test_a_step_keeps_its_lease_while_its_work_runs(self, user, settings):
        import time

        settings.PIPELINE = {**settings.PIPELINE, "LEASE_SECONDS": 0.6}
        job = jobs.create_job(user=user, data=brief(1))
        machine.ensure_plan(job)
        step = steps_of(job)["image"]
        assert machine.claim(step)
        step.refresh_from_db()
        first_lease = step.lease_expires_at

        with machine.lease_kept(step):
            time.sleep(1.0)  # our own slow work, standing in for a long compose

        renewed = JobStep.objects.get(id=step.id).lease_expires_at
        assert renewed > first_lease + timedelta(seconds=0.5)
        time.sleep(0.5)
        assert JobStep.objects.get(id=step.id).lease_expires_at == renewed  # no renewal after the work ended


class TestSweeperDoesNotFlood:
    def test_an_overdue_poll_is_re_published_once_per_redrive_period(self, driver, submit_job):
        driver.drop.add("video_generation.tasks.poll_step")
        submit_job(brief(1))
        driver.run()
        driver.advance(150)  # every poll is overdue (Veo expected in 60 s, HeyGen in 120 s); its messages were lost
        assert driver.sweep()["polls"] == 2  # the Veo scene and the presenter
        driver.advance(5)
        assert driver.sweep()["polls"] == 0  # their messages may still be queued: not again yet
        driver.advance(31)
        assert driver.sweep()["polls"] == 2


class TestQueues:
    @staticmethod
    def queues_by_kind(driver, job) -> dict[str, set]:
        kinds = {str(s.id): s.kind for s in JobStep.objects.filter(job=job)}
        found: dict[str, set] = {}
        for task_name, args, queue in driver.routed:
            if task_name == tasks.run_step.name:
                found.setdefault(kinds[args[0]], set()).add(queue)
        return found

    def test_joins_and_composes_run_on_the_media_queue_and_every_other_step_on_the_default_one(
            self, driver, submit_job, settings):
        job = submit_job(brief(6))
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        found = self.queues_by_kind(driver, job)
        assert found.pop("join_broll") == {settings.MEDIA_QUEUE}
        assert found.pop("compose") == {settings.MEDIA_QUEUE}
        assert set(found) == {"fetch_image", "veo_generate", "veo_extend", "heygen_render"}
        assert all(queues == {None} for queues in found.values()), found
        polls = {queue for task_name, _, queue in driver.routed if task_name == tasks.poll_step.name}
        assert polls == {None}

    def test_a_compose_whose_message_was_lost_is_re_driven_onto_the_media_queue(self, driver, submit_job, settings):
        job = submit_job(brief(1))
        driver.run(until=lambda: JobStep.objects.filter(job=job, key="compose", last_enqueued_at__isnull=False)
                   .exists())
        driver.queue.clear()  # the broker lost the compose message
        driver.routed.clear()
        driver.advance(31)
        assert driver.sweep()["steps"] == 1
        assert self.queues_by_kind(driver, job) == {"compose": {settings.MEDIA_QUEUE}}
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED

    def test_a_step_waiting_in_a_long_queue_is_re_published_at_doubling_intervals(self, driver, submit_job):
        job = submit_job(brief(1))
        driver.run(until=lambda: JobStep.objects.filter(job=job, key="compose", last_enqueued_at__isnull=False)
                   .exists())
        driver.queue.clear()  # the compose's message sits behind a backlog (or is lost): the sweeper can't tell
        compose = JobStep.objects.get(job=job, key="compose")
        re_sent_at = []
        for second in range(5, 400, 5):
            driver.advance(5)
            driver.routed.clear()
            driver.sweep()
            if any(args == (str(compose.id),) for _, args, _ in driver.routed):
                re_sent_at.append(second)
        # sweeps every 5 s: re-sent at the first sweep past REDRIVE_AFTER_SECONDS (30), then 60 s and 120 s later
        assert re_sent_at == [35, 95, 215]
        driver.run()
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED

    def test_a_step_behind_others_in_a_moving_queue_is_left_alone_until_the_queue_passes_it(
            self, driver, submit_job):
        first, second = submit_job(brief(1)), submit_job(brief(1))
        driver.run(until=lambda: JobStep.objects.filter(key="compose", last_enqueued_at__isnull=False).count() == 2)
        driver.queue.clear()
        waiting = JobStep.objects.get(job=second, key="compose")
        taken = JobStep.objects.filter(job=first, key="compose")
        queued_at = waiting.last_enqueued_at

        driver.advance(40)  # the media workers are busy with a compose queued before ours
        taken.update(last_enqueued_at=queued_at - timedelta(seconds=10), started_at=timezone.now())
        assert driver.sweep()["steps"] == 0

        driver.advance(5)  # now one queued after ours has been taken: ours was lost
        taken.update(last_enqueued_at=queued_at + timedelta(seconds=5), started_at=timezone.now())
        driver.routed.clear()
        assert driver.sweep()["steps"] == 1
        assert [args for _, args, _ in driver.routed] == [(str(waiting.id),)]


class TestRedaction:
    SIGNATURE = "5f1e0a9d3c2b7e6f4a8d0c1b2e3f4a5b6c7d8e9f"

    def test_a_failure_quoting_a_signed_url_or_a_key_fragment_reaches_neither_the_job_nor_the_logs(
            self, driver, submit_job, fake_veo, settings):
        import io
        import logging

        from video_generation.services.veo_service import VeoResult

        console = logging.getLogger("video_generation").handlers[0]  # the handler settings.LOGGING configures
        output = io.StringIO()
        previous = console.setStream(output)

        quoted = (f"cannot read https://storage.googleapis.com/b/o.mp4?X-Goog-Signature={self.SIGNATURE}"
                  f" with key {settings.SECRET_KEY[:20]}")
        fake_veo.fetch_operation = lambda name, **_: VeoResult(state="failed", error_code="3", error_message=quoted)
        job = submit_job(brief(1))
        try:
            driver.run()
        finally:
            console.setStream(previous)

        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        stored = [job.error_message, *JobStep.objects.filter(job=job).values_list("error_message", flat=True)]
        logged = output.getvalue()
        assert "failed at Google Veo: cannot read https://storage.googleapis.com/b/o.mp4" in job.error_message
        assert f"job {job.id} failed" in logged
        for text in [*stored, logged]:
            assert self.SIGNATURE not in text and settings.SECRET_KEY[:20] not in text
