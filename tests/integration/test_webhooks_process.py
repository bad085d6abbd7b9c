"""Webhooks through a real Celery worker (with its beat) on PostgreSQL and Redis: a delivery whose bell was lost
because the broker was down when the job ended is sent by the sweeper once the worker runs, exactly once, signed.
Runs when DATABASE_URL (PostgreSQL) and REDIS_URL are set, as in CI."""

import os
import time

import pytest
from standardwebhooks.webhooks import Webhook

from devstack.stack import local_stack
from tests.integration.test_worker_process import database_url_of_test_db
from video_generation.models import JobStatus
from video_generation.pipeline import dispatch, transitions
from video_generation.tests import factories
from video_generation.tests.fake_network import Answer, RecordingServer
from webhooks import services
from webhooks.models import Delivery

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
SWEEP_SECONDS = 2


@pytest.fixture
def receiver():
    server = RecordingServer(default=Answer(200, b"ok", ()))
    yield server
    server.stop()


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"still not so after {timeout} s")


def test_a_webhook_whose_bell_was_lost_is_delivered_once_by_the_real_sweeper(tmp_path, monkeypatch, user, receiver,
                                                                            settings):
    settings.WEBHOOK_REQUIRE_HTTPS = False
    endpoint = services.endpoint_create(user=user, url=f"{receiver.url}/hook")
    job = factories.make_job(user, status=JobStatus.PROCESSING_VEO)
    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: False)  # the broker is down at the job's end
    transitions.fail_job(job.id, "boom")
    assert Delivery.objects.get().status == "pending" and receiver.requests == []

    monkeypatch.setenv("WEBHOOK_SWEEP_INTERVAL_SECONDS", str(SWEEP_SECONDS))
    with local_stack(tmp_path / "stack", database_url=database_url_of_test_db(),
                     redis_url=os.environ["REDIS_URL"]) as stack:
        from video_saas.celery import app

        app.control.purge()
        stack.start_worker("worker", concurrency=2)  # every queue, with beat: the broker is back
        wait_until(lambda: Delivery.objects.get().status == "succeeded", timeout=90)
        time.sleep(3 * SWEEP_SECONDS)  # more sweeps: nothing is due, nothing is sent again

    [request] = receiver.requests
    headers = {name: request.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert Webhook(endpoint.secret).verify(request.body, headers)["type"] == "job.failed"
    assert Delivery.objects.get().attempts.count() == 1
