"""The one table of state changes and the one function that applies them: guards, timestamps and counters are the
same whichever code path asks."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from video_generation.models import JobStatus, JobStep, StepState, VideoJob
from video_generation.pipeline import jobs, states, transitions
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db
S = StepState


def make_step(job, state=S.PENDING, **fields) -> JobStep:
    return JobStep.objects.create(job=job, key=fields.pop("key", "veo:c0:s0"), kind=fields.pop("kind", "veo_generate"),
                                  provider=fields.pop("provider", "veo"), state=state, **fields)


def test_every_state_has_its_allowed_next_states_listed():
    assert set(states.STEP_TRANSITIONS) == set(S.values)
    assert set(states.JOB_TRANSITIONS) == set(JobStatus.values)
    assert states.STEP_TRANSITIONS[S.SUCCEEDED] == frozenset()
    assert states.JOB_TRANSITIONS[JobStatus.COMPLETED] == frozenset()


def test_a_transition_the_table_does_not_allow_is_a_programming_error(user):
    step = make_step(make_job(user), S.SUCCEEDED)
    with pytest.raises(states.IllegalTransition, match="succeeded -> pending"):
        states.move_step(step, S.PENDING, expect=[S.SUCCEEDED])


def test_a_claim_counts_the_attempt_starts_the_lease_and_stamps_the_first_start_only(user, settings):
    step = make_step(make_job(user))
    with time_machine.travel("2026-11-28 12:00:00Z", tick=False):
        assert states.move_step(step, S.SUBMITTING, expect=[S.PENDING])
    states.move_step(step, S.PENDING, expect=[S.SUBMITTING])
    with time_machine.travel("2026-11-28 12:05:00Z", tick=False):
        assert states.move_step(step, S.SUBMITTING, expect=[S.PENDING])
        step.refresh_from_db()
        assert step.attempts == 2
        assert step.lease_expires_at == timezone.now() + timedelta(seconds=settings.PIPELINE["LEASE_SECONDS"])
    assert step.started_at.isoformat() == "2026-11-28T12:00:00+00:00"


def test_only_the_first_of_two_racing_claims_wins(user):
    step = make_step(make_job(user))
    assert states.move_step(step, S.RUNNING, expect=[S.PENDING])
    assert not states.move_step(step, S.RUNNING, expect=[S.PENDING])


def test_a_worker_that_lost_its_attempt_cannot_change_the_step(user):
    step = make_step(make_job(user), S.SUBMITTING, attempts=1)
    JobStep.objects.filter(id=step.id).update(attempts=2)  # the step was retaken meanwhile
    assert not states.move_step(step, S.SUBMITTED, expect=[S.SUBMITTING], same_attempt=True)


@pytest.mark.parametrize("final", [S.SUCCEEDED, S.FAILED, S.CANCELLED])
def test_every_way_of_finishing_a_step_stamps_finished_at_and_drops_lease_and_next_check(user, final):
    now = timezone.now()
    step = make_step(make_job(user), S.SUBMITTED, lease_expires_at=now, next_check_at=now)
    assert states.move_step(step, final, expect=[S.SUBMITTED])
    step.refresh_from_db()
    assert step.finished_at is not None
    assert step.lease_expires_at is None and step.next_check_at is None


def test_failing_a_job_cancels_its_unstarted_steps_with_finished_at_like_every_other_cancel(user):
    job = make_job(user, status=JobStatus.PROCESSING_VEO)
    waiting = make_step(job, key="veo:c0:s1")
    transitions.fail_job(job.id, "B-roll generation failed")
    waiting.refresh_from_db()
    assert waiting.state == S.CANCELLED and waiting.finished_at is not None


def test_cancelling_a_job_stamps_completed_at_once_and_a_late_failure_changes_nothing(user):
    job = make_job(user, status=JobStatus.PROCESSING_HEYGEN)
    assert transitions.cancel_job_row(job.id)
    job.refresh_from_db()
    cancelled_at = job.completed_at
    assert job.status == JobStatus.CANCELLED and cancelled_at is not None
    assert not transitions.fail_job(job.id, "late")
    job.refresh_from_db()
    assert (job.status, job.completed_at, job.error_message) == (JobStatus.CANCELLED, cancelled_at, None)


def test_retrying_a_job_clears_completed_at(user):
    job = make_job(user, status=JobStatus.FAILED, completed_at=timezone.now(), error_message="x")
    assert jobs.retry_job(job)
    job.refresh_from_db()
    assert (job.status, job.completed_at, job.error_message) == (JobStatus.PENDING, None, None)


class TestUpdatedAt:
    def test_a_conditional_update_of_a_job_moves_updated_at(self, user):
        with time_machine.travel("2026-11-28 12:00:00Z", tick=False):
            job = make_job(user)
        with time_machine.travel("2026-11-28 12:01:00Z", tick=False):
            transitions.advance_status(job.id, JobStatus.PROCESSING_VEO)
        job.refresh_from_db()
        assert job.updated_at.isoformat() == "2026-11-28T12:01:00+00:00"
        assert job.updated_at > job.created_at

    def test_progress_moving_up_moves_updated_at(self, user):
        with time_machine.travel("2026-11-28 12:00:00Z", tick=False):
            job = make_job(user, status=JobStatus.PROCESSING_VEO)
        with time_machine.travel("2026-11-28 12:00:30Z", tick=False):
            transitions.raise_progress(job.id, 40)
        assert VideoJob.objects.get(id=job.id).updated_at.isoformat() == "2026-11-28T12:00:30+00:00"

    def test_a_step_transition_moves_the_steps_updated_at(self, user):
        with time_machine.travel("2026-11-28 12:00:00Z", tick=False):
            step = make_step(make_job(user))
        with time_machine.travel("2026-11-28 12:02:00Z", tick=False):
            states.move_step(step, S.SUBMITTING, expect=[S.PENDING])
        step.refresh_from_db()
        assert step.updated_at.isoformat() == "2026-11-28T12:02:00+00:00"


def test_no_code_but_the_states_module_writes_a_step_state_or_a_job_status():
    import ast
    from pathlib import Path

    package = Path(states.__file__).resolve().parents[1]
    writers = []
    for path in package.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts or path.name == "states.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "update":
                if {keyword.arg for keyword in node.keywords} & {"state", "status"}:
                    writers.append(f"{path.name}:{node.lineno}")
    assert writers == []
