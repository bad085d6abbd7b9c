"""Provider admission in the state machine: a step over Veo's quota or HeyGen's renders in flight waits its turn,
pending, with nothing sent; HeyGen v3 renders in flight are polled in bulk."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import UserProfile
from billing.plans import plan_named
from video_generation.models import JobStatus, JobStep, StepKind, StepState, VideoJob
from video_generation.pipeline import admission, jobs
from video_generation.services import limiter

from .conftest import brief

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_limiter(settings, user):
    settings.ADMISSION_REDIS_URL = ""
    limiter.reset_memory()
    UserProfile.objects.filter(user=user).update(plan=plan_named("enterprise"))  # room for many jobs at once


@pytest.fixture
def burst(user):
    def submit(count: int, scenes: int = 1) -> list[VideoJob]:
        return [jobs.create_job(user=user, data=brief(scenes)) for _ in range(count)]
    return submit


def veo_steps():
    return JobStep.objects.filter(kind__in=[StepKind.VEO_GENERATE, StepKind.VEO_EXTEND])


def most_in_any_window(times: list[float], window: float = 60.0) -> int:
    return max((sum(1 for t in times if start <= t < start + window) for start in times), default=0)


class TestVeoQuota:
    def test_a_burst_over_the_quota_meets_no_429_and_every_job_completes(self, driver, burst, fake_veo, settings):
        settings.VEO_REQUESTS_PER_MINUTE = 5
        fake_veo.requests_per_minute = 5
        made = burst(12)
        driver.run(max_tasks=5000)
        assert fake_veo.refused == 0
        assert {job.status for job in VideoJob.objects.filter(id__in=[j.id for j in made])} == {JobStatus.COMPLETED}
        sent = [t for times in fake_veo.sent_at.values() for t in times]
        assert len(sent) == 12 and most_in_any_window(sent) <= 5

    def test_without_the_limiter_the_same_burst_meets_429s(self, driver, burst, fake_veo, settings):
        settings.VEO_REQUESTS_PER_MINUTE = 0  # off: the burst would fail the test above
        fake_veo.requests_per_minute = 5
        burst(12)
        driver.run(max_tasks=5000)
        assert fake_veo.refused > 0

    def test_a_step_over_the_quota_stays_pending_says_when_it_goes_and_costs_nothing(self, driver, burst,
                                                                                     fake_veo, settings,
                                                                                     api_client):
        settings.VEO_REQUESTS_PER_MINUTE = 2
        burst(3)
        driver.run(until=lambda: veo_steps().filter(error_code=admission.WAITING_CODE).exists())
        waiting = veo_steps().get(error_code=admission.WAITING_CODE)
        assert waiting.state == StepState.PENDING and waiting.attempts == 0 and waiting.external_id == ""
        assert waiting.next_check_at > timezone.now() + timedelta(seconds=50)
        assert len(fake_veo.ledger) == 2
        status = api_client.get(f"/api/video/status/{waiting.job_id}/")
        assert status.status_code == 200 and status.json()["status"] == JobStatus.PROCESSING_VEO
        message = next(s["error_message"] for s in status.json()["steps"] if s["key"] == waiting.key)
        assert message.startswith("waiting for provider capacity (Google Veo takes 2 requests a minute for ")
        assert "next try at" in message

    def test_the_quota_is_counted_per_model(self, driver, user, fake_veo, settings):
        settings.VEO_REQUESTS_PER_MINUTE = 1
        jobs.create_job(user=user, data=brief(1, quality="standard"))
        jobs.create_job(user=user, data=brief(1, quality="fast"))
        driver.run(until=lambda: len(fake_veo.ledger) == 2, max_tasks=200)
        assert len(fake_veo.ledger) == 2
        assert not veo_steps().filter(error_code=admission.WAITING_CODE).exists()

    def test_a_step_whose_job_is_cancelled_while_it_waits_gives_nothing_and_sends_nothing(self, driver, burst,
                                                                                           fake_veo, settings):
        settings.VEO_REQUESTS_PER_MINUTE = 1
        first, second = burst(2)
        driver.run(until=lambda: veo_steps().filter(error_code=admission.WAITING_CODE).exists())
        waiting = veo_steps().get(error_code=admission.WAITING_CODE)
        jobs.cancel_job(waiting.job)
        driver.run(max_tasks=2000)
        assert len(fake_veo.ledger) == 1
        assert JobStep.objects.get(id=waiting.id).state == StepState.CANCELLED


def renders_in_flight() -> int:
    return JobStep.objects.filter(kind=StepKind.HEYGEN_RENDER,
                                  state__in=[StepState.SUBMITTED, StepState.UNKNOWN]).count()


class TestHeyGenRendersInFlight:
    def test_never_more_renders_in_flight_than_the_setting_and_every_job_completes(self, driver, burst, settings):
        settings.HEYGEN_MAX_RENDERS_IN_FLIGHT = 2
        made = burst(5)
        most = 0
        while driver.queue:
            driver.run(max_tasks=1)
            most = max(most, renders_in_flight())
        assert most == 2
        assert {job.status for job in VideoJob.objects.filter(id__in=[j.id for j in made])} == {JobStatus.COMPLETED}
        assert limiter.slot_holders(admission.HEYGEN_RENDERS) == []  # every slot given back

    def test_a_freed_slot_starts_the_render_that_waited_longest_at_once(self, driver, burst, settings):
        settings.HEYGEN_MAX_RENDERS_IN_FLIGHT = 1
        burst(2)
        driver.run(max_tasks=2000)
        first, second = JobStep.objects.filter(kind=StepKind.HEYGEN_RENDER).order_by("submitted_at")
        assert second.submitted_at >= first.finished_at
        assert (second.submitted_at - first.finished_at).total_seconds() < 1  # not at its next recheck

    def test_a_failed_render_gives_its_slot_back(self, driver, burst, settings, fake_heygen):
        settings.HEYGEN_MAX_RENDERS_IN_FLIGHT = 1
        fake_heygen.fail_render = True
        made = burst(2)
        driver.run(max_tasks=2000)
        assert {job.status for job in VideoJob.objects.filter(id__in=[j.id for j in made])} == {JobStatus.FAILED}
        assert len(fake_heygen.ledger) == 2  # the second render went once the first failed
        assert limiter.slot_holders(admission.HEYGEN_RENDERS) == []

    def test_the_slot_of_a_cancelled_render_is_reclaimed_for_the_next_one(self, driver, burst, settings,
                                                                          fake_heygen):
        settings.HEYGEN_MAX_RENDERS_IN_FLIGHT = 1
        first, second = burst(2)
        driver.run(until=lambda: renders_in_flight() == 1)
        rendering = JobStep.objects.get(kind=StepKind.HEYGEN_RENDER, state=StepState.SUBMITTED).job
        jobs.cancel_job(rendering)  # a bulk cancel: nobody releases the slot step by step
        driver.run(max_tasks=2000)
        other = second if rendering.id == first.id else first
        assert VideoJob.objects.get(id=other.id).status == JobStatus.COMPLETED

    def test_a_slot_leaked_by_a_crashed_worker_frees_itself_when_its_lease_ends(self, driver, burst, settings):
        settings.HEYGEN_MAX_RENDERS_IN_FLIGHT = 1
        settings.HEYGEN_RENDER_SLOT_LEASE_SECONDS = 300.0
        (job,) = burst(1)
        driver.run(max_tasks=1)  # planned
        alive = JobStep.objects.get(job=job, kind=StepKind.COMPOSE)  # a step that stays pending a while
        leaked_at = timezone.now()
        # A worker took the only slot under a step that still looks alive, and died without releasing it.
        limiter.take_slot(admission.HEYGEN_RENDERS, limit=1, now=leaked_at.timestamp(),
                          holder=admission.holder(alive), lease=300.0)
        driver.run(max_tasks=2000)
        render = JobStep.objects.get(job=job, kind=StepKind.HEYGEN_RENDER)
        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        assert render.submitted_at >= leaked_at + timedelta(seconds=300)

    def test_a_render_waiting_for_a_slot_says_so_in_its_status(self, driver, burst, settings):
        settings.HEYGEN_MAX_RENDERS_IN_FLIGHT = 1
        burst(2)
        driver.run(until=lambda: JobStep.objects.filter(kind=StepKind.HEYGEN_RENDER,
                                                        error_code=admission.WAITING_CODE).exists())
        waiting = JobStep.objects.get(kind=StepKind.HEYGEN_RENDER, error_code=admission.WAITING_CODE)
        assert waiting.state == StepState.PENDING and waiting.attempts == 0
        assert "waiting for provider capacity (HeyGen renders 1 videos at once)" in waiting.error_message


class TestBulkPolling:
    def test_many_renders_in_flight_are_polled_with_one_call_for_all(self, driver, burst, fake_heygen, settings):
        fake_heygen.polls_until_done = 4
        made = burst(6)
        driver.run(max_tasks=5000)
        assert {job.status for job in VideoJob.objects.filter(id__in=[j.id for j in made])} == {JobStatus.COMPLETED}
        assert fake_heygen.bulk_calls and max(len(ids) for ids in fake_heygen.bulk_calls) == 6
        assert len(fake_heygen.bulk_calls) <= 5  # rounds, where one GET per render would have made 6 a round
        renders = JobStep.objects.filter(kind=StepKind.HEYGEN_RENDER)
        # Each render is checked as often as alone, and once more when done: 4 "processing", "completed", its own
        # GET (which has the link to download it from).
        assert max(r.poll_count for r in renders) <= 6

    def test_a_render_not_yet_polled_is_first_checked_at_its_expected_finish_not_early(self, driver, burst,
                                                                                        fake_heygen, monkeypatch):
        fake_heygen.polls_until_done = 3
        (first,) = burst(1)
        driver.run_until_submitted(first, "heygen:render")
        driver.advance(3)  # the second render is due 3 s after the first: within half a poll interval
        (second,) = burst(1)
        seen_unpolled = []
        real = fake_heygen.get_video_statuses

        def watching(ids):
            renders = JobStep.objects.filter(kind=StepKind.HEYGEN_RENDER, external_id__in=ids)
            seen_unpolled.extend(r.id for r in renders if r.poll_count == 1 and r.next_check_at > timezone.now()
                                 and r.submitted_at + timedelta(seconds=120) > timezone.now())
            return real(ids)

        monkeypatch.setattr(fake_heygen, "get_video_statuses", watching)
        driver.run(max_tasks=5000)
        assert fake_heygen.bulk_calls  # they did fall into step afterwards
        assert seen_unpolled == []  # but neither was checked before its expected finish

    def test_a_single_render_is_polled_on_its_own(self, driver, burst, fake_heygen):
        burst(1)
        driver.run()
        assert fake_heygen.bulk_calls == []

    def test_a_v2_render_is_never_polled_in_bulk(self, driver, burst, fake_heygen, settings):
        settings.HEYGEN_API_VERSION = "v2"
        burst(3)
        driver.run(max_tasks=5000)
        assert fake_heygen.bulk_calls == []

    def test_a_failed_bulk_call_is_a_failed_check_for_each_render_not_the_end_of_them(self, driver, burst,
                                                                                      fake_heygen, monkeypatch):
        from video_generation.services.errors import RetryableError

        fake_heygen.polls_until_done = 3
        made = burst(3)
        real = fake_heygen.get_video_statuses
        failures = iter([True, True])

        def flaky(ids):
            if next(failures, False):
                fake_heygen.bulk_calls.append(list(ids))
                raise RetryableError("heygen is down", provider="heygen", code="internal_error", status_code=500)
            return real(ids)

        monkeypatch.setattr(fake_heygen, "get_video_statuses", flaky)
        driver.run(max_tasks=5000)
        assert {job.status for job in VideoJob.objects.filter(id__in=[j.id for j in made])} == {JobStatus.COMPLETED}


def test_the_machine_asks_before_it_claims(monkeypatch, driver, burst, fake_veo):
    """Never pay twice: a refused step is never marked submitting (so never reconciled or re-sent)."""
    seen = []

    def refuse(step, job, now=None):
        seen.append(JobStep.objects.get(id=step.id).state)
        return limiter.Verdict(False, 30.0)

    monkeypatch.setattr(admission, "admit", refuse)
    burst(1)
    driver.run(max_tasks=20)
    assert seen and set(seen) == {StepState.PENDING}
    assert fake_veo.ledger == []
    assert not JobStep.objects.filter(state=StepState.SUBMITTING).exists()
