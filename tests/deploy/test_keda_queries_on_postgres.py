"""The KEDA scaler queries of deploy/k8s/base/keda.yaml, run on PostgreSQL against real rows: they count the steps
that are due on each queue, and nothing that is waiting (on a dependency, on its next poll) or finished."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.deploy.kustomize import render
from tests.deploy.test_k8s_manifests import TARGETS, of_kind
from video_generation.models import JobStep, StepState, VideoJob

pytestmark = [pytest.mark.services, pytest.mark.django_db]

S = StepState


def due_count(queue_target: str) -> int:
    scaled = of_kind(render(TARGETS["base"]), "ScaledObject")[queue_target]
    with connection.cursor() as cursor:
        cursor.execute(scaled["spec"]["triggers"][0]["metadata"]["query"])
        (count,) = cursor.fetchone()
    return count


def make_job(user, status: str = "processing_veo") -> VideoJob:
    return VideoJob.objects.create(user=user, product_title="P", scenes_data=[], avatar_script="s", avatar_id="a",
                                   voice_id="v", image_url="https://example.com/p.png", status=status)


def step(job, key, kind, state, provider="local", depends_on=(), next_check_at=None) -> JobStep:
    return JobStep.objects.create(job=job, key=key, kind=kind, provider=provider, state=state,
                                  depends_on=list(depends_on), next_check_at=next_check_at)


@pytest.fixture
def job_waiting_on_veo(user):
    now = timezone.now()
    job = make_job(user)
    step(job, "image", "fetch_image", S.SUCCEEDED)
    step(job, "veo:c1:s1", "veo_generate", S.SUBMITTED, "veo", ["image"], now - timedelta(seconds=5))
    step(job, "veo:c2:s1", "veo_generate", S.SUBMITTED, "veo", ["image"], now + timedelta(minutes=1))
    step(job, "heygen_render", "heygen_render", S.PENDING, "heygen", ["image"])
    step(job, "join_broll", "join_broll", S.PENDING, depends_on=["veo:c1:s1", "veo:c2:s1"])
    step(job, "compose", "compose", S.PENDING, depends_on=["join_broll", "heygen_render"])
    return job


def test_the_worker_query_counts_due_polls_and_ready_steps_only(job_waiting_on_veo):
    assert due_count("worker") == 2  # the overdue Veo poll and the HeyGen render whose image is ready


def test_media_steps_waiting_on_their_inputs_are_not_media_work(job_waiting_on_veo):
    assert due_count("media") == 0


def test_a_media_step_counts_once_its_inputs_succeeded_and_while_it_runs(job_waiting_on_veo):
    JobStep.objects.filter(job=job_waiting_on_veo, kind="veo_generate").update(state=S.SUCCEEDED)
    assert due_count("media") == 1
    assert due_count("worker") == 1  # the HeyGen render
    JobStep.objects.filter(job=job_waiting_on_veo, key="join_broll").update(state=S.RUNNING)
    assert due_count("media") == 1


def test_a_step_waiting_for_its_retry_time_is_not_due_yet(job_waiting_on_veo):
    JobStep.objects.filter(key="heygen_render").update(next_check_at=timezone.now() + timedelta(minutes=5))
    assert due_count("worker") == 1


def test_steps_of_finished_jobs_never_count(user):
    job = make_job(user, status="failed")
    step(job, "image", "fetch_image", S.PENDING)
    step(job, "compose", "compose", S.RUNNING)
    assert due_count("worker") == 0
    assert due_count("media") == 0
