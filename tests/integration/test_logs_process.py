"""Log lines of real processes: a job submitted to a gunicorn API server with an X-Request-ID runs through a real
Celery worker (on PostgreSQL and Redis, against the sandbox); every line the worker writes is one JSON object, and
every line about the job carries the request id the API answered with, LOG_FILE getting the same lines."""

import json
import os
import signal
import sys
import time

import httpx
import pytest

from api_keys.services import issue_key
from devstack.briefs import headphones_brief
from devstack.stack import local_stack
from video_generation.models import JobStatus, VideoJob

from .test_worker_process import database_url_of_test_db, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

REQUEST_ID = "it-logs-0f8fa1e2-9c3b-4d5e"


@pytest.fixture
def stack(tmp_path, settings):
    extra = {"LOG_FILE": str(tmp_path / "worker-file.log")}
    with local_stack(tmp_path / "stack", veo_seconds=1.0, heygen_seconds=2.0, database_url=database_url_of_test_db(),
                     redis_url=os.environ["REDIS_URL"]) as stack:
        from video_saas.celery import app

        app.control.purge()
        stack.env.pop("LOG_FORMAT", None)  # production's default: JSON
        stack.spawn("worker", worker_argv(stack), **extra)
        stack.start_api("api", workers=1)
        yield stack


def worker_argv(stack) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "video_saas", "worker", "--loglevel=INFO", "--concurrency=2",
            "-n", "logs@%h", "--without-gossip", "--without-mingle", "-B", "-s", str(stack.workdir / "beat")]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_every_worker_line_about_a_submitted_job_carries_the_request_id_of_the_submit(stack, user, tmp_path):
    key = issue_key(user=user, name="logs").secret
    brief = headphones_brief(f"{stack.sandbox_url}/assets/headphones.png", scenes=2)
    brief["broll_fit"] = "hold"  # no padding clip: the steps below are the two scenes'
    response = httpx.post(f"{stack.api_url}/api/video/generate/", json=brief, timeout=30,
                          headers={"Authorization": f"Bearer {key}", "X-Request-ID": REQUEST_ID})
    assert response.status_code == 202, response.text
    assert response.headers["X-Request-ID"] == REQUEST_ID
    job = VideoJob.objects.get(id=response.json()["job_id"])

    wait_for(job, timeout=240)
    time.sleep(1.0)  # the last task's own "succeeded" line

    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.error_message
    lines = json_lines(stack.log("worker").read_text())  # every line parses, or this fails
    assert all({"timestamp", "level", "logger", "event"} <= set(line) for line in lines)
    about_job = [line for line in lines if line.get("job_id") == str(job.id)]
    assert about_job and all(line.get("request_id") == REQUEST_ID for line in about_job)
    assert not [line for line in lines if line.get("request_id") == REQUEST_ID and line.get("job_id") != str(job.id)]
    succeeded = {line["step"] for line in about_job if line["event"].endswith("succeeded") and "step" in line}
    assert succeeded == {"image", "veo:c0:s0", "veo:c0:s1", "heygen:render", "compose"}
    # Celery's own line for each task of the job: the request id came with the message's headers.
    finished = [line for line in about_job if line["logger"] == "celery.app.trace"]
    assert {line["event"].split("[")[0] for line in finished} >= {
        "Task video_generation.tasks.process_video_job", "Task video_generation.tasks.run_step",
        "Task video_generation.tasks.poll_step"}
    # LOG_FILE has the same lines once the worker stopped (its processes' lines may interleave in another order than
    # on stdout; Celery prints its "Warm shutdown" notice, not a log line, to stdout only).
    # The API's process writes JSON lines too, gunicorn's own (its start, each worker's boot) included.
    api_lines = json_lines(stack.log("api").read_text())
    assert any(line["logger"] == "gunicorn.error" and line["event"].startswith("Booting worker") for line in api_lines)
    stack.kill("worker", signal.SIGTERM)
    stdout_lines = [line for line in stack.log("worker").read_text().splitlines() if line.startswith("{")]
    assert sorted((tmp_path / "worker-file.log").read_text().splitlines()) == sorted(stdout_lines)
