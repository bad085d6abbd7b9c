"""What the pipeline records in the metrics (video_saas/metrics.py): a job's final state counted once, after its
commit, with its failure stage; its duration; each step's duration; the credits and provider cost of its plan."""

import pytest
from django.db import transaction

from video_generation.models import JobStatus, JobStep, VideoJob
from video_generation.pipeline import jobs, machine, transitions
from video_saas import metrics

from .conftest import brief

pytestmark = pytest.mark.django_db(transaction=True)


def value(name: str, **labels) -> float:
    return metrics.FAMILIES.get_sample_value(name, labels) or 0.0


def jobs_total(status: str, stage: str = "none") -> float:
    return value("video_saas_jobs_total", status=status, failure_stage=stage)


class Before:
    """Values of the process-wide families when a test starts: each test asserts what it added."""

    def __init__(self):
        self.snapshot = {(s.name, tuple(sorted(s.labels.items()))): s.value
                         for family in metrics.FAMILIES.collect() for s in family.samples}

    def added(self, name: str, **labels) -> float:
        return value(name, **labels) - self.snapshot.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_completed_job_is_counted_once_with_its_duration_and_its_steps(driver, submit_job):
    before = Before()
    job = submit_job()
    driver.run()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED

    assert before.added("video_saas_jobs_total", status="completed", failure_stage="none") == 1
    assert sum(before.added("video_saas_jobs_total", status=s, failure_stage="none") for s in ("cancelled",)) == 0
    assert before.added("video_saas_job_duration_seconds_count", aspect="9:16", scenes="2-3") == 1
    seconds = (job.completed_at - job.created_at).total_seconds()
    assert before.added("video_saas_job_duration_seconds_sum", aspect="9:16", scenes="2-3") == pytest.approx(seconds)
    assert before.added("video_saas_step_duration_seconds_count", kind="veo_extend", provider="veo") == 2
    assert before.added("video_saas_step_duration_seconds_count", kind="veo_generate", provider="veo") == 1
    assert before.added("video_saas_step_duration_seconds_count", kind="heygen_render", provider="heygen") == 1
    assert before.added("video_saas_step_duration_seconds_count", kind="compose", provider="local") == 1


def test_the_credits_captured_and_the_provider_cost_are_counted_by_plan(driver, submit_job):
    before = Before()
    job = submit_job()
    driver.run()
    job.refresh_from_db()
    assert before.added("video_saas_credits_consumed_total", plan="free") == job.credits_used == 3
    assert before.added("video_saas_provider_cost_usd_total", plan="free") == pytest.approx(float(job.cost_usd))
    assert job.cost_usd > 0


def test_a_failed_job_is_counted_with_the_kind_of_the_step_that_failed_it(driver, submit_job, fake_heygen):
    before = Before()
    fake_heygen.fail_render = True
    job = submit_job()
    driver.run()
    assert VideoJob.objects.get(id=job.id).status == JobStatus.FAILED
    assert before.added("video_saas_jobs_total", status="failed", failure_stage="heygen_render") == 1
    assert before.added("video_saas_jobs_total", status="completed", failure_stage="none") == 0
    assert before.added("video_saas_job_duration_seconds_count", aspect="9:16", scenes="2-3") == 0


def test_a_cancelled_job_is_counted_once_however_often_it_is_cancelled(driver, submit_job):
    before = Before()
    job = submit_job(brief(1))
    driver.run_until_submitted(job, "veo:c0:s0")
    for _ in range(3):
        jobs.cancel_job(VideoJob.objects.get(id=job.id))
    driver.run()
    assert before.added("video_saas_jobs_total", status="cancelled", failure_stage="none") == 1


def test_a_redelivered_final_step_does_not_count_the_job_again(driver, submit_job):
    before = Before()
    job = submit_job(brief(1))
    driver.run()
    compose = JobStep.objects.get(job=job, key="compose")
    for _ in range(2):  # the compose's message delivered again, and its success reported again
        machine.run_step(compose.id)
        machine.succeed(compose, machine.Done(output_uri=compose.output_uri))
        transitions.complete_job(job.id, final_uri=compose.output_uri, duration_seconds=8.0)
    assert before.added("video_saas_jobs_total", status="completed", failure_stage="none") == 1
    assert before.added("video_saas_step_duration_seconds_count", kind="compose", provider="local") == 1


def test_a_final_transition_that_rolls_back_is_not_counted(driver, submit_job):
    before = Before()
    job = submit_job(brief(1))
    driver.run_until_submitted(job, "veo:c0:s0")
    with pytest.raises(RuntimeError), transaction.atomic():
        assert transitions.fail_job(job.id, "boom", stage="veo_generate")
        raise RuntimeError("the transaction fails after the transition")
    assert VideoJob.objects.get(id=job.id).status != JobStatus.FAILED
    assert before.added("video_saas_jobs_total", status="failed", failure_stage="veo_generate") == 0


def test_a_job_failed_outside_any_step_counts_as_other(driver, submit_job):
    before = Before()
    job = submit_job(brief(1))
    assert transitions.fail_job(job.id, "the plan could not be built")
    assert before.added("video_saas_jobs_total", status="failed", failure_stage="other") == 1
