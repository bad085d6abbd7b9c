"""Row claims under real concurrency: many workers race for one step and exactly one calls the provider."""

import threading

import pytest
from django.db import connection

from video_generation.models import JobStep, StepState, VideoJob
from video_generation.pipeline import machine

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pending_step(user):
    job = VideoJob.objects.create(user=user, product_title="P", scenes_data=[], avatar_script="s", avatar_id="a",
                                  voice_id="v", image_url="https://example.com/p.png", status="processing_veo")
    return JobStep.objects.create(job=job, key="image", kind="fetch_image", provider="local")


def race(target, threads: int = 8) -> None:
    barrier = threading.Barrier(threads)

    def run():
        barrier.wait()
        try:
            target()
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_exactly_one_of_many_concurrent_claims_wins(pending_step):
    wins = []
    race(lambda: wins.append(machine.claim(pending_step)))
    assert wins.count(True) == 1
    assert JobStep.objects.get(id=pending_step.id).attempts == 1


def test_a_step_delivered_to_many_workers_at_once_runs_once(pending_step, monkeypatch):
    calls = []

    def fake_submit(step, job):
        calls.append(step.id)

    monkeypatch.setattr(machine, "submit", fake_submit)
    race(lambda: machine.run_step(pending_step.id))
    assert calls == [pending_step.id]
    assert JobStep.objects.get(id=pending_step.id).state == StepState.RUNNING  # local work: an image fetch
