"""Due steps per queue (pipeline/due_steps.py), as KEDA scales on them and /metrics exports them: on PostgreSQL with
KEDA's very query, and on SQLite with the same query in SQLite's words."""

from datetime import timedelta

import pytest
from django.utils import timezone

from video_generation.models import JobStep, StepState, VideoJob
from video_generation.pipeline import due_steps

pytestmark = pytest.mark.django_db

S = StepState


def make_job(user, status: str = "processing_veo") -> VideoJob:
    return VideoJob.objects.create(user=user, product_title="P", scenes_data=[], avatar_script="s", avatar_id="a",
                                   voice_id="v", image_url="https://example.com/p.png", status=status)


def step(job, key, kind, state, provider="local", depends_on=(), next_check_at=None, last_enqueued_at=None):
    return JobStep.objects.create(job=job, key=key, kind=kind, provider=provider, state=state,
                                  depends_on=list(depends_on), next_check_at=next_check_at,
                                  last_enqueued_at=last_enqueued_at)


@pytest.fixture
def job_waiting_on_veo(user):
    now = timezone.now()
    job = make_job(user)
    step(job, "image", "fetch_image", S.SUCCEEDED)
    step(job, "veo:c1:s1", "veo_generate", S.SUBMITTED, "veo", ["image"], now - timedelta(seconds=40))
    step(job, "veo:c2:s1", "veo_generate", S.SUBMITTED, "veo", ["image"], now + timedelta(minutes=1))
    step(job, "heygen:render", "heygen_render", S.PENDING, "heygen", ["image"], last_enqueued_at=now)
    step(job, "join", "join_broll", S.PENDING, depends_on=["veo:c1:s1", "veo:c2:s1"])
    step(job, "compose", "compose", S.PENDING, depends_on=["join", "heygen:render"])
    return job


def test_the_orchestration_queue_counts_due_polls_and_ready_steps_only(job_waiting_on_veo):
    backlog = due_steps.backlog()
    assert backlog["celery"].due == 2  # the overdue Veo poll and the HeyGen render whose image is ready
    assert backlog["celery"].oldest_seconds == pytest.approx(40, abs=5)  # the poll, due 40 s ago


def test_media_steps_count_once_their_inputs_succeeded_and_while_they_run(job_waiting_on_veo):
    assert due_steps.backlog()["media"].due == 0
    JobStep.objects.filter(job=job_waiting_on_veo, kind="veo_generate").update(state=S.SUCCEEDED)
    assert due_steps.backlog()["media"].due == 1
    JobStep.objects.filter(job=job_waiting_on_veo, key="join").update(state=S.RUNNING)
    backlog = due_steps.backlog()["media"]
    assert backlog.due == 1 and backlog.oldest_seconds == 0  # being worked on: nothing waits


def test_steps_of_finished_jobs_never_count(user):
    job = make_job(user, status="failed")
    step(job, "image", "fetch_image", S.PENDING)
    step(job, "compose", "compose", S.RUNNING)
    assert {queue: b.due for queue, b in due_steps.backlog().items()} == {"celery": 0, "media": 0}


def test_the_media_queue_is_named_as_the_settings_name_it(settings, job_waiting_on_veo):
    settings.MEDIA_QUEUE = "ffmpeg"
    assert set(due_steps.backlog()) == {"celery", "ffmpeg"}
