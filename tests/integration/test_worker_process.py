"""A job through a real Celery worker process, on PostgreSQL and Redis, against the sandbox providers.

Eager mode and in-process fakes cannot show what acks, redelivery, on-commit publishing and the row claims do
across processes; this does. Runs when DATABASE_URL (PostgreSQL) and REDIS_URL are set, as in CI.
"""

import os
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.db import connection

from devstack.briefs import headphones_brief
from devstack.stack import local_stack
from video_generation.models import JobStatus, JobStep, StepState, VideoJob
from video_generation.pipeline import jobs

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def database_url_of_test_db() -> str:
    """The test database pytest-django created, as a URL the worker process can use."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.fixture
def services_stack(tmp_path, settings):
    with local_stack(tmp_path / "stack", veo_seconds=1.0, heygen_seconds=2.0,
                     database_url=database_url_of_test_db(), redis_url=os.environ["REDIS_URL"]) as stack:
        from video_saas.celery import app

        app.control.purge()  # nothing left over from other tests reaches these workers
        settings.HEYGEN_API_VERSION = "v3"
        yield stack


@pytest.fixture
def worker_stack(services_stack):
    services_stack.start_worker("worker", concurrency=2)
    return services_stack


def wait_for(job: VideoJob, timeout: float) -> list[tuple[str, int]]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if not seen or seen[-1] != (job.status, job.progress):
            seen.append((job.status, job.progress))
        if job.is_terminal:
            return seen
        time.sleep(0.25)
    raise AssertionError(f"job still {job.status} after {timeout} s; seen {seen}")


def test_a_job_runs_to_completion_through_a_real_worker_on_postgres_and_redis(worker_stack, user):
    brief = headphones_brief(f"{worker_stack.sandbox_url}/assets/headphones.png", scenes=2)
    brief["avatar_position"] = {"scale": 0.8, "x": 0.7, "y": 0.8}
    brief["broll_fit"] = "hold"  # 15 s of scenes under ~19 s of speech: the default extend would add a padding clip
    job = jobs.create_job(user=user, data=brief)  # published on commit to the real Redis broker

    seen = wait_for(job, timeout=240)

    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert connection.vendor == "postgresql"
    assert [p for _, p in seen] == sorted(p for _, p in seen)
    assert all(step.state == StepState.SUCCEEDED for step in JobStep.objects.filter(job=job))
    ledger = httpx.get(f"{worker_stack.sandbox_url}/_sandbox/ledger", timeout=10).json()["entries"]
    assert sorted(entry["kind"] for entry in ledger) == ["heygen.v3.create", "veo.extend", "veo.generate"]
    assert len({entry["id"] for entry in ledger}) == 3
    assert job.final_video_uri.startswith("gs://sandbox-videos/")


def steps_done_by(stack, worker: str, job: VideoJob) -> set[str]:
    marker = f"job {job.id}: step "
    return {line.split(marker, 1)[1].split()[0] for line in stack.log(worker).read_text().splitlines()
            if marker in line}


def test_composes_run_on_the_media_worker_and_everything_else_on_the_orchestration_worker(services_stack, user):
    services_stack.start_worker("orchestration", concurrency=2, queues=("celery",))
    services_stack.start_worker("media", concurrency=1, beat=False, queues=("media",))
    brief = headphones_brief(f"{services_stack.sandbox_url}/assets/headphones.png", scenes=2)
    brief["avatar_position"] = {"scale": 0.8, "x": 0.7, "y": 0.8}  # what the API's serializer makes of a preset
    brief["broll_fit"] = "hold"  # no padding clip: the steps below are the two scenes'
    job = jobs.create_job(user=user, data=brief)

    wait_for(job, timeout=240)

    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert steps_done_by(services_stack, "media", job) == {"compose"}  # one chain: nothing to join
    assert steps_done_by(services_stack, "orchestration", job) == {"image", "veo:c0:s0", "veo:c0:s1",
                                                                    "heygen:render"}
